"""From received frames to measurements: the one path that a live run and a
re-grade from the journal both take, so they cannot disagree.

Time is the sample slot index × the configured period (protocol/SPEC.md):
unambiguous across tick wrap-arounds and lost frames. Each batch is scaled
and integrated as numpy arrays; nothing is kept per sample.
"""
from datetime import datetime, timezone

import numpy as np

from . import wire
from .integrate import Integrator
from .voltage import VoltageStats

END_EVENTS = {1, 2, 3, 4, 16, 17, 32}
UNCALIBRATED = wire.Calibration.parse(wire.Calibration.build(
    {"v_gain": 1.0, "v_offset_v": 0.0, "i_gain": 1.0, "i_offset_a": 0.0, "date": 0}))


class Evaluation:
    def __init__(self, config, window_s=5.0, apply_calibration=True, device=None, keep_trace=False):
        """config: the CONFIG body the host sent (period_us, load_ma, end_mv, ...);
        device: (identity, calibration) learnt by an earlier step, if this one
        does not see them; keep_trace: keep every sample, for short steps only."""
        self.config = config
        self.apply_calibration = apply_calibration
        period = config["period_us"]
        self.period_us = period
        self.integrator = Integrator(period)
        self.voltage = VoltageStats(period, min_current_a=config["collapse_ma"] / 1000,
                                    cutoff_v=config["end_mv"] / 1000, window_s=window_s)
        self.identity, self.calibration = device or (None, None)
        self.trace = [] if keep_trace else None
        self.accumulators = None
        self.events = []
        self.texts = []
        self.status = None
        self.frames = 0
        self.frames_corrupt = 0
        self.frames_lost = 0
        self.samples_received = 0
        self.samples_duplicate = 0
        self.last = None  # (t_s, v, i) of the latest sample, for the live view
        self.finished = False  # the run ended and the device reported its final status
        self._seq = None
        self._next_index = None

    def feed(self, frame):
        """One frame (without delimiter) -> the parsed message, or None if corrupt."""
        try:
            msg = wire.parse(wire.decode_frame(frame))
        except wire.FrameError:
            self.frames_corrupt += 1
            return None
        self.frames += 1
        if self._seq is not None:
            self.frames_lost += (msg.seq - self._seq - 1) % 0x10000
        self._seq = msg.seq
        if msg.type in ("SAMPLES", "SAMPLES20"):
            self._on_samples(msg)
        else:
            handler = getattr(self, "_on_" + str(msg.type).lower(), None)
            if handler:
                handler(msg.body)
        return msg

    def _on_identity(self, body):
        self.identity = body
        self._seq = None  # a (re)connected device may restart its numbering

    def _on_calibration(self, body):
        self.calibration = body if self.apply_calibration else UNCALIBRATED

    def _on_accumulators(self, body):
        self.accumulators = body

    def _on_samples(self, msg):
        body = msg.body
        if self.identity is None or self.calibration is None:
            return
        first = body.index
        if self._next_index is not None and first < self._next_index:
            self.samples_duplicate += body.count
            return
        bus, current = wire.sample_codes(msg)
        t_us = (first + np.arange(body.count, dtype=np.int64)) * self.period_us
        cal = self.calibration
        v = bus * (self.identity.bus_lsb_v * cal.v_gain) + cal.v_offset_v
        i = current * (self.identity.current_lsb_a * cal.i_gain) + cal.i_offset_a
        self.integrator.add(t_us, v, i)
        self.voltage.add(v, i)
        self.samples_received += body.count
        if self.trace is not None:
            self.trace.append((t_us, v, i))
        self._next_index = first + body.count
        self.last = (t_us[-1] / 1e6, float(v[-1]), float(i[-1]))

    def _on_event(self, body):
        self.events.append({"code": body.code, "name": wire.EVENT_CODES.get(body.code, "unknown"),
                            "index": body.index, "t_s": body.index * self.period_us / 1e6,
                            "value": body.value})

    def _on_status(self, body):
        self.status = body
        self.finished = self.end_event is not None

    def _on_text(self, body):
        self.texts.append(body.message)

    def samples(self):
        """The kept trace as (t_s, v, i) arrays."""
        if not self.trace:
            return np.empty(0), np.empty(0), np.empty(0)
        t, v, i = (np.concatenate(parts) for parts in zip(*self.trace))
        return t / 1e6, v, i

    def chip_accumulators(self):
        """The INA228's own energy and charge against the host's integral.

        The chip counts raw readings from START to the end; its counts are
        scaled here by the calibration gains (offsets are left out: the
        difference they make is reported within the stated uncertainty)."""
        a, ident, cal = self.accumulators, self.identity, self.calibration
        if a is None:
            return None
        energy_wh = a.energy * 16 * 3.2 * ident.current_lsb_a * cal.v_gain * cal.i_gain / 3600
        charge_mah = a.charge * ident.current_lsb_a * cal.i_gain / 3.6
        host_wh, host_mah = self.integrator.energy_wh, self.integrator.charge_mah
        return {"energy_wh": energy_wh, "charge_mah": charge_mah,
                "host_minus_chip_energy": (host_wh - energy_wh) / energy_wh if energy_wh else None,
                "host_minus_chip_charge": (host_mah - charge_mah) / charge_mah if charge_mah else None}

    def calibration_record(self):
        cal = self.calibration
        if cal is None or cal.date == 0:
            return {"calibrated": False, "note": "never calibrated: datasheet scaling only"}
        return {"calibrated": True, "date": datetime.fromtimestamp(cal.date, timezone.utc).isoformat(),
                "v_gain": cal.v_gain, "v_offset_v": cal.v_offset_v, "i_gain": cal.i_gain,
                "i_offset_a": cal.i_offset_a}

    @property
    def end_event(self):
        return next((e for e in self.events if e["code"] in END_EVENTS), None)

    @property
    def samples_lost(self):
        """Slots between the first and the last sample received that never arrived."""
        return self.integrator.samples_lost

    def integrity(self):
        return {
            "frames": self.frames,
            "frames_corrupt": self.frames_corrupt,
            "frames_lost": self.frames_lost,
            "samples_received": self.samples_received,
            "samples_lost": self.samples_lost,
            "samples_duplicate": self.samples_duplicate,
            "slots_skipped_by_device": self.status.skipped if self.status else None,
            "rx_errors_on_device": self.status.rx_errors if self.status else None,
            "gaps": [[a / 1e6, b / 1e6] for a, b in self.integrator.gaps],
            "gap_s": self.integrator.gap_s,
            "gap_energy_estimate_wh": self.integrator.gap_energy_estimate_wh,
            "gap_charge_estimate_mah": self.integrator.gap_charge_estimate_mah,
        }
