"""Energy and charge delivered by the power bank, integrated batch by batch in constant memory."""
import numpy as np

_NJ_PER_WH = 3.6e12
_NC_PER_MAH = 3.6e9


class Integrator:
    """Trapezoidal energy (Wh) and charge (mAh) over a stream of (t_us, v, i) batches.

    With the load's switching edges (protocol 4's EDGE: load_on, load_off) the integral spans the whole
    time the load was on: from the switch-on to the first reading, the first reading holds (the load settles
    within milliseconds, and a reading taken at the switch-on itself averages the conversion before it: the
    output unloaded); from the last reading to the switch-off, the trapezoid to the reading the device took
    there with the load still on. Without them (a protocol 3 journal) it spans first to last sample.

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
        self._load_on_us = None  # the switch-on, until the first reading starts the integral there
        self._load_off_us = None  # the switch-off: the integral ends there
        self._slots_lost = 0
        self._covered_us = 0
        self._energy_nj = self._charge_nc = 0
        self._gap_energy_nj = self._gap_charge_nc = 0

    def load_on(self, t_us):
        """The load switched on at t_us, before any sample: the integral starts there (a switch-on after
        a sample, which no device sends, is ignored)."""
        if self._last is None:
            self._load_on_us = int(t_us)

    def load_off(self, t_us, v, i):
        """The load switched off at t_us; v, i: the reading taken there with the load still on. The integral
        ends there: nothing after it is integrated (a switch-off before the latest sample, or a second one,
        which no device sends, is ignored)."""
        if self._load_off_us is not None or self._last is not None and t_us < self._last[0]:
            return
        self._add(np.array([t_us], dtype=np.int64), np.array([v], dtype=np.float64),
                  np.array([i], dtype=np.float64), at_edge=True)
        self._load_off_us = int(t_us)

    def add(self, t_us, v, i):
        """Integrate one batch: t_us int64 unwrapped device time (µs), v volts, i amperes."""
        t = np.asarray(t_us, dtype=np.int64)
        v = np.asarray(v, dtype=np.float64)
        i = np.asarray(i, dtype=np.float64)
        if t.ndim != 1 or not t.shape == v.shape == i.shape:
            raise ValueError("t_us, v and i must be 1-D arrays of the same length")
        if t.size and self._load_off_us is None:
            self.samples += t.size
            self._add(t, v, i, at_edge=False)

    def _add(self, t, v, i, at_edge):
        """Integrate samples from the latest one (or the switch-on) through these; at_edge: the last of them
        is the switch-off. Slots in a gap next to an edge are not counted lost here: the device's slot
        numbers say that (Evaluation.samples_lost)."""
        from_edge = self._last is None and self._load_on_us is not None and self._load_on_us <= t[0]
        if from_edge:  # the first reading holds back to the switch-on
            start = (self._load_on_us, float(v[0]), float(i[0]))
            self._load_on_us = None
        else:
            start = self._last
        if start is None:
            self._first_t = int(t[0])
        else:
            self._first_t = start[0] if self._first_t is None else self._first_t
            t, v, i = (np.concatenate(([first], new)) for first, new in zip(start, (t, v, i)))
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
        between_slots = gap.copy()
        if from_edge and dt.size:
            between_slots[0] = False
        if at_edge and dt.size:
            between_slots[-1] = False
        self._slots_lost += int((np.rint(dt[between_slots] / self.period_us) - 1).sum())
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
        """Sample slots that fell into gaps between samples, judged from the nominal period."""
        return self._slots_lost

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
