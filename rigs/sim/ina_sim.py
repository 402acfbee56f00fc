"""What every simulated TI INA chip shares: its place on the simulated bus,
chip-to-chip errors and noise from a seeded xorshift32 (integer arithmetic,
so a seed gives the same registers under CPython and MicroPython), and
conversions that complete on the virtual clock.

A chip model subclasses SimINA and defines _convert() (results of the
conversion due now), _register(memaddr) -> value for reads of its 16-bit
registers (a chip with wider ones reads them in its own read_mem, as the
INA228 does), and
_write_config(value) and _write_register(memaddr, value) for writes of 16
bits or more (SimINA._store() resets on RST). Registers are big-endian.
Chips with 16-bit registers 00h.. and ID registers above them
can set RESET, IDS, FLAGS_REG and READY and use SimINA's _reset() and
_register(); a read of FLAGS_REG clears the bits _cleared_by_read() names
(READY, and latched alert flags). INA226-family chips (INA226, INA260,
INA3221) decode CONFIG with _configure_226(). `source.sense(now_us)` returns (bus_volts, current_amps).

ALERT pin: a chip that has one defines alert_low(), the pin's level from its
registers (its flags, polarity, conversion-ready function); `on_pin`, set by
the simulated board that watches the pin (SimBoard.alert_irq), is called
after anything that may change it: a conversion completing, a register read
(a read of FLAGS_REG clears latched flags) or written.

Errors and noise: each chip (seed) draws its offsets and gains
uniformly within the datasheet's typical values (_draw_errors), and adds
near-Gaussian noise (_noise) of an rms that sigma() scales with the
conversion time; counts() turns a reading into register codes.
"""
import math

import micropython
from micropython import const

NEVER = const(1 << 60)  # virtual us; still a small int on 64-bit MicroPython

# INA226-family CONFIG tables (INA226, INA260, INA3221): AVG codes 0..7, VBUSCT/VSHCT codes 0..7
AVERAGES = (1, 4, 16, 64, 128, 256, 512, 1024)  # also the INA228's
CONVERSION_US = (140, 204, 332, 588, 1100, 2116, 4156, 8244)
_NOISE_REF_US = const(1100)  # the INA226 family's noise figures are for one 1.1 ms conversion


class SimINA:
    RESET = ()  # power-on values of registers 00h.. (16-bit)
    IDS = {}  # ID registers above them: address -> value
    FLAGS_REG = 0  # the register whose READY bit a read clears
    READY = 0

    @micropython.native
    def __init__(self, clock, source, address, seed):
        self.address = address
        self._clock = clock
        self._source = source
        self._x = ((seed + 1) * 0x9E3779B1) & 0xFFFFFFFF or 1
        self._period = 0
        self._next = NEVER
        self.on_pin = None  # called after a change that may move the ALERT pin (the module docstring)

    @micropython.native
    def _rand(self):
        x = self._x
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self._x = x
        return x

    @micropython.native
    def _uniform(self, m):
        """An integer drawn evenly from -m..m: a chip's offset or gain error."""
        return self._rand() % (2 * m + 1) - m

    @micropython.native
    def _noise(self):
        """Near-Gaussian (sum of three uniforms), mean 0, rms 1024: one _rand(), inline."""
        x = self._x
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self._x = x
        return 2 * ((x & 1023) + (x >> 10 & 1023) + (x >> 20 & 1023)) - 3069

    @micropython.native
    def _gain(self, lsb_per_unit, ppm):
        """1/1024 LSB per amp or volt of a channel converting lsb_per_unit LSB per
        amp or volt, with a gain error drawn within +-ppm."""
        return lsb_per_unit * 1024 * (1000000 + self._uniform(ppm)) / 1000000

    @micropython.native
    def _draw_errors(self, shunt_lsb_per_amp, shunt_ppm, shunt_offset_q, bus_lsb_per_volt, bus_ppm, bus_offset_q):
        """A chip's (or a channel's) errors, drawn in the order a seed's registers
        depend on: shunt gain, bus gain, shunt offset, bus offset. Returns
        (shunt_k, bus_k, shunt_offset, bus_offset): the gains as _gain() gives
        them, the offsets within +-shunt_offset_q and +-bus_offset_q."""
        shunt_k = self._gain(shunt_lsb_per_amp, shunt_ppm)
        bus_k = self._gain(bus_lsb_per_volt, bus_ppm)
        return shunt_k, bus_k, self._uniform(shunt_offset_q), self._uniform(bus_offset_q)

    @micropython.native
    def _reset(self):
        """Power-on values (RESET), then conversions as CONFIG says."""
        self._regs = list(self.RESET)
        self._configure()

    @micropython.native
    def _configure(self):
        raise NotImplementedError

    @micropython.native
    def _configure_226(self, channels=1, noise_lsb=1):
        """(Re)start conversions now, as a CONFIG write of an INA226, INA260 or
        INA3221 does: AVG (bits 11..9), VBUSCT (8..6), VSHCT (5..3) and MODE (2..0:
        shunt, bus, continuous) for `channels` enabled channels. Noise rms is
        noise_lsb for one 1.1 ms conversion, scaling with 1/sqrt(conversion time *
        averages)."""
        c = self._regs[0]
        averages = AVERAGES[c >> 9 & 7]
        bus_us = CONVERSION_US[c >> 6 & 7]
        shunt_us = CONVERSION_US[c >> 3 & 7]
        self._schedule(averages * channels * ((shunt_us if c & 1 else 0) + (bus_us if c & 2 else 0)),
                       bool(c & 4))
        self._shunt_sigma = sigma(noise_lsb, _NOISE_REF_US, shunt_us * averages)
        self._bus_sigma = sigma(noise_lsb, _NOISE_REF_US, bus_us * averages)

    @micropython.native
    def _schedule(self, period_us, continuous=True):
        """(Re)start conversions now, one every period_us (0: none)."""
        self._period = period_us
        self._continuous = continuous
        self._next = self._clock.now_us + period_us if period_us else NEVER

    @micropython.native
    def _due(self):
        now = self._clock.now_us
        if now >= self._next:
            if self._continuous:  # the next completion after now
                self._next += ((now - self._next) // self._period + 1) * self._period
            else:  # triggered: one conversion, then idle
                self._next = NEVER
            self._convert()
            if self.on_pin is not None:
                self.on_pin()

    @micropython.native
    def read_mem(self, memaddr, buf):
        """The pointed register's bytes, big-endian, repeated to fill buf."""
        if self._clock.now_us >= self._next:  # _due(), without the call while nothing is
            self._due()
        v = self._register(memaddr)
        if len(buf) == 2:  # what the firmware reads, sample after sample
            buf[0] = v >> 8 & 0xFF
            buf[1] = v & 0xFF
        else:
            _fill(buf, v)
        if memaddr == self.FLAGS_REG and self.on_pin is not None:
            self.on_pin()

    @micropython.native
    def write_mem(self, memaddr, buf):
        """Writes shorter than the register (16 bits at least) only set the pointer."""
        if self._clock.now_us >= self._next:
            self._due()
        if len(buf) < 2:
            return
        v = 0
        for b in buf:
            v = v << 8 | b
        self._store(memaddr, v, len(buf))
        if self.on_pin is not None:
            self.on_pin()

    @micropython.native
    def _store(self, memaddr, v, nbytes):
        """A write to CONFIG (00h) with RST (bit 15) resets every register as at
        power-on and self-clears; other CONFIG writes go to _write_config(v), the
        rest to _write_register(memaddr, v)."""
        if memaddr:
            self._write_register(memaddr, v)
        elif v & 0x8000:
            self._reset()
        else:
            self._write_config(v)

    @micropython.native
    def _write_config(self, v):
        raise NotImplementedError

    @micropython.native
    def _write_register(self, memaddr, v):
        raise NotImplementedError

    @micropython.native
    def _register(self, memaddr):
        """16-bit registers 00h.. (reading FLAGS_REG clears _cleared_by_read()), then IDS."""
        r = self._regs
        if memaddr < len(r):
            v = r[memaddr]
            if memaddr == self.FLAGS_REG:
                r[memaddr] = v & ~self._cleared_by_read(v)
            return v
        return self.IDS.get(memaddr, 0)

    @micropython.native
    def _cleared_by_read(self, flags):
        """The bits a read of FLAGS_REG (holding flags) clears: READY, and alert
        flags where flags has the chip's latch bit set."""
        return self.READY


@micropython.native
def _fill(buf, v):
    """A 16-bit register's bytes, big-endian, repeated to fill buf."""
    for i in range(len(buf)):
        buf[i] = v >> (8 * (1 - i % 2)) & 0xFF


@micropython.native
def counts(value, k, offset, noise, sigma):
    """A reading in 1/1024 LSB: value * k, offset and noise, rounded to an LSB.

    One float multiply per channel, as floats allocate in MicroPython."""
    return int(value * k) + offset + (noise * sigma >> 10) + 512 >> 10


@micropython.native
def sigma(lsb, ref_us, us):
    """Noise rms in 1/1024 LSB: lsb LSB rms for a conversion of ref_us, scaling
    with 1/sqrt(us) (us: the conversion time, times the averages)."""
    return int(1024 * lsb * math.sqrt(ref_us / us) + 0.5)


@micropython.native
def signed16(v):
    """A 16-bit register's two's complement value."""
    return v - 0x10000 if v & 0x8000 else v


@micropython.native
def clip(x, low, high):
    return low if x < low else high if x > high else x
