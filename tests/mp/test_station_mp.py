# The station under the real micropython: commands, end of discharge, limits,
# the tick wrap, and zero heap allocation in the sampling loop.
import os
import struct

import station
import wire
from inafakes import STATION_RIG as RIG
from inafakes import StillSensor, heap_used
from mpcases import run
from i2cbus import SimI2C
from ina226_sim import SimINA226
from inafakes import IdealSink as Source
from hx711_sim import Pin, SimHX711
from stationhost import Board, command, config, new_station, run_until, samples_received

def test_identity_and_configuration():
    board, st = new_station()
    command(st, wire.HELLO)
    ident = board.serial_out.of_type(wire.IDENTITY)[-1]
    assert ident[3] == wire.PROTO_VERSION and ident[7] == 1  # sensor INA226
    assert ident[32:40] == b"12345678"  # the settings' hash
    assert ident.endswith(b"\x04test\x07mp-test\x10e6614104033f5b2c")  # the board, the rig, the board's serial
    assert struct.unpack_from("<I", ident, 44)[0] == st.sensor.current_code_max == 0x7FFF  # where a reading clips
    cal = board.serial_out.of_type(wire.CALIBRATION)[-1]
    assert struct.unpack_from("<ffffI", cal, 3) == station.UNCALIBRATED  # says it was never calibrated
    assert board.serial_out.of_type(wire.STATUS)  # the answer to HELLO ends with STATUS
    assert struct.unpack_from("<hh", ident, 40) == (-32768, -32768)  # a rig without NTCs reports none
    assert command(st, wire.START) == station.BAD_STATE  # not configured
    assert command(st, wire.CONFIG, config(period_us=100)) == station.BAD_VALUE  # faster than the sensor
    assert command(st, wire.CONFIG, config(load_ma=3600)) == station.OVER_LIMIT  # over the rig's 3.5 A
    assert command(st, wire.CONFIG, config()[:-2]) == station.BAD_LENGTH
    assert command(st, wire.CONFIG, config()) == station.OK


def test_identity_carries_each_ntc_in_hundredths_of_a_degree():
    board, st = new_station()
    board.temps = [None, 23.456]  # the unit's case NTC only
    command(st, wire.HELLO)
    assert struct.unpack_from("<hh", board.serial_out.of_type(wire.IDENTITY)[-1], 40) == (-32768, 2346)
    board.temps = [-5.25, 149.994]
    command(st, wire.HELLO)
    assert struct.unpack_from("<hh", board.serial_out.of_type(wire.IDENTITY)[-1], 40) == (-525, 14999)


def test_a_discharge_across_the_tick_wrap():
    # a discharge across the tick wrap, ended by the output collapsing
    boot_us = (1 << 30) - 3_000_000  # ticks_us wraps 3 s into the run
    board, st = new_station(boot_us)
    assert command(st, wire.CONFIG, config()) == station.OK
    assert command(st, wire.START) == station.OK and board.source.load_a == 2.1
    for _ in range(600 * 10):  # 600 s of slots at 10 Hz
        st.tick()
        if st.index >= 600:
            break
    assert st.state == station.RUNNING and st.skipped == 0
    board.source.v = 0.0  # the power bank switches off
    onset = st.index
    run_until(st, station.ENDED)
    assert board.source.load_a == 0  # load off
    event = board.serial_out.of_type(wire.EVENT)[-1]
    code, index, value = struct.unpack_from("<BIi", event, 3)
    assert code == station.EV_END_VOLTAGE and index == onset, (code, index, onset)
    assert samples_received(board.serial_out) == onset + 11  # hold 1 s = 10 slots after the onset
    status = board.serial_out.of_type(wire.STATUS)[-1]
    assert status[3] == station.ENDED
    # the 600 s of samples span 600 s of virtual time: the wrap did not disturb the schedule
    assert abs(board.clock.now_us - boot_us - (onset + 11) * 100_000) < 200_000


def test_a_voltage_limit_trips_and_refuses_to_restart():
    # a voltage limit trips within one sample and refuses to restart
    board, st = new_station()
    assert command(st, wire.CONFIG, config()) == station.OK
    assert command(st, wire.START) == station.OK
    run_until(st, station.RUNNING, 5)
    for _ in range(30):
        st.tick()
    board.source.v = 30.0  # over the rig's 24 V
    n = 0
    while st.state == station.RUNNING:
        st.tick()
        n += 1
    assert st.state == station.FAULT and board.source.load_a == 0
    code = struct.unpack_from("<B", board.serial_out.of_type(wire.EVENT)[-1], 3)[0]
    assert code == station.EV_LIMIT_VOLTAGE
    assert command(st, wire.START) == station.BAD_STATE  # until the operator clears the fault:
    assert command(st, wire.CONFIG, config()) == station.BAD_STATE  # a new configuration is not enough
    assert command(st, wire.CLEAR) == station.OK and st.fault == ""
    assert command(st, wire.CONFIG, config()) == station.OK


def trips(st, change, limit_event):
    """Run, make `change` to the world, and expect the limit's event within one sample."""
    st.board.serial_out.messages = []
    assert command(st, wire.CONFIG, config()) == station.OK
    assert command(st, wire.START) == station.OK
    for _ in range(5):
        st.tick()
    change()
    at = st.index
    st.tick()
    code, index = struct.unpack_from("<BI", st.board.serial_out.of_type(wire.EVENT)[-1], 3)
    assert (st.state, code, index) == (station.FAULT, limit_event, at), (st.state, code, index, at)
    assert st.board.source.load_a == 0
    assert command(st, wire.CLEAR) == station.OK


def test_reverse_current_power_and_heat_each_trip():
    # current flowing back, too much power, too hot: each trips on its own
    board, st = new_station()
    limits = dict(RIG["limits"])
    limits.update(max_power_w=12.0, max_load_temp_c=70, max_dut_temp_c=45)
    st.set_limits(limits)
    limited = st
    board.source.v = 5.0
    board.temps = [25.0, 25.0]
    trips(limited, lambda: setattr(board.source, "i", -0.2), station.EV_LIMIT_REVERSE)  # 0.1 A by default
    board.source.i = None
    trips(limited, lambda: setattr(board.source, "v", 6.0), station.EV_LIMIT_POWER)  # 6 V x 2.1 A = 12.6 W
    board.source.v = 5.0

    def heat(sensor, celsius):
        board.temps[sensor] = celsius

    trips(limited, lambda: heat(1, 46.0), station.EV_LIMIT_TEMPERATURE)  # the unit
    board.temps = [25.0, 25.0]
    trips(limited, lambda: heat(0, 71.0), station.EV_LIMIT_TEMPERATURE)  # the load
    board.temps = [25.0, 25.0]
    assert command(limited, wire.CONFIG, config()) == station.OK and command(limited, wire.START) == station.OK
    for _ in range(50):  # 5 V x 2.1 A = 10.5 W at 25 C: nothing trips
        limited.tick()
    assert limited.state == station.RUNNING
    assert command(limited, wire.STOP) == station.OK


def test_calibration_survives_a_restart():
    # calibration is kept in flash and survives a restart
    st = new_station()[1]
    assert command(st, wire.CONFIG, config()) == station.OK
    assert command(st, wire.CAL_SET, struct.pack("<ffffI", 1.5, 0, 1, 0, 1)) == station.BAD_VALUE
    assert command(st, wire.CAL_SET, struct.pack("<ffffI", 1.01, -0.002, 0.99, 0.001, 1795000000)) == station.OK
    assert command(st, wire.START) == station.BAD_STATE  # limits must be converted again: configure first
    assert command(st, wire.CONFIG, config()) == station.OK
    cal = station._load_calibration(Board.flash + station.CALIBRATION_FILE)  # what a restarted station reads
    assert abs(cal[0] - 1.01) < 1e-6 and abs(cal[3] - 0.001) < 1e-6 and cal[4] == 1795000000
    os.remove(Board.flash + station.CALIBRATION_FILE)


def test_end_conditions_off_and_a_ramped_load():
    # end conditions can be switched off (a no-load step); the device ramps the load
    board, st = new_station()
    board.source.v = 0.0
    assert command(st, wire.CONFIG, config(load_ma=0, end_mv=0, collapse_ma=0)) == station.OK
    assert command(st, wire.START) == station.OK
    for _ in range(200):
        st.tick()
    assert st.state == station.RUNNING and st.index > 50  # 0 V, 0 A, and nothing ends the run
    assert command(st, wire.STOP) == station.OK and st.state == station.ENDED
    board.source.v = 5.0
    assert command(st, wire.CONFIG, config(load_ma=1000)) == station.OK
    assert command(st, wire.RAMP, struct.pack("<HHH", 100, 500, 3600)) == station.OVER_LIMIT
    assert command(st, wire.RAMP, struct.pack("<HHH", 100, 500, 1500)) == station.OK
    assert command(st, wire.START) == station.OK
    by_slot = {}
    while st.index < 40:  # 4 s at 10 Hz
        st.tick()
        by_slot[st.index] = st.load_ma
    seen = [by_slot[k] for k in sorted(by_slot)]
    assert seen[0] == 1000 and max(seen) == 1500 and sorted(set(seen)) == [1000, 1100, 1200, 1300, 1400, 1500]
    assert seen.count(1100) == 5  # 500 ms per step at 100 ms per slot
    assert command(st, wire.STOP) == station.OK
    assert command(st, wire.CONFIG, config()) == station.OK  # and CONFIG clears the ramp
    assert st.ramp_slots == 0


def test_run_for_ends_on_the_device_clock():
    # RUN_FOR ends a run on the device's own clock
    board, st = new_station()
    assert command(st, wire.CONFIG, config()) == station.OK
    assert command(st, wire.RUN_FOR, struct.pack("<I", 25)) == station.OK
    assert command(st, wire.START) == station.OK
    run_until(st, station.ENDED)
    code, index = struct.unpack_from("<BI", board.serial_out.of_type(wire.EVENT)[-1], 3)
    assert code == station.EV_DURATION and index == 25 and samples_received(board.serial_out) == 25
    assert command(st, wire.CONFIG, config()) == station.OK and st.run_slots == 0


def test_a_short_is_bounded_by_the_device():
    # SHORT: bounded by the device, current limit suspended only while it lasts
    board, st = new_station()
    assert command(st, wire.CONFIG, config(load_ma=210, end_mv=0, collapse_ma=0)) == station.OK
    assert command(st, wire.SHORT, struct.pack("<HH", 1000, 500)) == station.NO_SWITCH
    board.has_short = True
    assert command(st, wire.SHORT, struct.pack("<HH", 1000, 2001)) == station.BAD_VALUE
    assert command(st, wire.SHORT, struct.pack("<HH", 1000, 500)) == station.OK
    assert command(st, wire.RUN_FOR, struct.pack("<I", 30)) == station.OK
    board.serial_out.messages = []
    assert command(st, wire.START) == station.OK
    load_by_slot = {}
    while st.state == station.RUNNING:
        st.tick()
        load_by_slot[st.index] = (board.source.shorted, board.source.load_a)
    events = [struct.unpack_from("<BI", m, 3) for m in board.serial_out.of_type(wire.EVENT)]
    assert events == [(station.EV_LOAD_SETTLED, 0), (station.EV_SHORT_ON, 10), (station.EV_TRIP_PEAK, 15),
                      (station.EV_SHORT_OFF, 15), (station.EV_LOAD_SETTLED, 15), (station.EV_DURATION, 30)], events
    # settled at once, both times; the window's peak as the short opens (a unit that never cut it)
    assert load_by_slot[12] == (True, 0.0)  # the load is off while shorted
    assert load_by_slot[16][0] is False and abs(load_by_slot[16][1] - 0.21) <= 0.002, load_by_slot[16]
    assert samples_received(board.serial_out) == 30  # 7.5 A in slots 10-14 did not trip the 3.5 A limit
    # a switch welded closed: once the short's time is up the current limit holds again
    board.stuck = True
    assert command(st, wire.CONFIG, config(load_ma=210, end_mv=0, collapse_ma=0)) == station.OK
    assert command(st, wire.SHORT, struct.pack("<HH", 1000, 500)) == station.OK
    assert command(st, wire.START) == station.OK
    board.short_calls = []
    run_until(st, station.FAULT, 10_000)  # in the short's trip window a tick is one poll of the current
    code, index = struct.unpack_from("<BI", board.serial_out.of_type(wire.EVENT)[-1], 3)
    assert code == station.EV_LIMIT_CURRENT and index == 15, (code, index)
    assert board.short_calls == [True, False, False] and board.source.load_a == 0  # tried to open it, load off
    assert command(st, wire.CLEAR) == station.OK  # the operator acknowledges the fault


class CuttingSource(Source):
    """A unit whose protection cuts a short cut_us after it begins (Board.short sets short_at)."""

    def __init__(self, cut_us):
        super().__init__()
        self.cut_us = cut_us
        self.short_at = None
        self.now_us = 0

    def sense(self, now_us):
        if self.shorted and now_us - self.short_at >= self.cut_us:
            return 0.0, 0.0
        return super().sense(now_us)


def test_a_short_the_unit_cuts_is_timed_between_samples():
    # no ALERT pin: in the short's trip window the station reads the current at the chip's trip rate
    # between its samples; EVENT trip says when the current fell below half the set 210 mA
    for cut_us in (1000, 20000):
        board, st = new_station()
        board.has_short = True
        board.source = CuttingSource(cut_us)
        board.i2c = SimI2C(board.clock)
        board.i2c.attach(SimINA226(board.clock, board.source, seed=3))
        st = station.Station(board, RIG, settings_hash=b"12345678")
        shorting = board.short

        def short(on):
            shorting(on)
            board.source.short_at = board.clock.now_us

        board.short = short
        assert command(st, wire.CONFIG, config(load_ma=210, end_mv=0, collapse_ma=0)) == station.OK
        assert command(st, wire.SHORT, struct.pack("<HH", 1000, 500)) == station.OK
        assert command(st, wire.RUN_FOR, struct.pack("<I", 30)) == station.OK
        assert command(st, wire.START) == station.OK
        run_until(st, station.ENDED)
        trips = [struct.unpack_from("<BIi", m, 3) for m in board.serial_out.of_type(wire.EVENT)
                 if m[3] == station.EV_TRIP]
        assert len(trips) == 1 and trips[0][1] == 11, trips  # once, in the slot after the short began
        trip_us, resolution_us = trips[0][2] & 0xFFFFFF, (trips[0][2] >> 24) * 16
        assert cut_us <= trip_us <= cut_us + resolution_us <= cut_us + 2000, (trip_us, resolution_us)
        # the short's 7.5 A, read between samples before the cut (the samples, 100 ms apart, see only 0 A):
        # over this rig's range, at the current register's end
        peaks = [struct.unpack_from("<BIi", m, 3) for m in board.serial_out.of_type(wire.EVENT)
                 if m[3] == station.EV_TRIP_PEAK]
        assert peaks == [(station.EV_TRIP_PEAK, 11, 32767)], peaks


def test_lost_frames_are_resent_or_declared_gone():
    # a lost frame is sent again by number; what is no longer kept is declared gone
    board, st = new_station()
    assert command(st, wire.CONFIG, config(flush_ms=10_000)) == station.OK
    assert command(st, wire.RUN_FOR, struct.pack("<I", 4000)) == station.OK  # 66 full frames: 16.6 kB
    assert command(st, wire.START) == station.OK
    run_until(st, station.ENDED)
    sent = {m[1] | m[2] << 8: m for m in board.serial_out.messages}
    first, last = min(sent), max(sent)
    assert sum(len(m) for m in sent.values()) > wire.KEPT_BYTES  # more than the device keeps
    board.serial_out.messages = []
    command(st, wire.RESEND, struct.pack("<HH", last - 2, 3))
    assert board.serial_out.messages == [sent[last - 2], sent[last - 1], sent[last]]  # the same bytes
    board.serial_out.messages = []
    command(st, wire.RESEND, struct.pack("<HH", first, last - first + 1))  # the whole run, asked for again
    gone = board.serial_out.of_type(wire.GONE)
    assert len(gone) == 1
    first_gone, count_gone = struct.unpack_from("<HH", gone[0], 3)
    back = [m for m in board.serial_out.messages if m[0] != wire.GONE]
    assert first_gone == first and back == [sent[s] for s in range(first + count_gone, last + 1)]
    kept = sum(len(m) + 3 for m in back)  # wire bytes: payload, COBS and delimiter
    assert wire.KEPT_BYTES - 3 * 256 < kept <= wire.KEPT_BYTES, kept  # used but for a wrap and a margin


def test_constant_power_and_constant_resistance():
    # constant power and constant resistance instead of CONFIG's current
    board, st = new_station()
    for mode, value in ((1, 10_500), (2, 2_381)):  # 10.5 W, or 2.381 ohm: 2.1 A at 5 V either way
        assert command(st, wire.CONFIG, config()) == station.OK
        assert command(st, wire.LOAD_MODE, struct.pack("<BI", mode, value)) == station.OK
        assert command(st, wire.RAMP, struct.pack("<HHH", 100, 500, 3000)) == station.BAD_VALUE  # steps a current
        assert command(st, wire.START) == station.OK
        for _ in range(40):
            st.tick()
        assert abs(board.source.load_a - 2.1) <= 0.011, (mode, board.source.load_a)  # within 1 % of 2.1 A
        assert command(st, wire.STOP) == station.OK
    assert command(st, wire.CONFIG, config()) == station.OK
    assert command(st, wire.LOAD_MODE, struct.pack("<BI", 9, 1)) == station.BAD_VALUE
    assert command(st, wire.CONFIG, config()) == station.OK and st.mode == 0  # CONFIG goes back to CC


def test_a_retried_command_is_answered_not_redone():
    # a retried command whose ACK was lost is answered, not done twice
    st = new_station()[1]
    assert command(st, wire.CONFIG, config(), seq=900) == station.OK
    assert command(st, wire.START, seq=901) == station.OK
    assert command(st, wire.START, seq=901) == station.OK and st.index == 0  # the retry: same answer
    assert command(st, wire.START, seq=902) == station.BAD_STATE  # a new START while running
    assert command(st, wire.STOP) == station.OK


class Discard:
    def write(self, buf, n):
        return n


def edges(cap):
    """Every EDGE the station sent: (edge, index, offset_us, bus, current)."""
    return [struct.unpack_from("<BIiii", m, 3) for m in cap.of_type(wire.EDGE)]


def test_edge_samples_at_the_switch_on_and_off_across_the_tick_wrap():
    boot_us = (1 << 30) - 1_000_000  # ticks_us wraps between the switch-on and the switch-off
    board, st = new_station(boot_us)
    board.clock.advance(50_000)  # the chip has converted since power-up
    assert command(st, wire.CONFIG, config()) == station.OK
    assert command(st, wire.START) == station.OK
    lsb = st.sensor.current_lsb_a
    (edge, index, offset, bus, cur), = edges(board.serial_out)
    # read before the load switched on: the output unloaded; one period before slot 0
    assert (edge, index, offset) == (station.LOAD_ON, 0, -100_000) and abs(bus - 4000) <= 3 and abs(cur) <= 3
    on_us = board.clock.now_us
    while st.index < 20:
        st.tick()
    board.clock.advance(38_200)  # STOP arrives 38.2 ms after slot 19
    stop_us = board.clock.now_us
    assert command(st, wire.STOP) == station.OK and board.source.load_a == 0
    (edge, index, offset, bus, cur) = edges(board.serial_out)[-1]
    # read with the load still on, placed on the slot axis: slot 20 is due 61.8 ms after the switch-off
    assert (edge, index) == (station.LOAD_OFF, 20) and abs(bus - 4000) <= 3 and abs(cur * lsb - 2.1) < 0.01
    assert -61_800 <= offset <= -60_800, offset  # the I2C reads before the switch-off take a few hundred us
    assert 0 <= index * 100_000 + offset - (stop_us - on_us - 100_000) <= 1000  # the switch-on is at -1 period
    types = [m[0] for m in board.serial_out.messages]
    assert types[-5:] == [wire.SAMPLES, wire.EDGE, wire.EVENT, wire.STATUS, wire.ACK]  # between the last samples and the end


def test_edge_at_the_end_of_a_timed_run_and_at_a_trip():
    board, st = new_station()
    board.clock.advance(50_000)
    assert command(st, wire.CONFIG, config()) == station.OK
    assert command(st, wire.RUN_FOR, struct.pack("<I", 25)) == station.OK
    assert command(st, wire.START) == station.OK
    run_until(st, station.ENDED)
    (edge, index, offset, bus, cur) = edges(board.serial_out)[-1]
    # off right after slot 24, the last: the load was on for 25 periods and a few microseconds
    assert (edge, index) == (station.LOAD_OFF, 25) and -100_000 <= offset < -99_000, (edge, index, offset)
    assert abs(cur * st.sensor.current_lsb_a - 2.1) < 0.01
    board.serial_out.messages = []
    assert command(st, wire.CONFIG, config()) == station.OK and command(st, wire.START) == station.OK
    while st.index < 5:
        st.tick()
    board.source.v = 30.0  # over the rig's 24 V: the load goes off at once, the edge carries the tripping reading
    run_until(st, station.FAULT)
    (edge, index, offset, bus, cur), = edges(board.serial_out)[1:]
    assert (edge, index) == (station.LOAD_OFF, 6) and bus * 0.00125 > 29, (edge, index, bus)
    assert -100_000 <= offset < -99_000


class Unanswering:
    """A sensor gone from the bus."""

    def bus_raw(self):
        raise OSError(5)

    current_raw = bus_raw


def test_no_edge_without_a_reading():
    # a sensor gone mid-run: the run ends in fault with no load-off EDGE (the host integrates to the last sample)
    board, st = new_station()
    assert command(st, wire.CONFIG, config()) == station.OK and command(st, wire.START) == station.OK
    while st.index < 3:
        st.tick()
    sensor, st.sensor = st.sensor, Unanswering()
    st.sampled = st.sensor  # what the run reads (the output's; a charge's the input's)
    run_until(st, station.FAULT)
    assert [e[0] for e in edges(board.serial_out)] == [station.LOAD_ON] and board.source.load_a == 0
    # gone at START: refused, in fault, the load never on, no EDGE
    board.serial_out.messages = []
    st.sensor = sensor
    assert command(st, wire.CLEAR) == station.OK and command(st, wire.CONFIG, config()) == station.OK
    st.sensor = Unanswering()
    assert command(st, wire.START) == station.BAD_STATE and st.state == station.FAULT
    assert edges(board.serial_out) == [] and board.source.load_a == 0 and st.load_ma == 0


def test_weigh_answers_the_scales_mean_reading_or_refuses():
    board, st = new_station()
    assert command(st, wire.WEIGH, b"\x10") == station.NO_SCALE  # no scale fitted
    chip = SimHX711(board.clock, lambda: 128.0)
    board.scale = (chip.pd_sck, chip.dout)
    assert command(st, wire.WEIGH, b"\x00") == station.BAD_VALUE
    assert command(st, wire.WEIGH, b"\x51") == station.BAD_VALUE  # over 80: 8 s without a sample
    board.serial_out.messages = []
    before = board.clock.now_us
    assert command(st, wire.WEIGH, b"\x10") == station.OK
    (weight,) = board.serial_out.of_type(wire.WEIGHT)
    counts, readings = struct.unpack_from("<iB", weight, 3)
    assert readings == 16 and abs(counts - (61_000 + 420 * 128)) < 30, counts  # offset + 420 counts/g, noise /4
    assert 1_500_000 < board.clock.now_us - before < 1_800_000  # 16 conversions at 10 samples/s
    assert command(st, wire.CONFIG, config()) == station.OK
    assert command(st, wire.START) == station.OK
    assert command(st, wire.WEIGH, b"\x10") == station.BAD_STATE  # it would stall the samples
    assert command(st, wire.STOP) == station.OK
    board.scale = (chip.pd_sck, Pin(read=lambda: 1))  # DOUT never low: unpowered or not wired
    assert command(st, wire.WEIGH, b"\x10") == station.NO_SCALE


def test_the_sampling_loop_allocates_nothing():
    board, st = new_station()
    assert command(st, wire.CONFIG, config()) == station.OK
    assert command(st, wire.START) == station.OK
    st.sampled = StillSensor(st.sampled)
    st.link.out = Discard()
    st.end_code = 0
    st.collapse_code = 0
    for _ in range(100):
        st.tick()

    def ticks(n):
        for _ in range(n):
            st.tick()

    allocated = heap_used(ticks, 20_000)
    assert st.state == station.RUNNING and st.index > 9_000
    assert allocated == 0, "sampling loop allocated %d bytes" % allocated


class StillTripSensor(StillSensor):
    """StillSensor in a trip window: the real chip's trip period, its rate and alert switched by nobody."""

    def __init__(self, real):
        super().__init__(real)
        self.trip_period_us = real.trip_period_us
        self.reads = 0

    def current_raw(self):
        self.reads += 1
        return self.current

    def trip_window(self, on):
        pass

    def alert_off(self):
        pass


def test_the_trip_window_allocates_nothing():
    # the readings between samples and the window's end (EVENT trip_peak), polled and ALERT-wired alike: a
    # 2 s short that the unit feeds (the current never falls, so the window stays open to the short's end)
    for alert_wired in (False, True):
        board, st = new_station()
        board.has_short = True
        if alert_wired:
            board.alert_irq = lambda handler: True
        assert command(st, wire.CONFIG, config()) == station.OK
        assert command(st, wire.SHORT, struct.pack("<HH", 1000, 2000)) == station.OK  # slots 10 to 30
        assert command(st, wire.START) == station.OK
        while st.index < 11:
            st.tick()
        st.sampled = st.sensor = StillTripSensor(st.sensor)
        st.link.out = Discard()
        st.end_code = 0
        st.collapse_code = 0

        def window():
            while st.index < 31:
                st.tick()

        allocated = heap_used(window)
        assert allocated == 0, "trip window allocated %d bytes (alert %s)" % (allocated, alert_wired)
        # polled between the 20 samples at the trip rate (664 us): ~150 readings a slot
        assert st.state == station.RUNNING and st.sensor.reads > 20 * 100, st.sensor.reads


run(globals())
