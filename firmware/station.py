"""The test station: samples on a fixed schedule, drives the load, ends the
discharge, and enforces the rig's limits on its own, whatever the host does.

Protocol: protocol/SPEC.md. The sampling path (`tick`, `_sample`) compares
integer register codes only and writes into buffers allocated once, so it
allocates nothing: an RP2040 has ~190 KB of heap for hours of sampling.

A rig may have several channels (a sensor and a load each, on one board):
one Station per channel, each with its own serial link, served in turn by
one loop that samples whichever channel is due first.

Usage (firmware/main.py does this on a board)::

    rig, settings_hash = wire.read_settings("rig.json")
    links = wire.links(len(rigs))  # first, while the heap is in one piece
    station.run(board_machine.boards(rigs), rigs, links, settings_hash)

Protection trip times: from just before a run's first stress (a ramp step
up, the short closing) the sensor converts at its trip rate and the station
watches for the output's cut (the ALERT pin's interrupt, or polling between
samples), and reports the time from the stress with EVENT trip
(_watch_trip and what follows it).

The host's LEAVE ends the loop: every load off, the ACK, Ctrl-C on again,
and run() returns, so the board is at its REPL for mpremote.
"""
import micropython
from micropython import const

import json

import load
import sensors
import wire

FW_VERSION = (0, 6, 0)
CALIBRATION_FILE = "calib.json"  # in the board's flash folder
UNCALIBRATED = (1.0, 0.0, 1.0, 0.0, 0)  # v_gain, v_offset_v, i_gain, i_offset_a, date

IDLE = const(0)
RUNNING = const(1)
ENDED = const(2)
FAULT = const(3)

EV_END_VOLTAGE = const(1)
EV_CURRENT_COLLAPSE = const(2)
EV_STOPPED = const(3)
EV_DURATION = const(4)
EV_SHORT_ON = const(5)
EV_SHORT_OFF = const(6)
EV_LOAD_SETTLED = const(7)
EV_TRIP = const(34)  # protocol 4 (value: _trip_value())
EV_TRIP_PEAK = const(37)  # an addition to protocol 4 (value: the highest current code read in a trip window)
EV_LIMIT_VOLTAGE = const(16)
EV_LIMIT_CURRENT = const(17)
EV_LIMIT_REVERSE = const(18)
EV_LIMIT_POWER = const(19)
EV_LIMIT_TEMPERATURE = const(20)
EV_SENSOR_FAULT = const(32)

OK = const(0)
BAD_STATE = const(1)
BAD_VALUE = const(2)
OVER_LIMIT = const(3)
UNKNOWN = const(4)
BAD_LENGTH = const(5)
NO_SWITCH = const(6)
NO_SCALE = const(7)

LOAD_ON = const(0)  # EDGE: the load switched on
LOAD_OFF = const(1)  # ... off

_IDLE_POLL_MS = const(20)
_MAX_SHORT_MS = const(2000)  # the device's own bound on a short circuit, whatever the host asks
_FAULTS = {EV_LIMIT_VOLTAGE: "output voltage over the rig's limit: load switched off",
           EV_LIMIT_CURRENT: "current over the rig's limit: load switched off",
           EV_LIMIT_REVERSE: "current flowing back into the unit: load switched off; check the wiring's polarity",
           EV_LIMIT_POWER: "load power over the rig's limit: load switched off",
           EV_LIMIT_TEMPERATURE: "temperature over the rig's limit: load switched off; let it cool",
           EV_SENSOR_FAULT: "sensor stopped answering: load switched off; check the I2C wiring"}
_BODY = {wire.HELLO: 0, wire.CONFIG: 14, wire.START: 0, wire.STOP: 0, wire.STATUS_REQ: 0, wire.CAL_SET: 20,
         wire.RAMP: 6, wire.RUN_FOR: 4, wire.SHORT: 4, wire.RESEND: 4, wire.CLEAR: 0, wire.LOAD_MODE: 5,
         wire.LEAVE: 0, wire.CHARGE: 8, wire.WEIGH: 1}
NEVER = const(-(1 << 29))  # a threshold no reading goes below: that end condition is off


_CTRL_C = const(3)
# trip timing in a run: not yet armed, the sensor's ALERT pin armed, the current polled, over for this run
_TRIP_IDLE = const(0)
_TRIP_ALERT = const(1)
_TRIP_POLL = const(2)
_TRIP_DONE = const(3)
_TRIP_US_MAX = const(0xFFFFFF)  # EVENT trip's value: the trip time in bits 0..23 ...
_TRIP_RES_MAX = const(127)  # ... its resolution in 16 us in bits 24..30


class Leave(Exception):
    """A host sent LEAVE: the board is to go back to its REPL (serve() ends)."""


def run(boards, rigs, links, settings_hash):
    """Serve the rig's channels: rigs[k] on boards[k] over links[k] (wire.links), one Station each, until a
    host sends LEAVE. settings_hash: that of the rig.json they came from (wire.read_settings)."""
    serve([Station(b, r, link, settings_hash) for b, r, link in zip(boards, rigs, links)])


def serve(stations):
    """Serve the channels until a host sends LEAVE. Their boards share one clock and one wait for input.

    LEAVE switches every channel's load off (ending its run, EVENT stopped) before the one asked
    acknowledges; then Ctrl-C interrupts again, so a REPL tool (mpremote) can take the port."""
    stations[0].board.kbd_intr(-1)  # 0x03 inside a binary frame must not interrupt the firmware
    try:
        while True:
            step(stations)
    except Leave as leave:
        for s in stations:
            s.stop()
        asked, seq = leave.args
        asked._ack(wire.LEAVE, seq, OK)
    stations[0].board.kbd_intr(_CTRL_C)


def step(stations):
    """Answer every channel's host, then wait for or take the sample of the
    running channel due first; with none running, wait for a host."""
    board = stations[0].board
    if board.any_input():  # one look at every channel's input, not one per channel: this runs twice a sample
        for s in stations:
            s.receive()
    due = None
    for s in stations:
        if s.state == RUNNING and (due is None or board.ticks_diff(s.deadline, due.deadline) < 0):
            due = s
    if due is None:
        board.idle(_IDLE_POLL_MS)
    else:
        due.tick()


class Station:
    def __init__(self, board, rig, link=None, settings_hash=bytes(8)):
        """settings_hash: IDENTITY's hash of the rig.json (wire.read_settings); all zero for a station made
        without one (tests, the bench)."""
        self.board = board
        self.rig_name = rig["rig"]["name"]
        self.settings_hash = settings_hash
        self.link = link or wire.Link(None)  # a link may be made before its board (wire.links)
        self.link.out = board.serial_out
        self.set_limits(rig["limits"])
        cfg = rig["sensor"]
        self.address = cfg["address"]
        self.shunt_ohms = cfg["shunt_ohms"]
        self.state = IDLE
        self.fault = ""
        self.sensor = None
        try:
            self.sensor = sensors.make(board.i2c, cfg)
        except (OSError, ValueError) as e:
            self._set_fault(str(e))
        self.sampled = self.sensor  # the output's; a charge's run samples the input's
        self.input_sensor = None
        self.charger = rig.get("charger")
        if self.charger and board.has_charger:
            try:
                self.input_sensor = sensors.make(board.i2c, rig["input_sensor"])
            except (OSError, ValueError) as e:
                self._set_fault("input sensor: " + str(e))
        self.charging = False
        self.load = load.Load(board, rig)
        self.batch = wire.Batch(self.sensor.SAMPLE_FORMAT if self.sensor else 1)
        self.calibration_file = board.flash + CALIBRATION_FILE
        self.calibration = _load_calibration(self.calibration_file)
        self.configured = False
        self.index = 0
        self.skipped = 0
        self.load_ma = 0
        self.deadline = 0
        self.last_bus = self.last_current = 0  # the latest reading: the load-off EDGE carries it
        self.acked = (-1, -1, 0)  # (command type, seq, result) of the last ACK
        self.trip_state = _TRIP_IDLE
        self.trip_us = -1  # us from the stress to the output's cut, once seen
        self.stress_at = self.polled_at = 0  # ticks_us of the last stress, of the last poll
        self.trip_code = 0
        self.trip_resolution_us = 0
        self.trip_peak = 0  # the highest current code read in the trip window
        # the end condition being held (_below): set here, for an attribute first set while sampling would
        # grow the instance's table there, an allocation in the sampling loop
        self.below_since = -1
        self.below_cause = self.below_value = 0

    def set_limits(self, limits):
        """The rig file's limits; they take effect at the next CONFIG."""
        self.max_mv = int(limits["max_voltage_v"] * 1000)
        self.max_ma = int(limits["max_current_a"] * 1000)
        self.max_mw = int(limits.get("max_power_w", 0) * 1000)  # 0: no power limit
        self.max_reverse_ma = int(limits.get("max_reverse_current_a", 0.1) * 1000)
        # (sensor index on the board, limit in C) for each temperature the rig watches
        self.max_temps = tuple((k, limits[name]) for k, name in enumerate(("max_load_temp_c", "max_dut_temp_c"))
                               if name in limits)

    # -- host commands --------------------------------------------------

    def receive(self):
        """Take what the host sent and act on each complete command."""
        board = self.board
        while board.input_ready():
            if self.link.feed(board.read_byte()):
                self._command()

    def _command(self):
        rx = self.link.rx
        cmd = rx[0]
        seq = rx[1] | (rx[2] << 8)
        body = _BODY.get(cmd, -1)
        if body < 0:
            return self._ack(cmd, seq, UNKNOWN)
        if self.link.rx_len != 3 + body:
            return self._ack(cmd, seq, BAD_LENGTH)
        if self.acked[0] == cmd and self.acked[1] == seq:  # a retry whose ACK was lost: answer, don't redo
            return self._ack(cmd, seq, self.acked[2])
        if cmd == wire.HELLO:
            self.acked = (-1, -1, 0)  # a new host: its numbering starts afresh
            self._identity()
            self.link.send(self.link.msg, wire.pack_calibration(self.link.msg, self.calibration))
            if self.fault:
                self._text(2, self.fault)
            self._status()
        elif cmd == wire.CONFIG:
            self._ack(cmd, seq, self._configure(rx))
        elif cmd == wire.START:
            self._ack(cmd, seq, self._start())
        elif cmd == wire.CAL_SET:
            self._ack(cmd, seq, self._calibrate(rx))
        elif cmd == wire.RAMP:
            self._ack(cmd, seq, self._ramp(rx))
        elif cmd == wire.RUN_FOR:
            self._ack(cmd, seq, self._run_for(rx))
        elif cmd == wire.SHORT:
            self._ack(cmd, seq, self._short(rx))
        elif cmd == wire.RESEND:
            first, count = wire.unpack_resend(rx)
            gone = self.link.resend(first, count)
            if gone:
                self.link.send(self.link.msg, wire.pack_gone(self.link.msg, first, gone))
        elif cmd == wire.CHARGE:
            import charge  # only a rig with a charging path uses it: its code is not on every board's heap

            self._ack(cmd, seq, charge.configure(self, rx) if self.input_sensor else NO_SWITCH)
        elif cmd == wire.LOAD_MODE:
            self._ack(cmd, seq, self._load_mode(rx))
        elif cmd == wire.WEIGH:
            self._ack(cmd, seq, self._weigh(wire.unpack_weigh(rx)))
        elif cmd == wire.CLEAR:
            self._ack(cmd, seq, self._clear())
        elif cmd == wire.STOP:
            self.stop()
            self._ack(cmd, seq, OK)
        elif cmd == wire.LEAVE:
            raise Leave(self, seq)  # serve() switches every channel off, then acknowledges
        else:
            self._status()

    def stop(self):
        """End a run (EVENT stopped), the load and the short off. Between two slots: the load-off EDGE
        carries a reading taken now, with the load still on."""
        if self.state == RUNNING:
            try:
                self.last_bus, self.last_current = self.sampled.bus_raw(), self.sampled.current_raw()
            except OSError:
                pass  # the loop's latest reading stands
            self._end(EV_STOPPED, self.index, 0, ENDED)
        self.load.off()
        self.board.short(False)
        self.board.charger(False)

    def _weigh(self, readings):
        """WEIGHT: the mean of `readings` conversions of the rig's scale ([scale]: an HX711 on a load cell),
        raw; the host takes the tare off and scales it. Not while a run samples: the conversions take
        readings / 10 s at the HX711's 10 samples/s, which would stall the samples."""
        if self.state == RUNNING:
            return BAD_STATE
        if not 1 <= readings <= 80:
            return BAD_VALUE
        pins = self.board.scale_pins()
        if pins is None:
            return NO_SCALE
        import hx711  # only a rig with a scale uses it: its code is not on every board's heap

        try:
            counts = hx711.HX711(pins[0], pins[1], self.board.sleep_us).average(readings)
        except OSError:
            return NO_SCALE
        self.link.send(self.link.msg, wire.pack_weight(self.link.msg, counts, readings))
        return OK

    def _clear(self):
        """The operator's acknowledgement of a fault: only this lets the load on again."""
        if self.state == RUNNING or self.sensor is None:
            return BAD_STATE
        self.state = IDLE if self.state == FAULT else self.state
        self.fault = ""
        return OK

    def _configure(self, rx):
        if self.state in (RUNNING, FAULT) or self.sensor is None:
            return BAD_STATE
        period_us, load_ma, end_mv, collapse_ma, hold_ms, flush_ms = wire.unpack_config(rx)
        if period_us < self.sensor.sample_period_us or period_us > 60_000_000 or flush_ms == 0:
            return BAD_VALUE
        if load_ma > self.max_ma or end_mv > self.max_mv:
            return OVER_LIMIT
        self.period = period_us
        self.load_setpoint = load_ma
        self.end_code = self._bus_code(end_mv / 1000) if end_mv else NEVER
        self.collapse_code = self._current_code(collapse_ma / 1000) if collapse_ma else NEVER
        self.ramp_slots = 0
        self.run_slots = 0
        self.mode, self.mode_value = load.CC, load_ma  # the load's target at START (LOAD_MODE changes it)
        self.short_from = self.short_until = 0
        self.charging = False
        self.below_event, self.duration_event = EV_CURRENT_COLLAPSE, EV_DURATION
        self.max_bus_code = self._bus_code(self.max_mv / 1000)
        self.max_current_code = self._current_code(self.max_ma / 1000)
        self.max_reverse_code = self._current_code(self.max_reverse_ma / 1000)
        self._power_limit()
        b = self.board
        self.temp_codes = tuple((k, b.temperature_code(k, celsius)) for k, celsius in self.max_temps)
        self.hold_slots = (hold_ms * 1000 + period_us - 1) // period_us
        self.flush_slots = min(max(flush_ms * 1000 // period_us, 1), self.batch.capacity)
        self.load.calibrate(self.sensor, self.calibration)
        self.configured = True
        return OK

    def _power_limit(self):
        """Power is compared as a product of codes, each shifted right so the
        product stays a small int (no heap) on a 32-bit port: 20-bit codes too."""
        shift = 0
        while (self.max_bus_code >> shift) * (self.max_current_code >> shift) >= 1 << 29:
            shift += 1
        self.power_shift = shift
        if not self.max_mw:
            self.max_power_code = 1 << 30  # never reached
            return
        c, s = self.calibration, self.sensor
        watts_per_code = s.bus_lsb_v * c[0] * s.current_lsb_a * c[2] * (1 << 2 * shift)
        self.max_power_code = int(self.max_mw / 1000 / watts_per_code)

    def _bus_code(self, volts):
        """Raw code at which the calibrated voltage reaches volts."""
        c = self.calibration
        return self.sensor.bus_code((volts - c[1]) / c[0])

    def _current_code(self, amps):
        c = self.calibration
        return self.sensor.current_code((amps - c[3]) / c[2])

    def _calibrate(self, rx):
        if self.state == RUNNING:
            return BAD_STATE
        cal = wire.unpack_calibration(rx)
        if not (0.8 < cal[0] < 1.25 and 0.8 < cal[2] < 1.25 and abs(cal[1]) < 1 and abs(cal[3]) < 0.5):
            return BAD_VALUE
        with open(self.calibration_file, "w") as f:
            json.dump(cal, f)
        self.calibration = cal
        self.configured = False  # limits are converted through the calibration: configure again
        return OK

    def _ramp(self, rx):
        """Raise the load by step_ma every step_ms up to max_ma during the next run:
        the device keeps the schedule, so the host knows each sample's setpoint."""
        if self.state == RUNNING or not self.configured or self.charging:
            return BAD_STATE
        step_ma, step_ms, max_ma = wire.unpack_ramp(rx)
        if max_ma > self.max_ma:
            return OVER_LIMIT
        slots = step_ms * 1000 // self.period
        if step_ma == 0 or slots == 0 or max_ma < self.load_setpoint or self.mode != load.CC:
            return BAD_VALUE
        self.ramp_step, self.ramp_slots, self.ramp_max = step_ma, slots, max_ma
        return OK

    def _load_mode(self, rx):
        """Hold constant power (mW) or resistance (mOhm) in the next run instead
        of CONFIG's current; the load checks the value (BAD_VALUE if it cannot)."""
        if self.state == RUNNING or not self.configured:
            return BAD_STATE
        mode, value = wire.unpack_load_mode(rx)
        if self.ramp_slots and mode != load.CC:
            return BAD_VALUE  # a ramp steps the current
        if mode == load.CC:
            value = self.load_setpoint  # CONFIG's current
        try:
            self.load.set_target(mode, value)
        except ValueError:
            return BAD_VALUE
        self.mode, self.mode_value = mode, value
        return OK

    def _run_for(self, rx):
        """End the next run after this many sample slots: a step of fixed length
        ends on the device's clock, not when the host gets round to it."""
        if self.state == RUNNING or not self.configured:
            return BAD_STATE
        self.run_slots = wire.unpack_run_for(rx)
        return OK

    def _short(self, rx):
        """Close the rig's short-circuit switch from start_ms into the next run for
        ms. The device bounds its length and suspends only its current limit
        meanwhile: that over-current is the test; the voltage limit stays."""
        if self.state == RUNNING or not self.configured or self.charging:
            return BAD_STATE
        if not self.board.has_short:
            return NO_SWITCH
        start_ms, ms = wire.unpack_short(rx)
        if ms == 0 or ms > _MAX_SHORT_MS:
            return BAD_VALUE
        p = self.period
        self.short_from = max(1, start_ms * 1000 // p)
        self.short_until = self.short_from + max(1, (ms * 1000 + p - 1) // p)
        return OK

    def _start(self):
        if not self.configured or self.state not in (IDLE, ENDED):
            return BAD_STATE
        b = self.board
        self.index = 0
        self.skipped = 0
        self.below_since = -1
        self.batch.count = 0
        self.trip_state = _TRIP_IDLE
        self.trip_us = -1
        self.sampled = self.input_sensor if self.charging else self.sensor
        if hasattr(self.sampled, "reset_accumulators"):
            self.sampled.reset_accumulators()
        try:  # what the switch finds, read before it closes (EDGE load_on): the output, or charging the input
            bus, cur = self.sampled.bus_raw(), self.sampled.current_raw()
        except OSError:
            self._set_fault(_FAULTS[EV_SENSOR_FAULT])
            return BAD_STATE
        self.load_ma = 0 if self.charging else self.load_setpoint
        if self.charging:
            self.load.off()  # the interlock: never the load and the charger at once
            b.charger(True)
        else:
            self.load.set_target(self.mode, self.mode_value)
            self.load.start()
        on = b.ticks_us()
        self.deadline = b.ticks_add(on, self.period)
        self.state = RUNNING
        self._edge(LOAD_ON, on, bus, cur)
        return OK

    # -- sampling -------------------------------------------------------

    def tick(self):
        """Wait for the next sample's slot, or take it."""
        b = self.board
        wait = b.ticks_diff(self.deadline, b.ticks_us())
        if wait > 0:
            if (self.trip_state == _TRIP_POLL or self.trip_state == _TRIP_ALERT) and self.trip_us < 0:
                self._poll_trip(wait)
            else:
                b.sleep_us(wait)
            return
        late = -wait // self.period
        if late:  # missed whole slots: they become a gap the host can see
            self._flush()
            self.index += late
            self.skipped += late
            self.deadline = b.ticks_add(self.deadline, late * self.period)
        self._sample()
        if self.trip_us >= 0:
            self._unwatch_trip()

    @micropython.native  # its state would need a heap frame on every sample: over 11 words
    def _sample(self):
        s = self.sampled
        try:
            bus = s.bus_raw()
            cur = s.current_raw()
        except OSError:
            return self._end(EV_SENSOR_FAULT, self.index, 0, FAULT)
        self.last_bus = bus
        self.last_current = cur
        batch = self.batch
        if batch.count == 0:
            batch.start(self.index)
        batch.add(bus, cur)
        index = self.index
        self.index = index + 1
        self.deadline = self.board.ticks_add(self.deadline, self.period)
        settled = self.load.update(bus, cur)  # judged against the target this reading was taken at
        if settled:
            self._event(EV_LOAD_SETTLED, index + 1 - load.SETTLE_HOLD, settled)
        if self.ramp_slots and self.index % self.ramp_slots == 0 and self.load_ma < self.ramp_max:
            self.load_ma = min(self.load_ma + self.ramp_step, self.ramp_max)
            self._watch_trip()
            self.load.set_target(load.CC, self.load_ma)  # a setpoint change, not every sample
            self.stress_at = self.board.ticks_us()
        if self.index == self.short_from:
            self._watch_trip()
            self.load.off()
            self.board.short(True)
            self.stress_at = self.board.ticks_us()
            self._event(EV_SHORT_ON, self.index, 0)
        elif self.index == self.short_until:
            self._unwatch_trip()
            self.board.short(False)
            self.load.start()  # a load appearing again: what wakes many units
            self._event(EV_SHORT_OFF, self.index, 0)
        if bus > self.max_bus_code:
            return self._end(EV_LIMIT_VOLTAGE, index, bus, FAULT)
        if self.run_slots and self.index >= self.run_slots:
            return self._end(self.duration_event, self.index, 0, ENDED)
        if not self.short_from <= index < self.short_until:  # a short is the over-current being tested
            if cur > self.max_current_code:
                return self._end(EV_LIMIT_CURRENT, index, cur, FAULT)
            if cur < -self.max_reverse_code:
                return self._end(EV_LIMIT_REVERSE, index, cur, FAULT)
        if (bus >> self.power_shift) * (cur >> self.power_shift) > self.max_power_code:
            return self._end(EV_LIMIT_POWER, index, bus, FAULT)
        for k, code in self.temp_codes:
            reading = self.board.temperature_raw(k)
            if reading > code:
                return self._end(EV_LIMIT_TEMPERATURE, index, k, FAULT)
        if bus < self.end_code:
            self._below(EV_END_VOLTAGE, index, bus)
        elif cur < self.collapse_code:
            self._below(self.below_event, index, cur)
        else:
            self.below_since = -1
        if self.state == RUNNING and batch.count >= self.flush_slots:
            self._flush()

    def _below(self, cause, index, value):
        """End of discharge once the output stays out of range for hold_ms."""
        if self.below_since < 0:
            self.below_since = index
            self.below_cause = cause
            self.below_value = value
        elif index - self.below_since >= self.hold_slots:
            self._end(self.below_cause, self.below_since, self.below_value, ENDED)

    def _end(self, code, index, value, state):
        self.load.off()  # first: the load, the short and the charger are off before anything is said
        self.board.short(False)
        self.board.charger(False)
        off = self.board.ticks_us()
        self.load_ma = 0
        self.state = state
        if state == FAULT:
            self.fault = ("charging: charger switched off; " if self.charging else "") + _FAULTS[code]
        self._flush()
        self._unwatch_trip()
        if code != EV_SENSOR_FAULT and hasattr(self.sampled, "energy_raw"):
            n = wire.pack_accumulators(self.link.msg, self.index, self.sampled.energy_raw(), self.sampled.charge_raw())
            self.link.send(self.link.msg, n)
        if code != EV_SENSOR_FAULT:  # without a reading the host integrates up to the last sample
            self._edge(LOAD_OFF, off, self.last_bus, self.last_current)
        self._event(code, index, value)
        self._status()

    # -- protection trip times ----------------------------------------------

    def _watch_trip(self):
        """Before the first stress of a run (a ramp step up, the short closing): watch for the
        output's cut, the current falling below half the run's set current (CONFIG's load_ma), with
        the sensor at its trip rate. The ALERT pin, where the rig wires it ([sensor] alert_pin),
        interrupts (_alerted: ticks_us); else the current is polled between samples (_poll_trip).
        Once per run: the first trip is the one timed. stress_at is set after the stress itself."""
        if self.trip_state != _TRIP_IDLE or not self.load_setpoint:
            return
        s, b, c = self.sensor, self.board, self.calibration
        amps = (self.load_setpoint / 2000 - c[3]) / c[2]  # raw: the chip compares uncalibrated readings
        s.trip_window(True)
        self.stress_at = self.polled_at = b.ticks_us()
        self.trip_us = -1
        self.trip_peak = 0
        if hasattr(s, "alert_under_current") and b.alert_irq(self._alerted):
            s.alert_under_current(amps)
            self.trip_resolution_us = s.trip_period_us
            self.trip_state = _TRIP_ALERT
        else:
            self.trip_code = s.current_code(amps)
            self.trip_resolution_us = 0  # the longest gap between two polls, measured
            self.trip_state = _TRIP_POLL

    def _alerted(self, pin):
        """The ALERT pin fell: an interrupt handler (hard on a board), so it allocates nothing."""
        if self.trip_us < 0:
            b = self.board
            self.trip_us = b.ticks_diff(b.ticks_us(), self.stress_at)

    def _poll_trip(self, wait):
        """A wait for the next slot, in trip periods, each ending in a reading of the current: the peak of
        the window (EVENT trip_peak: the samples alone miss a cut within a period), and, without an ALERT
        pin (the INA219 has none), the trip time."""
        b, s = self.board, self.sensor
        b.sleep_us(min(wait, s.trip_period_us))
        try:
            cur = s.current_raw()
        except OSError:
            return  # the next sample ends the run
        if cur > self.trip_peak:
            self.trip_peak = cur
        if self.trip_state == _TRIP_ALERT:
            return  # the pin's interrupt times the trip
        now = b.ticks_us()
        gap = b.ticks_diff(now, self.polled_at)
        self.polled_at = now
        if gap > self.trip_resolution_us:
            self.trip_resolution_us = gap
        if cur < self.trip_code and self.trip_us < 0:
            self.trip_us = b.ticks_diff(now, self.stress_at)

    def _unwatch_trip(self):
        """End of the trip window: the sensor back at its sampling rate, the alert off; EVENT trip_peak,
        and EVENT trip if the output was cut meanwhile and the time is known to what the event can say
        (2032 us: else the host times the trip to a sample)."""
        s, state = self.sensor, self.trip_state
        self.trip_state = _TRIP_DONE
        try:
            if state == _TRIP_ALERT:
                self.board.alert_irq(None)
                s.alert_off()
            if state in (_TRIP_ALERT, _TRIP_POLL):
                s.trip_window(False)
        except OSError:
            pass  # a sensor that stopped answering: its run ends as a fault
        if state in (_TRIP_ALERT, _TRIP_POLL):
            self._event(EV_TRIP_PEAK, self.index, self.trip_peak)
        if self.trip_us >= 0 and self.trip_resolution_us <= _TRIP_RES_MAX << 4:
            self._event(EV_TRIP, self.index, _trip_value(self.trip_us, self.trip_resolution_us))
        self.trip_us = -1

    def _flush(self):
        if self.batch.count:
            self.link.send(self.batch.buf, self.batch.size())
            self.batch.count = 0

    # -- messages -------------------------------------------------------

    def _set_fault(self, message):
        self.state = FAULT
        self.fault = message

    def _identity(self):
        s = self.sensor
        ok = s is not None
        n = wire.pack_identity(self.link.msg, FW_VERSION, s.CHIP if ok else 0, self.address,
                               s.SAMPLE_FORMAT if ok else 1, int(self.shunt_ohms * 1e6 + 0.5),
                               s.bus_lsb_v if ok else 0.0, s.current_lsb_a if ok else 0.0,
                               s.cal if ok else 0, s.sample_period_us if ok else 0,
                               self.max_mv, self.max_ma, self.settings_hash, self.board.name, self.rig_name,
                               _centi(self.board.temperature_c(0)), _centi(self.board.temperature_c(1)),
                               s.current_code_max if ok else 0, self.board.board_id)
        self.link.send(self.link.msg, n)

    def _ack(self, cmd, seq, result):
        self.acked = (cmd, seq, result)
        self.link.send(self.link.msg, wire.pack_ack(self.link.msg, cmd, seq, result))

    def _edge(self, edge, ticks, bus, current):
        """EDGE: a reading at the load's switching instant `ticks`, placed on the run's slot axis from the
        next slot's due time (self.deadline), so ticks_us wrapping at 2**30 never shows."""
        n = wire.pack_edge(self.link.msg, edge, self.index, self.board.ticks_diff(ticks, self.deadline), bus, current)
        self.link.send(self.link.msg, n)

    def _event(self, code, index, value):
        self.link.send(self.link.msg, wire.pack_event(self.link.msg, code, index, value))

    def _status(self):
        n = wire.pack_status(self.link.msg, self.state, self.index, self.skipped,
                             self.link.rx_errors, self.load_ma)
        self.link.send(self.link.msg, n)

    def _text(self, level, message):
        self.link.send(self.link.msg, wire.pack_text(self.link.msg, level, message))


def _trip_value(trip_us, resolution_us):
    """EVENT trip's value: microseconds from the stress to the output's cut (bits 0..23, at most
    16.7 s) and the resolution, rounded up to 16 us (bits 24..30, at most 2032 us)."""
    return min(trip_us, _TRIP_US_MAX) | (resolution_us + 15) >> 4 << 24


def _centi(celsius):
    # an NTC's reading as IDENTITY carries it (protocol 3): hundredths of a degC, -32768 for none; the host
    # keeps the unit's, read at the HELLO before a run's first load, as the run's ambient temperature
    return -32768 if celsius is None else round(celsius * 100)


def _load_calibration(path):
    """The calibration kept in flash, or none: a rig that was never calibrated says so."""
    try:
        with open(path) as f:
            return tuple(json.load(f))
    except (OSError, ValueError):
        return UNCALIBRATED
