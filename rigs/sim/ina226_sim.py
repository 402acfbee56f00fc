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

Offsets, gains and noise: see ina_sim.py.
"""
import math

from ina_sim import SimINA, clip, counts

_AVERAGES = (1, 4, 16, 64, 128, 256, 512, 1024)
_CONVERSION_US = (140, 204, 332, 588, 1100, 2116, 4156, 8244)
_IDS = {0xFE: 0x5449, 0xFF: 0x2260}
_CONFIG_RESET = 0x4127
_CVRF = 0x0008
_OVF = 0x0004
_MASK_READ_ONLY = 0x001C  # AFF, CVRF, OVF

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


class SimINA226(SimINA):
    def __init__(self, clock, source, address=0x40, shunt_ohms=0.01, seed=1):
        super().__init__(clock, source, address, seed)
        # 1/1024 LSB per amp (shunt) and per volt (bus), gain error included
        self._shunt_k = shunt_ohms * 400000 * 1024 * (1000000 + self._uniform(_GAIN_PPM)) / 1000000
        self._bus_k = 800 * 1024 * (1000000 + self._uniform(_GAIN_PPM)) / 1000000
        self._shunt_offset = self._uniform(_OFFSET_Q)
        self._bus_offset = self._uniform(_OFFSET_Q)
        self._reset()

    def _reset(self):
        self._regs = [_CONFIG_RESET, 0, 0, 0, 0, 0, 0, 0]
        self._configure()

    def _configure(self):
        """(Re)start conversions now, as a CONFIG write does."""
        c = self._regs[0]
        averages = _AVERAGES[c >> 9 & 7]
        bus_us = _CONVERSION_US[c >> 6 & 7]
        shunt_us = _CONVERSION_US[c >> 3 & 7]
        self._schedule(averages * ((shunt_us if c & 1 else 0) + (bus_us if c & 2 else 0)), bool(c & 4))
        # noise rms in 1/1024 LSB
        self._shunt_sigma = int(1024 * math.sqrt(_NOISE_REF_US / (shunt_us * averages)) + 0.5)
        self._bus_sigma = int(1024 * math.sqrt(_NOISE_REF_US / (bus_us * averages)) + 0.5)

    def _convert(self):
        """Complete the conversion due now; see the module docstring for the sampling."""
        r = self._regs
        mode = r[0] & 7
        volts, amps = self._source.sense(self._clock.now_us)
        flags = _CVRF
        if mode & 1:
            shunt = clip(counts(amps, self._shunt_k, self._shunt_offset, self._noise(), self._shunt_sigma),
                         -32768, 32767)
            r[1] = shunt & 0xFFFF
            current = abs(shunt) * r[5] >> 11
            if current > 32767 + (shunt < 0):
                current = 32767 + (shunt < 0)
                flags |= _OVF
            r[4] = -current & 0xFFFF if shunt < 0 else current
        if mode & 2:
            bus = clip(counts(volts, self._bus_k, self._bus_offset, self._noise(), self._bus_sigma), 0, 0x7FFF)
            r[2] = bus
            current = r[4]
            power = (0x10000 - current if current & 0x8000 else current) * bus // 20000
            if power > 0xFFFF:
                power = 0xFFFF
                flags |= _OVF
            r[3] = power
        r[6] = r[6] & ~(_CVRF | _OVF) | flags

    def _register(self, memaddr):
        if memaddr < 8:
            v = self._regs[memaddr]
            if memaddr == 6:
                self._regs[6] = v & ~_CVRF
            return v, 2
        return _IDS.get(memaddr, 0), 2

    def _store(self, memaddr, v, nbytes):
        """Read-only registers ignore writes."""
        if nbytes < 2:
            return
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
