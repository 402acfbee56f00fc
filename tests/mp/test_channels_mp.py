# Several test channels on one board: one loop serves them all, each on its own
# sample schedule, without allocating; a limit on one channel switches off that
# channel's load only; and what the firmware needs for 8 channels leaves room
# in an RP2040's heap.
import gc
import struct

gc.collect()
before_firmware = gc.mem_alloc()
import wire  # noqa: E402

links = wire.links(8)  # as firmware/main.py does: first
import station  # noqa: E402  (and what it imports; the sensor's driver comes with the first Station)

gc.collect()
firmware_bytes = gc.mem_alloc() - before_firmware

import clock as vclock  # noqa: E402
from i2cbus import SimI2C  # noqa: E402
from ina226_sim import SimINA226  # noqa: E402
from inafakes import STATION_RIG as RIG  # noqa: E402
from inafakes import IdealSink, StillSensor, heap_used  # noqa: E402
from mpcases import run  # noqa: E402


class Discard:
    def write(self, buf, n):
        return n


class Board:
    """One channel's hardware; the channels share the clock and the I2C bus."""
    name = "test"
    has_short = False
    has_charger = False

    def __init__(self, clock, i2c, number):
        self.flash = "/tmp/pbgrade-mp-channels-%d-" % number
        self.clock = clock
        self.ticks_us = clock.ticks_us
        self.ticks_diff = vclock.ticks_diff
        self.ticks_add = vclock.ticks_add
        self.i2c = i2c
        self.source = IdealSink()
        i2c.attach(SimINA226(clock, self.source, address=0x40 + number - 1, seed=number))
        self.serial_out = Discard()

    def input_ready(self):
        return False

    any_input = input_ready

    def sleep_us(self, us):
        self.clock.advance(us)

    def idle(self, ms):
        raise AssertionError("a channel is running: the loop must not wait for input")

    def load_drive(self, duty):
        self.source.drive = duty

    def short(self, on):
        pass

    def charger(self, on):
        pass


def rig(number):
    return {"rig": RIG["rig"], "sensor": dict(RIG["sensor"], address=0x40 + number - 1), "limits": RIG["limits"], "load": RIG["load"]}


clock = vclock.VirtualClock(0)
bus = SimI2C(clock)
boards = [Board(clock, bus, k) for k in range(1, 9)]
gc.collect()
before_stations = gc.mem_alloc()
stations = [station.Station(b, rig(k), link) for k, (b, link) in enumerate(zip(boards, links), 1)]
gc.collect()
firmware_bytes += gc.mem_alloc() - before_stations
print("firmware heap for 8 channels: %d bytes" % firmware_bytes)
one, two = stations[0], stations[1]


def test_firmware_fits_an_rp2040():
    # An RP2040 gives MicroPython ~190 KB; leave 60 KB for usb-device-cdc and the interpreter's own.
    assert firmware_bytes < 130 * 1024, firmware_bytes


def start(st, period_us, load_ma):
    body = struct.pack("<IHHHHH", period_us, load_ma, 0, 0, 1000, 1000)
    assert st._configure(bytearray(3) + body) == station.OK
    assert st._start() == station.OK


def start_two():
    """Channels 1 and 2 afresh, at different rates: 1 A every 100 ms, 2 A every 35.2 ms."""
    for st in (one, two):
        st.state = station.IDLE
        st.fault = ""
        st.board.source.i = None
    start(one, 100_000, 1000)
    start(two, 35_200, 2000)


def serve_for(us):
    t0 = clock.now_us
    while clock.now_us - t0 < us:
        station.step(stations)


def test_each_channel_keeps_its_own_schedule():
    start_two()
    t0 = clock.now_us
    serve_for(10_000_000)
    elapsed = clock.now_us - t0
    assert abs(one.index - elapsed // 100_000) <= 1 and abs(two.index - elapsed // 35_200) <= 1, (one.index, two.index)
    assert one.skipped == 0 and two.skipped == 0
    assert abs(boards[0].source.load_a - 1.0) < 0.05 and abs(boards[1].source.load_a - 2.0) < 0.05


def test_the_loop_over_the_channels_allocates_nothing():
    # the simulated chips' arithmetic aside: still readings
    start_two()
    serve_for(1_000_000)
    real = one.sampled, two.sampled
    one.sampled, two.sampled = StillSensor(one.sampled), StillSensor(two.sampled)
    try:
        allocated = heap_used(serve_for, 10_000_000)
    finally:
        one.sampled, two.sampled = real
    assert allocated == 0, "the loop over the channels allocated %d bytes" % allocated


def test_a_limit_switches_off_its_own_channel_only():
    # channel 2 goes over its current limit: its load goes off, channel 1 carries on
    start_two()
    serve_for(1_000_000)
    boards[1].source.i = 3.8
    for k in range(100):
        station.step(stations)
    assert two.state == station.FAULT and boards[1].source.drive == 0
    assert one.state == station.RUNNING and boards[0].source.drive > 0


run(globals())
