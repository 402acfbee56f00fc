# INA226 driver and simulated chip under the real micropython: key checks, the
# zero-allocation promise of the raw reads, and a register checksum per seed
# that tests/test_ina226.py compares with CPython's.
import gc

from clock import VirtualClock
from i2cbus import SimI2C
from ina226 import INA226
from ina226_sim import SimINA226

SEEDS = (1, 2, 3)


class FakeI2C:
    """Register image: reads and writes allocate nothing."""

    def __init__(self, die=0x2260):
        self.mem = bytearray(512)
        self.set(0xFE, 0x5449)
        self.set(0xFF, die)

    def set(self, reg, value):
        self.mem[2 * reg] = value >> 8
        self.mem[2 * reg + 1] = value & 0xFF

    def get(self, reg):
        return self.mem[2 * reg] << 8 | self.mem[2 * reg + 1]

    def readfrom_mem_into(self, addr, reg, buf):
        buf[0] = self.mem[2 * reg]
        buf[1] = self.mem[2 * reg + 1]

    def writeto_mem(self, addr, reg, buf):
        self.mem[2 * reg] = buf[0]
        self.mem[2 * reg + 1] = buf[1]


class Fixed:
    def __init__(self, volts, amps):
        self.volts = volts
        self.amps = amps

    def sense(self, now_us):
        return self.volts, self.amps


class Ramp:
    """Exact binary fractions from ints, so both interpreters see the same floats."""

    def sense(self, now_us):
        return (5100000 - now_us % 1000000) / 1000000, (now_us // 20000 % 9 - 4) / 2


def rig(source, seed=1, **kw):
    clock = VirtualClock()
    bus = SimI2C(clock)
    bus.attach(SimINA226(clock, source, seed=seed))
    return clock, bus, INA226(bus, **kw)


def checksum(seed, samples=300):
    clock, bus, ina = rig(Ramp(), seed, averages=1, conversion_us=140)
    c = 0
    for _ in range(samples):
        clock.advance(ina.sample_period_us)
        power = bus.readfrom_mem(0x40, 0x03, 2)
        for v in (ina.bus_raw(), ina.shunt_raw(), ina.current_raw(), power[0] << 8 | power[1]):
            c = (c * 31 + (v & 0xFFFF)) & 0xFFFFFFFF
    return c


def raw_reads(ina, n):
    while n:
        ina.bus_raw()
        ina.current_raw()
        ina.shunt_raw()
        n -= 1


def main():
    # Datasheet "Configure/Measure/Calculate Example": 2 mOhm, 1 mA/bit -> CAL 0A00h.
    fake = FakeI2C()
    ina = INA226(fake, shunt_ohms=0.002, max_current_a=20)
    assert (ina.current_lsb_a, ina.cal, fake.get(0x05)) == (0.001, 2560, 0x0A00)
    for reg, value in ((0x01, 0x1F40), (0x02, 0x2570), (0x04, 0x2710), (0x03, 0x12B8)):
        fake.set(reg, value)
    assert (ina.shunt_raw(), ina.bus_raw(), ina.current_raw()) == (8000, 9584, 10000)
    assert abs(ina.voltage() - 11.98) < 1e-9 and abs(ina.current() - 10.0) < 1e-9
    assert abs(ina.power() - 119.8) < 1e-9
    fake.set(0x04, 0xFC18)
    fake.set(0x01, 0x8300)
    assert (ina.current_raw(), ina.shunt_raw()) == (-1000, -32000)

    # bus_raw/current_raw/shunt_raw allocate nothing
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    raw_reads(ina, 1000)
    after = gc.mem_alloc()
    gc.enable()
    assert after == before, after - before

    try:
        INA226(fake, shunt_ohms=0.01, max_current_a=10)
        raise AssertionError("shunt overflow accepted")
    except ValueError as e:
        assert "81.92 mV" in str(e)
    try:
        INA226(FakeI2C(die=0x2270))
        raise AssertionError("INA260 die accepted")
    except ValueError as e:
        assert "0x2270" in str(e)

    # against the simulated chip
    source = Fixed(5.0, 1.5)
    clock, bus, ina = rig(source)
    t0 = clock.now_us
    assert not ina.conversion_ready()
    clock.advance(t0 + ina.sample_period_us - clock.now_us)
    assert ina.conversion_ready() and not ina.conversion_ready()
    assert abs(ina.voltage() - 5.0) < 0.015 and abs(ina.current() - 1.5) < 0.003
    source.amps = -1.5
    assert ina.current_raw() > 0  # no new conversion yet
    clock.advance(ina.sample_period_us)
    assert abs(ina.current() + 1.5) < 0.003 and ina.shunt_raw() < 0 and ina.power() > 0
    source.amps = 3.5
    clock.advance(ina.sample_period_us)
    assert ina.overflow() and ina.current_raw() == 32767
    try:
        INA226(bus, address=0x41)
        raise AssertionError("no device at 0x41 accepted")
    except OSError as e:
        assert str(e) == "INA226 at 0x41 does not answer: check wiring and address"

    for seed in SEEDS:
        print("checksum", seed, checksum(seed))
    print("OK")


if __name__ == "__main__":
    main()
