"""From received frames to measurements: the one path that a live run and a
re-grade from the journal both take, so they cannot disagree.

Time is the sample slot index × the configured period (protocol/SPEC.md):
unambiguous across tick wrap-arounds and lost frames. SAMPLES frames are
checked one by one but decoded, scaled and integrated as numpy arrays many
frames at a time: per-frame numpy calls would cost more than the samples (a
1 kHz log replays at millions of samples per second). Nothing is kept per
sample beyond one batch.
"""
from datetime import datetime, timezone

import numpy as np

from . import wire
from .integrate import Integrator
from .reorder import SeqOrder
from .voltage import VoltageStats

BATCH = 1 << 14  # samples gathered before they are integrated; any other message integrates them first
UNCALIBRATED = wire.BODIES["CALIBRATION"].parse(wire.BODIES["CALIBRATION"].build(
    {"v_gain": 1.0, "v_offset_v": 0.0, "i_gain": 1.0, "i_offset_a": 0.0, "date": 0}))


class Evaluation:
    def __init__(self, config, window_s=5.0, apply_calibration=True, device=None, keep_trace=False,
                 first_seq=None, on_samples=None):
        """config: the CONFIG body the host sent (period_us, load_ma, end_mv, ...);
        device: (identity, calibration) learnt by an earlier step, if this one
        does not see them; keep_trace: keep every sample, for short steps only;
        first_seq: the device's next frame number after the previous step, so
        frames lost at the very start are missed too; on_samples(t_us, v, i):
        called with each scaled batch, for readers of every sample (plots,
        exports) that must not keep a whole run."""
        self.config = config
        self.apply_calibration = apply_calibration
        period = config["period_us"]
        self.period_us = period
        self._integrator = Integrator(period)
        self._voltage = VoltageStats(period, min_current_a=config["collapse_ma"] / 1000,
                                     cutoff_v=config["end_mv"] / 1000, window_s=window_s)
        self.identity, self.calibration = device or (None, None)
        self.trace = [] if keep_trace else None
        self.on_samples = on_samples
        self.accumulators = None
        self.weight = None  # the scale's WEIGHT reply (a mass step on a rig with a scale)
        self.events = []
        self.texts = []
        self.acks = {}  # the host's command seq -> the device's result, as ACKs are applied
        self.status = None
        self.frames = 0
        self.frames_corrupt = 0
        self.samples_received = 0
        self.samples_duplicate = 0
        self.finished = False  # the run ended and the device reported its final status
        self._last = None
        self.order = SeqOrder(first_seq)  # frames applied in the device's order (reorder.py)
        self._next_index = None
        self._first_index = 0
        self._started = False  # the device acknowledged START
        self._batch = []  # (type, first index, count, data) of SAMPLES frames not yet integrated
        self._batch_samples = 0

    @property
    def started(self):
        """The device acknowledged this step's START."""
        return self._started

    @property
    def integrator(self):
        self._integrate()
        return self._integrator

    @property
    def voltage(self):
        self._integrate()
        return self._voltage

    @property
    def last(self):
        """(t_s, v, i) of the latest sample, for the live view."""
        self._integrate()
        return self._last

    def feed(self, frame):
        """One frame (without delimiter) -> the parsed message, or None if corrupt.

        A SAMPLES frame comes back as wire.parse_samples gives it, any other
        as wire.parse does."""
        try:
            payload = wire.decode_frame(frame)
            msg = wire.parse_samples(payload) or wire.parse(payload)
        except wire.FrameError:
            self.frames_corrupt += 1
            return None
        self.frames += 1
        ready = self.order.gone(msg.body.first, msg.body.count) if msg.type == "GONE" else []
        for m in ready + self.order.push(msg):  # a GONE acts at once, and fills its own place in the order
            self._apply(m)
        return msg

    def close(self):
        """The stream has ended: what still waits behind a hole is applied, the hole counted lost, and
        the last batch integrated."""
        for m in self.order.flush():
            self._apply(m)
        self._integrate()

    @property
    def frames_lost(self):
        return self.order.lost

    def _apply(self, msg):
        if msg.type in ("SAMPLES", "SAMPLES20"):
            self._on_samples(msg)
        else:
            self._integrate()  # samples before a new identity, calibration or the end are integrated as they were
            handler = getattr(self, "_on_" + str(msg.type).lower(), None)
            if handler:
                handler(msg.body)

    def _on_identity(self, body):
        self.identity = body

    def _on_calibration(self, body):
        self.calibration = body if self.apply_calibration else UNCALIBRATED

    def _on_accumulators(self, body):
        self.accumulators = body

    def _on_weight(self, body):
        self.weight = body

    def _on_samples(self, msg):
        body = msg.body
        if self.identity is None or self.calibration is None or body.count == 0:
            return
        first = body.index
        if self._next_index is None:
            self._first_index = first
        elif first < self._next_index:
            self.samples_duplicate += body.count
            return
        if self._batch and self._batch[-1][0] != msg.type:
            self._integrate()
        self._batch.append((msg.type, first, body.count, body.data))
        self._batch_samples += body.count
        self.samples_received += body.count
        self._next_index = first + body.count
        if self._batch_samples >= BATCH:
            self._integrate()

    def _integrate(self):
        """Decode, scale and integrate the gathered frames' samples as one batch."""
        if not self._batch:
            return
        kind, firsts, counts, data = zip(*self._batch)
        self._batch, self._batch_samples = [], 0
        counts = np.array(counts, dtype=np.int64)
        bus, current = wire.sample_codes(kind[0], b"".join(data))
        # each sample's slot: its frame's first index plus its place in that frame
        starts = np.cumsum(counts) - counts
        slots = np.repeat(np.array(firsts, dtype=np.int64) - starts, counts) + np.arange(bus.size)
        t_us = slots * self.period_us
        v, i = self._scaled(bus, current)
        self._integrator.add(t_us, v, i)
        self._voltage.add(v, i)
        if self.trace is not None:
            self.trace.append((t_us, v, i))
        if self.on_samples is not None:
            self.on_samples(t_us, v, i)
        self._last = (t_us[-1] / 1e6, float(v[-1]), float(i[-1]))

    def _scaled(self, bus, current):
        """Raw codes -> (volts, amperes), calibrated."""
        cal = self.calibration
        return (bus * (self.identity.bus_lsb_v * cal.v_gain) + cal.v_offset_v,
                current * (self.identity.current_lsb_a * cal.i_gain) + cal.i_offset_a)

    def _on_edge(self, body):
        """The load switching on or off (protocol 4): the integral spans the whole time it was on. The
        readings in an EDGE are integrated only, not samples (the switch-on one shows the output unloaded)."""
        if self.identity is None or self.calibration is None:
            return
        t_us = body.index * self.period_us + body.offset_us
        if body.edge == "load_on":
            self._integrator.load_on(t_us)
        else:
            self._integrator.load_off(t_us, *self._scaled(body.bus, body.current))

    def _on_event(self, body):
        self.events.append({"code": body.code, "name": wire.EVENT_CODES.get(body.code, "unknown"),
                            "index": body.index, "t_s": body.index * self.period_us / 1e6,
                            "value": body.value})

    def _on_ack(self, body):
        self.acks[body.cmd_seq] = body.result
        if body.cmd_type == "START" and body.result == 0 and not self._started:
            self._started = True
            self.status = None  # one from before the start (idle, answering a query while CONFIG was retried)
            # says nothing of the run: the runner would take it for a run the device no longer has

    def _on_status(self, body):
        """The run is over at its end EVENT, or when the device says it ended (the EVENT lost for good)."""
        self.status = body
        ended = body.state in (wire.State.ENDED, wire.State.FAULT)
        self.finished = self.end_event is not None or (self._started and ended)

    def _on_text(self, body):
        self.texts.append(body.message)

    def samples(self):
        """The kept trace as (t_s, v, i) arrays."""
        self._integrate()
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
        return next((e for e in self.events if e["code"] in wire.END_EVENTS), None)

    @property
    def samples_lost(self):
        """Slots of the run that never arrived: between samples, before the first
        (a run starts at slot 0) and after the last (the device's final status
        says how many slots it filled)."""
        ended = self.status.index if self.status and self.end_event else 0
        if self._next_index is None:
            return ended
        return self.integrator.samples_lost + self._first_index + max(ended - self._next_index, 0)

    def integrity(self):
        return {
            "frames": self.frames,
            "frames_corrupt": self.frames_corrupt,
            "frames_lost": self.frames_lost,
            "frames_duplicate": self.order.duplicates,
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



SUMMED = ("frames", "frames_corrupt", "frames_lost", "frames_duplicate", "samples_received", "samples_lost",
          "samples_duplicate", "slots_skipped_by_device")


def run_integrity(step_integrities):
    """The whole run's decoder figures from its steps' integrity(): counts summed (a sample lost in the rest
    step is lost to the run, not only one in the graded discharge), the device's own count of corrupt
    commands as it last said it (it counts from its start)."""
    total = {key: sum(step[key] or 0 for step in step_integrities) for key in SUMMED}
    told = [step["rx_errors_on_device"] for step in step_integrities if step["rx_errors_on_device"] is not None]
    return {**total, "rx_errors_on_device": told[-1] if told else None}
