"""Energy and charge delivered by the power bank, integrated batch by batch in constant memory."""
import numpy as np

_NJ_PER_WH = 3.6e12
_NC_PER_MAH = 3.6e9


class Integrator:
    """Trapezoidal energy (Wh) and charge (mAh) over a stream of (t_us, v, i) batches.

    An interval longer than gap_factor x period means samples were lost. It is
    never bridged into the totals; it is recorded, together with a linear-bridge
    estimate of what it may have held, so a report can say what the loss may
    have cost. Totals are kept as integer nanojoules and nanocoulombs: integer
    sums are exact, so the result does not depend on how the stream was cut into
    batches, and 1 nJ per interval is far below what the sensor resolves.
    """

    def __init__(self, period_us, gap_factor=1.5):
        self.period_us = period_us
        self.gap_threshold_us = gap_factor * period_us
        self.samples = 0
        self.gaps: list[tuple[int, int]] = []
        self._first_t = None
        self._last = None  # (t, v, i) of the latest sample: the next batch integrates from it
        self._covered_us = 0
        self._energy_nj = self._charge_nc = 0
        self._gap_energy_nj = self._gap_charge_nc = 0

    def add(self, t_us, v, i):
        """Integrate one batch: t_us int64 unwrapped device time (µs), v volts, i amperes."""
        t = np.asarray(t_us, dtype=np.int64)
        v = np.asarray(v, dtype=np.float64)
        i = np.asarray(i, dtype=np.float64)
        if t.ndim != 1 or not t.shape == v.shape == i.shape:
            raise ValueError("t_us, v and i must be 1-D arrays of the same length")
        if t.size == 0:
            return
        self.samples += t.size
        if self._last is None:
            self._first_t = int(t[0])
        else:
            t, v, i = (np.concatenate(([last], new)) for last, new in zip(self._last, (t, v, i)))
        self._last = (int(t[-1]), float(v[-1]), float(i[-1]))

        dt = np.diff(t)
        if (dt < 0).any():
            raise ValueError("timestamps go backwards: unwrap them before integrating")
        p = v * i
        # mean of the two ends x dt: (a + b) / 2 * dt µJ = (a + b) * dt * 500 nJ (likewise µC -> nC)
        energy_nj = np.rint((p[1:] + p[:-1]) * dt * 500).astype(np.int64)
        charge_nc = np.rint((i[1:] + i[:-1]) * dt * 500).astype(np.int64)
        gap = dt > self.gap_threshold_us
        kept = ~gap
        self._covered_us += int(dt[kept].sum())
        self._energy_nj += int(energy_nj[kept].sum())
        self._charge_nc += int(charge_nc[kept].sum())
        self._gap_energy_nj += int(energy_nj[gap].sum())
        self._gap_charge_nc += int(charge_nc[gap].sum())
        self.gaps.extend(zip(t[:-1][gap].tolist(), t[1:][gap].tolist()))

    @property
    def energy_wh(self) -> float:
        return self._energy_nj / _NJ_PER_WH

    @property
    def charge_mah(self) -> float:
        return self._charge_nc / _NC_PER_MAH

    @property
    def duration_s(self) -> float:
        """Time covered by samples, gaps excluded."""
        return self._covered_us / 1e6

    @property
    def span_s(self) -> float:
        """First to last sample, gaps included."""
        return 0.0 if self._last is None else (self._last[0] - self._first_t) / 1e6

    @property
    def gap_s(self) -> float:
        return sum(end - start for start, end in self.gaps) / 1e6

    @property
    def samples_lost(self) -> int:
        """Sample slots that fell into gaps, judged from the nominal period."""
        return sum(round((end - start) / self.period_us) - 1 for start, end in self.gaps)

    @property
    def gap_energy_estimate_wh(self) -> float:
        return self._gap_energy_nj / _NJ_PER_WH

    @property
    def gap_charge_estimate_mah(self) -> float:
        return self._gap_charge_nc / _NC_PER_MAH

    def summary(self) -> dict:
        return {
            "energy_wh": self.energy_wh,
            "charge_mah": self.charge_mah,
            "duration_s": self.duration_s,
            "span_s": self.span_s,
            "samples": self.samples,
            "samples_lost": self.samples_lost,
            "gaps": list(self.gaps),
            "gap_s": self.gap_s,
            "gap_energy_estimate_wh": self.gap_energy_estimate_wh,
            "gap_charge_estimate_mah": self.gap_charge_estimate_mah,
        }
