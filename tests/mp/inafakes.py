# Fakes and helpers that the INA driver tests share: tests/test_ina*.py under
# CPython and tests/mp/test_ina*_mp.py under the real micropython import this
# module (it is on MICROPYPATH, and tests/conftest.py puts it on sys.path), so
# it is plain Python both run: no f-strings, dataclasses or typing.
import gc
import time

from clock import VirtualClock
from i2cbus import SimI2C

SEEDS = (1, 2, 3)  # the seeds whose register checksums the two interpreters compare

INA228_WIDTHS = {0x04: 3, 0x05: 3, 0x07: 3, 0x08: 3, 0x09: 5, 0x0A: 5}  # bytes; the others are 16-bit


class FakeI2C:
    """A register image at one address: exact register codes for a driver.

    regs maps a register to its code and widths a register to its size in bytes
    (2 if not listed); a read of another size, or of a code that does not fit,
    fails. writes logs (register, value) of every 16-bit write; reads, given a
    list, logs the registers read. after_reset, if given, is the image a write
    of RST (CONFIG bit 15) leaves; write_masks maps a register to the bits a
    write keeps, read_clears to the bits a read clears (a flags register).
    Without a reads log, reads allocate nothing under MicroPython."""

    def __init__(self, regs, address=0x40, widths=None, after_reset=None, write_masks=None, reads=None,
                 read_clears=None):
        self.address = address
        self.regs = regs
        self.widths = widths or {}
        self.after_reset = after_reset
        self.write_masks = write_masks or {}
        self.read_clears = read_clears or {}
        self.writes = []
        self.reads = reads

    def readfrom_mem_into(self, addr, reg, buf):
        if addr != self.address:
            raise OSError(5)
        if self.reads is not None:
            self.reads.append(reg)
        v = self.regs.get(reg, 0)
        if reg in self.read_clears:
            self.regs[reg] = v & ~self.read_clears[reg]
        n = len(buf)
        assert n == self.widths.get(reg, 2) and v >> 8 * n == 0, \
            "register 0x%02x: %d bytes read, code 0x%x" % (reg, n, v)
        while n:
            n -= 1
            buf[n] = v & 0xFF
            v >>= 8

    def writeto_mem(self, addr, reg, buf):
        if addr != self.address:
            raise OSError(5)
        assert len(buf) == 2, "a %d-byte write to register 0x%02x" % (len(buf), reg)
        v = buf[0] << 8 | buf[1]
        self.writes.append((reg, v))
        if reg == 0 and v & 0x8000 and self.after_reset is not None:
            self.regs = dict(self.after_reset)
        else:
            self.regs[reg] = v & self.write_masks.get(reg, 0xFFFF)


def fake_ina(die, address=0x40, read_clears=None):
    """An INA226, INA260 or INA3221 (or what claims its die ID): TI's manufacturer
    ID at FEh and die at FFh."""
    return FakeI2C({0xFE: 0x5449, 0xFF: die}, address, read_clears=read_clears)


def fake_ina228(die=0x2281, address=0x40, read_clears=None):
    """An INA228: IDs at 3Eh and 3Fh, 24- and 40-bit registers as INA228_WIDTHS."""
    return FakeI2C({0x3E: 0x5449, 0x3F: die}, address, INA228_WIDTHS, read_clears=read_clears)


def fake_ina219(config_after_reset=0x399F, address=0x40, reads=None):
    """An INA219 (no ID registers): RST leaves only CONFIG, config_after_reset
    (399Fh on an INA219), and CAL bit 0 (FS0) is void."""
    return FakeI2C({0x00: 0x399F}, address, after_reset={0x00: config_after_reset},
                   write_masks={0x05: 0xFFFE}, reads=reads)


class Fixed:
    """A source at volts and amps until changed."""

    def __init__(self, volts, amps):
        self.volts = volts
        self.amps = amps

    def sense(self, now_us):
        return self.volts, self.amps


class Ramp:
    """Exact binary fractions from ints, so both interpreters see the same floats."""

    def sense(self, now_us):
        return (5100000 - now_us % 1000000) / 1000000, (now_us // 20000 % 9 - 4) / 2


def sim_bus(sim, source, **kw):
    """(clock, bus): a virtual clock and a simulated bus with a `sim` chip on it,
    sensing source; kw (address, seed, shunt_ohms, ...) go to the chip."""
    clock = VirtualClock()
    bus = SimI2C(clock)
    bus.attach(sim(clock, source, **kw))
    return clock, bus


def rigger(sim, driver):
    """rig(source, seed=1, **kw) -> (clock, bus, ina): sim_bus() with a seeded
    `sim` chip at 0x40 and a `driver` on it. shunt_ohms and channel, when given,
    go to both; the other keywords to the driver only."""
    def rig(source, seed=1, **kw):
        chip_kw = {}
        for name in ("shunt_ohms", "channel"):
            if name in kw:
                chip_kw[name] = kw[name]
        clock, bus = sim_bus(sim, source, seed=seed, **chip_kw)
        return clock, bus, driver(bus, **kw)
    return rig


def settle(clock, ina):
    """Let one sample period pass: the next result is in."""
    clock.advance(ina.sample_period_us)


def reg(bus, r, nbytes=2, address=0x40):
    """Register r of the chip at address, read over the simulated bus."""
    return int.from_bytes(bus.readfrom_mem(address, r, nbytes), "big")


def write(bus, r, v, address=0x40):
    """Write 16-bit v to register r over the simulated bus."""
    bus.writeto_mem(address, r, bytes((v >> 8, v & 0xFF)))


def spread(rig, raw, samples=200, **kw):
    """Peak-to-peak of the raw codes (the driver's method named raw) over
    `samples` conversions of a constant 5 V, 1 A: the noise."""
    clock, bus, ina = rig(Fixed(5.0, 1.0), **kw)
    read = getattr(ina, raw)
    codes = set()
    for _ in range(samples):
        settle(clock, ina)
        codes.add(read())
    return max(codes) - min(codes)


def seed_codes(rig, seed, volts, amps, conversion_us, raw, samples=50):
    """(bus_raw(), raw code) of `samples` conversions of a constant volts, amps
    by the chip with this seed, without averaging: its errors and noise."""
    clock, bus, ina = rig(Fixed(volts, amps), seed, averages=1, conversion_us=conversion_us)
    read = getattr(ina, raw)
    out = []
    for _ in range(samples):
        settle(clock, ina)
        out.append((ina.bus_raw(), read()))
    return out


def first_result(rig, source):
    """(clock, bus, ina) of a rig on source whose first result has just come
    in: conversion_ready() was False before it and is True once at it."""
    clock, bus, ina = rig(source)
    t0 = clock.now_us
    assert not ina.conversion_ready()
    clock.advance(t0 + ina.sample_period_us - clock.now_us)
    assert ina.conversion_ready() and not ina.conversion_ready()
    return clock, bus, ina


def next_result(clock, ina):
    """Advance the virtual clock until conversion_ready(): a new result is in."""
    for _ in range(64):
        if ina.conversion_ready():
            return
        clock.advance(ina.sample_period_us // 16)
    raise AssertionError("no result in 4 sample periods")


def check_alert(rig, arm, name, threshold, margin, raw, flags_reg, flag, latch, scale=1, **kw):
    """One alert of a driver against its simulated chip (rig, averages=1 and
    conversion_us=1100 unless kw says otherwise), armed by getattr(ina, arm)(threshold);
    the source's `name` (volts or amps) steps from threshold - margin to threshold
    + margin. After each new result alert() is exactly the chip's comparison, the
    reading getattr(ina, raw)() over the limit code times scale (16 for the
    INA228's 20-bit results), False at the lowest step and True at the highest.
    Then, at register level (flags_reg, its alert flag and latch bit): latched, as
    armed, a result above sets the flag, a result below keeps it until a read,
    which clears it; transparent, it follows each result and reads keep it.
    Returns the code."""
    kw.setdefault("averages", 1)
    kw.setdefault("conversion_us", 1100)
    source = Fixed(5.0, 0.0)
    clock, bus, ina = rig(source, **kw)
    code = getattr(ina, arm)(threshold)
    read = getattr(ina, raw)
    over = []
    for i in range(9):
        setattr(source, name, threshold + margin * (i - 4) / 4)
        next_result(clock, ina)
        over.append(read() > code * scale)
        assert ina.alert() == over[-1], (i, read(), code)
    assert not over[0] and over[-1], over

    def result(value):
        setattr(source, name, value)
        settle(clock, ina)
        reg(bus, 0x00)  # an access: the chip completes the result

    def flagged():
        return reg(bus, flags_reg) & flag

    result(threshold + margin)
    result(threshold - margin)
    assert flagged() and not flagged()  # latched through a result below, until read
    write(bus, flags_reg, reg(bus, flags_reg) & ~latch)  # transparent
    result(threshold + margin)
    assert flagged() and flagged()  # set by the result, kept by reads
    result(threshold - margin)
    assert not flagged()  # cleared by the result below
    return code


def mix(c, v, mask=0xFFFF):
    """A register code into a running 32-bit checksum."""
    return (c * 31 + (v & mask)) & 0xFFFFFFFF


def ramp_checksum(rig, seed, conversion_us, codes, samples=300):
    """A checksum of the register codes codes(bus, ina) returns after each of
    `samples` conversions of the Ramp, without averaging, by the chip with this
    seed: what its errors and noise make of a changing input."""
    clock, bus, ina = rig(Ramp(), seed, averages=1, conversion_us=conversion_us)
    c = 0
    for _ in range(samples):
        clock.advance(ina.sample_period_us)
        for v in codes(bus, ina):
            c = mix(c, v)
    return c


def print_checksums(name, checksum):
    """`checksum <name> <seed> <value>` for each of SEEDS, under micropython: the
    lines micropython_checksums() compares with CPython's."""
    for seed in SEEDS:
        print("checksum", name, seed, checksum(seed))


def micropython_checksums(script, name):
    """CPython only: the `checksum <name> ...` lines the mp test script prints
    under micropython, and the same lines from its checksum_<name>(seed) run
    here, as (got, want)."""
    import importlib.util

    from conftest import run_micropython

    spec = importlib.util.spec_from_file_location(script.stem + "_script", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    proc = run_micropython(script)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    prefix = "checksum %s " % name
    got = [line for line in proc.stdout.splitlines() if line.startswith(prefix)]
    checksum = getattr(module, "checksum_" + name)
    want = [prefix + "%d %d" % (seed, checksum(seed)) for seed in SEEDS]
    return got, want


def raw_reads(ina, n, shunt=True):
    """n rounds of the sampling loop's reads: bus_raw(), current_raw() and, with
    shunt, shunt_raw()."""
    while n:
        ina.bus_raw()
        ina.current_raw()
        if shunt:
            ina.shunt_raw()
        n -= 1


def heap_used(work, *args):
    """MicroPython only: bytes work(*args) allocated, with the collector off. Call it from a
    function or a script alike: nothing of the measurement itself (a new global) is counted."""
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    work(*args)
    after = gc.mem_alloc()
    gc.enable()
    return after - before


def allocated(ina, n=1000, shunt=True):
    """MicroPython only: bytes allocated by raw_reads(ina, n, shunt); the raw
    reads promise 0."""
    return heap_used(raw_reads, ina, n, shunt)


def read_ns(ina, n=5000):
    """MicroPython only: time of one raw register read (bus_raw() and
    current_raw() alternately) over ina's bus, in ns."""
    t = time.ticks_us()
    raw_reads(ina, n, False)
    return time.ticks_diff(time.ticks_us(), t) * 1000 // (2 * n)


def refused(make, exc, text):
    """make() must raise exc with text in its message; returns the message."""
    try:
        make()
    except exc as e:
        assert text in str(e), str(e)
        return str(e)
    raise AssertionError("accepted: " + text)


class StillSensor:
    """Fixed readings (5 V, 2.1 A) with no bus traffic: what is left is the station's own loop."""

    def __init__(self, real):
        self.bus = real.bus_code(5.0)
        self.current = real.current_code(2.1)

    def bus_raw(self):
        return self.bus

    def current_raw(self):
        return self.current


# A station's rig table: an INA226 at 0x40 (10 mOhm, one average), a 5 A sink, 24 V and 3.5 A limits.
STATION_RIG = {"rig": {"name": "mp-test", "board": "sim"}, "sensor": {"chip": "INA226", "address": 0x40, "shunt_ohms": 0.01, "max_current_a": 4.0,
                          "averages": 1, "conversion_us": 1100},
               "limits": {"max_voltage_v": 24.0, "max_current_a": 3.5}, "load": {"kind": "cc", "max_current_a": 5.0}}


class IdealSink:
    """An ideal sink on a steady source: the drive is the current (full scale 5 A)."""

    def __init__(self):
        self.v = 5.0
        self.i = None  # a current reading forced by a test (a fault), else the load's own
        self.drive = 0
        self.shorted = False

    @property
    def load_a(self):
        return round(self.drive * 5000 / 65535) / 1000

    def sense(self, now_us):
        if self.shorted:
            return 0.2, 7.5  # far over the rig's 3.5 A limit: the short itself
        if not self.drive:
            return self.v, 0.0
        return self.v, self.load_a if self.i is None else self.i
