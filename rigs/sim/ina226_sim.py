"""Register-level model of a TI INA226 (datasheet SBOS547) for the simulated I2C bus.

`source.sense(now_us)` returns (bus_volts, current_amps): the voltage at VBUS
and the current through the shunt, positive from IN+ to IN-.

Modelled after the datasheet: power-on/RST register values, the CONFIG fields
(AVG, VBUSCT, VSHCT, MODE: continuous, triggered or power-down, shunt and/or
bus) with the typical conversion times against the virtual clock, 2.5 uV
shunt and 1.25 mV bus codes clipped to the register ranges, Current =
Shunt * CAL / 2048 (equation 3, truncated towards zero), Power =
|Current| * Bus / 20000 (equation 4; the register is unsigned), OVF when
either overflows 16 bits, CVRF set by each completed
conversion and cleared by reading Mask/Enable or by writing CONFIG with a
measuring mode. Result registers change only when a conversion completes.

Simplifications:
- a conversion's inputs are one source.sense(now) taken when a bus access
  first finds that conversion complete, not the average over its window;
- Current and Power are computed from the averaged shunt and bus codes, not
  averaged per sample as the chip does;
- the Alert pin, the limit functions and AFF are not modelled (the Alert
  Limit register is stored only).

Offsets, gains and noise come from a seeded xorshift32 and integer arithmetic
(plus one IEEE multiply per channel), so a seed gives the same registers under
CPython and MicroPython.
"""
import math

_AVERAGES = (1, 4, 16, 64, 128, 256, 512, 1024)
_CONVERSION_US = (140, 204, 332, 588, 1100, 2116, 4156, 8244)
_IDS = {0xFE: 0x5449, 0xFF: 0x2260}
_CONFIG_RESET = 0x4127
_CVRF = 0x0008
_OVF = 0x0004
_MASK_READ_ONLY = 0x001C  # AFF, CVRF, OVF
_NEVER = 1 << 60  # virtual us; still a small int on 64-bit MicroPython

# Datasheet 5.5 Electrical Characteristics, typical column: shunt offset
# voltage (RTI) +-2.5 uV = 1 LSB, bus offset voltage (RTI) +-1.25 mV = 1 LSB,
# shunt and bus voltage gain error 0.02 % = 200 ppm. Each chip (seed) draws
# its offsets and gains uniformly within these, offsets in 1/1024 LSB.
_OFFSET_Q = 1024
_GAIN_PPM = 200
# Noise: the datasheet gives no figure, only a plot of shunt readings at
# three conversion times (Averaging and Conversion Time Considerations).
# Assumed: 1 LSB rms for one 1.1 ms conversion, scaling with
# 1/sqrt(conversion time * averages).
_NOISE_REF_US = 1100


class SimINA226:
    def __init__(self, clock, source, address=0x40, shunt_ohms=0.01, seed=1):
        self.address = address
        self._clock = clock
        self._source = source
        self._x = ((seed + 1) * 0x9E3779B1) & 0xFFFFFFFF or 1
        # 1/1024 LSB per amp (shunt) and per volt (bus), gain error included
        self._shunt_k = shunt_ohms * 400000 * 1024 * (1000000 + self._uniform(_GAIN_PPM)) / 1000000
        self._bus_k = 800 * 1024 * (1000000 + self._uniform(_GAIN_PPM)) / 1000000
        self._shunt_offset = self._uniform(_OFFSET_Q)
        self._bus_offset = self._uniform(_OFFSET_Q)
        self._reset()

    def _rand(self):
        x = self._x
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self._x = x
        return x

    def _uniform(self, m):
        return self._rand() % (2 * m + 1) - m

    def _noise(self):
        """Near-Gaussian (sum of three uniforms), mean 0, rms 1024."""
        r = self._rand()
        return 2 * ((r & 1023) + (r >> 10 & 1023) + (r >> 20 & 1023)) - 3069

    def _reset(self):
        self._regs = [_CONFIG_RESET, 0, 0, 0, 0, 0, 0, 0]
        self._configure()

    def _configure(self):
        """(Re)start conversions now, as a CONFIG write does."""
        c = self._regs[0]
        averages = _AVERAGES[c >> 9 & 7]
        bus_us = _CONVERSION_US[c >> 6 & 7]
        shunt_us = _CONVERSION_US[c >> 3 & 7]
        self._period = averages * ((shunt_us if c & 1 else 0) + (bus_us if c & 2 else 0))
        self._next = self._clock.now_us + self._period if self._period else _NEVER
        # noise rms in 1/1024 LSB
        self._shunt_sigma = int(1024 * math.sqrt(_NOISE_REF_US / (shunt_us * averages)) + 0.5)
        self._bus_sigma = int(1024 * math.sqrt(_NOISE_REF_US / (bus_us * averages)) + 0.5)

    def _convert(self):
        """Complete the conversion(s) due by now; see the module docstring for the sampling."""
        now = self._clock.now_us
        r = self._regs
        mode = r[0] & 7
        if mode & 4:  # continuous: the next completion after now
            self._next += ((now - self._next) // self._period + 1) * self._period
        else:  # triggered: one conversion, then idle
            self._next = _NEVER
        volts, amps = self._source.sense(now)
        flags = _CVRF
        if mode & 1:
            # integer 1/1024 LSB: one float operation per channel, as floats allocate in MicroPython
            x = int(amps * self._shunt_k) + self._shunt_offset + (self._noise() * self._shunt_sigma >> 10)
            shunt = min(max(x + 512 >> 10, -32768), 32767)
            r[1] = shunt & 0xFFFF
            current = abs(shunt) * r[5] >> 11
            if current > 32767 + (shunt < 0):
                current = 32767 + (shunt < 0)
                flags |= _OVF
            r[4] = -current & 0xFFFF if shunt < 0 else current
        if mode & 2:
            x = int(volts * self._bus_k) + self._bus_offset + (self._noise() * self._bus_sigma >> 10)
            bus = min(max(x + 512 >> 10, 0), 0x7FFF)
            r[2] = bus
            current = r[4]
            power = (0x10000 - current if current & 0x8000 else current) * bus // 20000
            if power > 0xFFFF:
                power = 0xFFFF
                flags |= _OVF
            r[3] = power
        r[6] = r[6] & ~(_CVRF | _OVF) | flags

    def read_mem(self, memaddr, buf):
        """The pointed register's bytes, big-endian, repeated to fill buf."""
        if self._clock.now_us >= self._next:
            self._convert()
        if memaddr < 8:
            v = self._regs[memaddr]
            if memaddr == 6:
                self._regs[6] = v & ~_CVRF
        else:
            v = _IDS.get(memaddr, 0)
        if len(buf) == 2:
            buf[0] = v >> 8
            buf[1] = v & 0xFF
        else:
            for i in range(len(buf)):
                buf[i] = v & 0xFF if i & 1 else v >> 8

    def write_mem(self, memaddr, buf):
        """Writes of fewer than 2 bytes only set the pointer; read-only registers ignore writes."""
        if self._clock.now_us >= self._next:
            self._convert()
        if len(buf) < 2:
            return
        v = buf[0] << 8 | buf[1]
        r = self._regs
        if memaddr == 0:
            if v & 0x8000:  # RST: same as power-on reset, self-clearing
                self._reset()
                return
            r[0] = v
            if v & 3:  # CVRF is cleared by a CONFIG write, except selecting power-down
                r[6] &= ~_CVRF
            self._configure()
        elif memaddr == 5:
            r[5] = v & 0x7FFF  # bit 15 reserved, reads 0
        elif memaddr == 6:
            r[6] = r[6] & _MASK_READ_ONLY | v & ~_MASK_READ_ONLY
        elif memaddr == 7:
            r[7] = v
