"""Output voltage under load: its mean and its sustained extremes, streamed in constant memory."""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

BLOCK_S = 0.1  # loaded samples are averaged over blocks this long before the rolling median


class VoltageStats:
    """Mean and sustained min/max of the output voltage while the unit is loaded.

    "Sustained" means the extreme of a rolling median over window_s seconds:
    the one transitional sample as the output collapses at the end of
    discharge does not count, a sag that lasts longer than the window does.
    Only loaded samples count (current >= min_current_a and voltage >=
    cutoff_v), so idle stretches and the collapse itself are left out.

    Interruptions: stretches where the output left that loaded state and came
    back (an intermittent contact, a protection that recovered). The final
    end of discharge does not come back, so it is not one. A dropout shorter
    than a sample period can fall between samples and go unseen.

    The median runs over means of BLOCK_S blocks of loaded samples, so its
    cost does not grow with the sample rate: at 1 kHz a 5 s window would
    otherwise be a 5000-sample median for every sample.
    """

    def __init__(self, period_us, *, min_current_a, cutoff_v, window_s=5.0):
        self.min_current_a = min_current_a
        self.cutoff_v = cutoff_v
        self.block = max(1, round(BLOCK_S * 1e6 / period_us))  # samples per block
        self.window = max(1, round(window_s * 1e6 / period_us / self.block))  # blocks per window
        self.period_us = period_us
        self.loaded_samples = 0
        self.interruptions = 0
        self._longest_out = 0  # samples
        self._out_run = -1  # samples out of the loaded state since it was left; -1: never loaded yet
        self._sum_v = 0.0
        self._pending = np.empty(0)  # loaded samples not yet filling a block
        self._tail = np.empty(0)  # the last window-1 block means: windows reaching into the next batch
        self._min_v = self._max_v = None

    def add(self, v, i):
        """Take one batch of voltages (V) and currents (A)."""
        v = np.asarray(v, dtype=np.float64)
        i = np.asarray(i, dtype=np.float64)
        inside = (i >= self.min_current_a) & (v >= self.cutoff_v)
        self._count_interruptions(inside)
        loaded = v[inside]
        if loaded.size == 0:
            return
        self.loaded_samples += loaded.size
        samples = np.concatenate((self._pending, loaded))
        whole = samples.size // self.block * self.block
        self._pending = samples[whole:]
        sums = samples[:whole].reshape(-1, self.block).sum(axis=1)
        # added block by block in stream order: the mean is the same however the stream was batched
        self._sum_v = float(np.add.accumulate(np.concatenate(([self._sum_v], sums)))[-1])
        run = np.concatenate((self._tail, sums / self.block))
        if run.size >= self.window:
            medians = np.median(sliding_window_view(run, self.window), axis=1)
            low, high = float(medians.min()), float(medians.max())
            self._min_v = low if self._min_v is None else min(self._min_v, low)
            self._max_v = high if self._max_v is None else max(self._max_v, high)
        self._tail = run[max(0, run.size - (self.window - 1)):]

    def _count_interruptions(self, inside):
        loaded_at = np.flatnonzero(inside)
        if loaded_at.size == 0:
            if self._out_run >= 0:
                self._out_run += inside.size
            return
        if self._out_run < 0:  # the first loaded sample: what came before is the start, not a dropout
            self._out_run = 0
        else:
            self._out_run += loaded_at[0]
        # out-runs that end inside this batch: the one carried in, then the holes between loaded samples
        holes = np.diff(loaded_at) - 1
        runs = np.concatenate(([self._out_run], holes[holes > 0]))
        runs = runs[runs > 0]
        self.interruptions += runs.size
        self._longest_out = max(self._longest_out, int(runs.max()) if runs.size else 0)
        self._out_run = inside.size - 1 - loaded_at[-1]

    @property
    def longest_interruption_s(self) -> float:
        return self._longest_out * self.period_us / 1e6

    @property
    def mean_v(self) -> float | None:
        return (self._sum_v + float(self._pending.sum())) / self.loaded_samples if self.loaded_samples else None

    @property
    def sustained_min_v(self) -> float | None:
        return self._min_v if self._min_v is not None else self._short_run_median()

    @property
    def sustained_max_v(self) -> float | None:
        return self._max_v if self._max_v is not None else self._short_run_median()

    def _short_run_median(self) -> float | None:
        """A loaded stretch shorter than one window: its median stands for it."""
        blocks = self._tail if not self._pending.size else np.append(self._tail, self._pending.mean())
        return float(np.median(blocks)) if blocks.size else None
