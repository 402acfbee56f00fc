# The station's charge mode under the real micropython (firmware/charge.py): never the load and the
# charger at once, the input's samples, its limits, the end of a charge (taper or timeout), the refusals.
import struct

import charge
import station
import wire
from inafakes import STATION_RIG as RIG
from ina226_sim import SimINA226
from mpcases import run
from stationhost import Board, command, config, new_station, run_until

CHARGER = {"relay_pin": 15, "source_v": 5.0, "max_input_voltage_v": 5.5, "max_input_current_a": 3.0,
           "max_charge_s": 3600}
CHARGE_RIG = dict(RIG, charger=CHARGER, input_sensor=dict(RIG["sensor"], address=0x41),
                  limits=dict(RIG["limits"], max_dut_temp_c=45))


class UnitInput:
    """The unit's input: the source's voltage and what the unit draws, while the charger's relay is closed."""

    def __init__(self, board):
        self.board = board
        self.v = 5.0
        self.a = 1.5

    def sense(self, now_us):
        return (self.v, self.a) if self.board.relay else (0.0, 0.0)


def charging_station():
    board = Board(0)
    board.has_charger = True
    board.temps = [25.0, 25.0]
    board.unit_input = UnitInput(board)
    board.i2c.attach(SimINA226(board.clock, board.unit_input, address=0x41, seed=4))
    # a link that keeps no frames for resending: these tests make several stations in the 192 KB heap
    return board, station.Station(board, CHARGE_RIG, wire.Link(None, kept_bytes=0), b"12345678")


def charge_body(taper_ma=100, taper_s=2, max_s=600):
    return struct.pack("<HHI", taper_ma, taper_s, max_s)


def last_event(board):
    return struct.unpack_from("<BIi", board.serial_out.of_type(wire.EVENT)[-1], 3)


def test_a_charge_samples_the_input_with_the_load_off_until_the_current_tapers():
    board, st = charging_station()
    assert command(st, wire.CONFIG, config(load_ma=0, end_mv=0, collapse_ma=0)) == station.OK
    assert command(st, wire.CHARGE, charge_body()) == station.OK
    assert command(st, wire.START) == station.OK
    assert board.relay and board.source.drive == 0
    for _ in range(30):
        st.tick()
    first = board.serial_out.of_type(wire.SAMPLES)[0]
    bus, cur = struct.unpack_from("<Hh", first, 8)
    s = st.input_sensor
    assert abs(bus * s.bus_lsb_v - 5.0) < 0.01 and abs(cur * s.current_lsb_a - 1.5) < 0.01, (bus, cur)  # the input's
    assert st.state == station.RUNNING
    board.unit_input.a = 0.02  # full: the unit stops drawing
    taper_at = st.index
    run_until(st, station.ENDED)
    code, index, value = last_event(board)
    assert (code, index, st.index) == (charge.EV_CHARGE_DONE, taper_at, taper_at + 21), (code, index, st.index, taper_at)  # 2 s below 100 mA
    assert not board.relay and board.relay_calls == [True, False]


def test_a_charge_that_never_tapers_times_out_with_the_relay_off():
    board, st = charging_station()
    assert command(st, wire.CONFIG, config(load_ma=0, end_mv=0, collapse_ma=0)) == station.OK
    assert command(st, wire.CHARGE, charge_body(max_s=5)) == station.OK
    assert command(st, wire.START) == station.OK
    run_until(st, station.ENDED)
    code, index, _ = last_event(board)
    assert code == charge.EV_CHARGE_TIMEOUT and index == 50 and not board.relay


def test_the_input_limits_trip_the_charger_off():
    board, st = charging_station()
    for change, code in ((lambda: setattr(board.unit_input, "v", 5.6), station.EV_LIMIT_VOLTAGE),
                         (lambda: setattr(board.unit_input, "a", 3.1), station.EV_LIMIT_CURRENT),
                         (lambda: setattr(board, "temps", [25.0, 46.0]), station.EV_LIMIT_TEMPERATURE)):
        board.unit_input.v, board.unit_input.a, board.temps = 5.0, 1.5, [25.0, 25.0]
        assert command(st, wire.CLEAR) == station.OK
        assert command(st, wire.CONFIG, config(load_ma=0, end_mv=0, collapse_ma=0)) == station.OK
        assert command(st, wire.CHARGE, charge_body()) == station.OK
        assert command(st, wire.START) == station.OK
        for _ in range(10):
            st.tick()
        change()
        run_until(st, station.FAULT, 100)
        assert st.state == station.FAULT and last_event(board)[0] == code and not board.relay
        assert st.fault.startswith("charging: charger switched off")


def test_a_charge_is_refused_without_a_charger_over_its_time_or_with_a_short_or_ramp():
    board, st = new_station()
    assert command(st, wire.CONFIG, config(load_ma=0)) == station.OK
    assert command(st, wire.CHARGE, charge_body()) == station.NO_SWITCH
    board, st = charging_station()
    board.has_short = True
    assert command(st, wire.CONFIG, config(load_ma=0)) == station.OK
    assert command(st, wire.CHARGE, charge_body(max_s=3601)) == station.BAD_VALUE  # over the rig's max_charge_s
    assert command(st, wire.CHARGE, charge_body(taper_s=0)) == station.BAD_VALUE
    assert command(st, wire.CHARGE, charge_body()) == station.OK
    assert command(st, wire.SHORT, struct.pack("<HH", 100, 100)) == station.BAD_STATE
    assert command(st, wire.RAMP, struct.pack("<HHH", 100, 1000, 3000)) == station.BAD_STATE
    assert command(st, wire.CONFIG, config()) == station.OK  # CONFIG clears it: a discharge again
    assert command(st, wire.START) == station.OK
    st.tick()
    assert not board.relay and board.source.drive > 0
    assert command(st, wire.STOP) == station.OK and True not in board.relay_calls


def test_stop_ends_a_charge_with_the_relay_off():
    board, st = charging_station()
    assert command(st, wire.CONFIG, config(load_ma=0, end_mv=0, collapse_ma=0)) == station.OK
    assert command(st, wire.CHARGE, charge_body()) == station.OK
    assert command(st, wire.START) == station.OK
    st.tick()
    assert command(st, wire.STOP) == station.OK
    assert st.state == station.ENDED and not board.relay and last_event(board)[0] == station.EV_STOPPED


run(globals())
