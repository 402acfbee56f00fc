"""Output voltage under load: its mean and its sustained extremes, streamed in constant memory."""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

_MEDIAN_CELLS = 1 << 20  # np.median copies windows x window floats: 8 MiB at most, whatever the batch size


class VoltageStats:
    """Mean and sustained min/max of the output voltage while the unit is loaded.

    "Sustained" means the extreme of a rolling median over window_s seconds:
    the one transitional sample as the output collapses at the end of
    discharge does not count, a sag that lasts longer than the window does.
    Only loaded samples count (current >= min_current_a and voltage >=
    cutoff_v), so idle stretches and the collapse itself are left out. The
    window is counted in samples of the nominal period.
    """

    def __init__(self, period_us, *, min_current_a, cutoff_v, window_s=5.0):
        self.min_current_a = min_current_a
        self.cutoff_v = cutoff_v
        self.window = max(1, round(window_s * 1e6 / period_us))
        self.loaded_samples = 0
        self._sum_v = 0.0
        self._tail = np.empty(0)  # the last window-1 loaded samples: windows reaching into the next batch
        self._min_v = self._max_v = None

    def add(self, v, i):
        """Take one batch of voltages (V) and currents (A)."""
        v = np.asarray(v, dtype=np.float64)
        i = np.asarray(i, dtype=np.float64)
        loaded = v[(i >= self.min_current_a) & (v >= self.cutoff_v)]
        if loaded.size == 0:
            return
        self.loaded_samples += loaded.size
        self._sum_v += float(loaded.sum())
        run = np.concatenate((self._tail, loaded))
        per_chunk = max(1, _MEDIAN_CELLS // self.window)  # windows per np.median call
        for start in range(0, run.size - self.window + 1, per_chunk):
            windows = sliding_window_view(run[start:start + per_chunk + self.window - 1], self.window)
            medians = np.median(windows, axis=1)
            low, high = float(medians.min()), float(medians.max())
            self._min_v = low if self._min_v is None else min(self._min_v, low)
            self._max_v = high if self._max_v is None else max(self._max_v, high)
        self._tail = run[max(0, run.size - (self.window - 1)):]

    @property
    def mean_v(self) -> float | None:
        return self._sum_v / self.loaded_samples if self.loaded_samples else None

    @property
    def sustained_min_v(self) -> float | None:
        return self._min_v if self._min_v is not None else self._short_run_median()

    @property
    def sustained_max_v(self) -> float | None:
        return self._max_v if self._max_v is not None else self._short_run_median()

    def _short_run_median(self) -> float | None:
        """A loaded stretch shorter than one window: its median stands for it."""
        return float(np.median(self._tail)) if self._tail.size else None
