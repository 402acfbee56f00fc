# The host's end of a station under the real micropython, for the scripts that test it (test_station_mp.py,
# test_charge_mp.py): a board of fakes, commands framed as a host frames them, the frames it gets back.
import os
import struct

import clock as vclock
import station
import wire
from inafakes import STATION_RIG as RIG
from inafakes import IdealSink as Source
from i2cbus import SimI2C
from ina226_sim import SimINA226

class Capture:
    """The host end: decodes every frame the station writes."""

    def __init__(self):
        self.rx = wire.Link(None, kept_bytes=0)
        self.messages = []

    def write(self, buf, n):
        for k in range(n):
            if self.rx.feed(buf[k]):
                self.messages.append(bytes(self.rx.rx[:self.rx.rx_len]))

    def of_type(self, t):
        return [m for m in self.messages if m[0] == t]


class Board:
    name = "test"
    board_id = "e6614104033f5b2c"
    flash = "/tmp/pbgrade-mp-station-"

    def __init__(self, boot_us):
        self.clock = vclock.VirtualClock(boot_us)
        self.ticks_us = self.clock.ticks_us
        self.ticks_diff = vclock.ticks_diff
        self.ticks_add = vclock.ticks_add
        self.source = Source()
        self.i2c = SimI2C(self.clock)
        self.i2c.attach(SimINA226(self.clock, self.source, seed=3))
        self.serial_out = Capture()
        self.kbd = 3
        self.has_short = False
        self.has_charger = False
        self.relay = False  # the charger's
        self.relay_calls = []
        self.stuck = False  # a short-circuit switch welded closed
        self.short_calls = []
        self.temps = [None, None]  # no NTC fitted
        self.scale = None  # (pd_sck, dout) of a scale's HX711, if one is fitted

    def kbd_intr(self, ch):
        self.kbd = ch

    def sleep_us(self, us):
        self.clock.advance(us)

    def load_drive(self, duty):
        assert not (duty and self.relay), "the load on while the charger is"
        self.source.drive = duty  # an int: nothing allocated

    def alert_irq(self, handler):
        return False  # no ALERT pin wired: the station polls the current in a trip window

    def scale_pins(self):
        return self.scale

    def charger(self, on):
        assert not (on and self.source.drive), "the charger on while the load is"
        self.relay_calls.append(on)
        self.relay = on

    def temperature_code(self, sensor, celsius):
        return int(celsius * 100)

    def temperature_raw(self, sensor):
        return int(self.temps[sensor] * 100)

    def temperature_c(self, sensor):
        return self.temps[sensor]

    def short(self, on):
        assert self.has_short or not on
        self.short_calls.append(on)
        if on or not self.stuck:
            self.source.shorted = on


_host_seq = [0]


def command(st, msg_type, body=b"", seq=None):
    """Frame a host command and hand it to the station byte by byte; returns the ACK result.
    Each command gets the next number, as a host's do, unless seq is given."""
    out = bytearray()
    link = wire.Link(_Raw(out), kept_bytes=0)
    _host_seq[0] += 1
    link.seq = _host_seq[0] if seq is None else seq
    payload = bytearray(3 + len(body) + 2)
    payload[0] = msg_type
    payload[3:3 + len(body)] = body
    link.send(payload, 3 + len(body))
    for b in out:
        if st.link.feed(b):
            st._command()
    acks = st.board.serial_out.of_type(wire.ACK)
    return acks[-1][6] if msg_type not in (wire.HELLO, wire.RESEND) else None


class _Raw:
    def __init__(self, out):
        self.out = out

    def write(self, buf, n):
        self.out.extend(buf[:n])


def config(period_us=100_000, load_ma=2100, end_mv=4000, collapse_ma=1050, hold_ms=1000, flush_ms=1000):
    return struct.pack("<IHHHHH", period_us, load_ma, end_mv, collapse_ma, hold_ms, flush_ms)


def run_until(st, state, limit=1_000_000):
    n = 0
    while st.state != state and n < limit:
        st.tick()
        n += 1
    return n


def samples_received(cap):
    total = 0
    next_index = 0
    for m in cap.of_type(wire.SAMPLES):
        index, count = struct.unpack_from("<IB", m, 3)
        assert index == next_index, (index, next_index)  # consecutive slots, nothing skipped
        next_index = index + count
        total += count
    return total


def new_station(boot_us=0):
    """A station as it boots: never calibrated (no calibration file in its flash)."""
    try:
        os.remove(Board.flash + station.CALIBRATION_FILE)
    except OSError:
        pass
    board = Board(boot_us)
    return board, station.Station(board, RIG, settings_hash=b"12345678")
