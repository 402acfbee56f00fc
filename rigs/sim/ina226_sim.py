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

Alert (6.3.1.2 Alert Pin, 7.1.7 Mask/Enable, 7.1.8 Alert Limit): after each
completed conversion the enabled function in the highest Mask/Enable bit
compares a result register with the Alert Limit register (07h): SOL / SUL
(bits 15, 14) the shunt voltage register (01h; on the INA260, OCL / UCL, its
current register, also 01h), both two's complement; BOL / BUL (13, 12) the
bus voltage register; POL (11) the power register. "Exceeds" is ">", "drops
below" is "<". With LEN (bit 0, latch) AFF (bit 4) is set by a conversion that
meets the condition and cleared only by reading Mask/Enable; without LEN
(transparent) it follows each conversion. Writes do not touch AFF, CVRF, OVF.

Simplifications:
- a conversion's inputs are one source.sense(now) taken when a bus access
  first finds that conversion complete, not the average over its window;
- Current and Power are computed from the averaged shunt and bus codes, not
  averaged per sample as the chip does;
- the alert function compares each averaged result (the registers), not each
  conversion within the average. The ALERT pin (alert_low()) is asserted
  while AFF is set, or CVRF with CNVR (bit 10) set; APOL (bit 1) 0 asserts it
  low (open drain), 1 high.

Offsets, gains and noise: see below and ina_sim.py.
"""
import micropython
from micropython import const

from ina_sim import SimINA, signed16

_CVRF = const(0x0008)
_OVF = const(0x0004)
_MASK_READ_ONLY = const(0x001C)  # AFF, CVRF, OVF
_AFF = const(0x0010)
_LEN = const(0x0001)
_APOL = const(0x0002)
_CNVR = const(0x0400)

# Datasheet 5.5 Electrical Characteristics, typical column: shunt offset
# voltage (RTI) +-2.5 uV = 1 LSB, bus offset voltage (RTI) +-1.25 mV = 1 LSB,
# shunt and bus voltage gain error 0.02 % = 200 ppm. Each chip (seed) draws
# its offsets and gains uniformly within these, offsets in 1/1024 LSB.
_OFFSET_Q = const(1024)
_GAIN_PPM = const(200)
# Noise: the datasheet gives no figure, only a plot of shunt readings at
# three conversion times (Averaging and Conversion Time Considerations).
# Assumed: 1 LSB rms for one 1.1 ms conversion, scaling with
# 1/sqrt(conversion time * averages) (SimINA._configure_226).


class SimINA226(SimINA):
    RESET = (0x4127, 0, 0, 0, 0, 0, 0, 0)  # CONFIG, then 01h..07h
    IDS = {0xFE: 0x5449, 0xFF: 0x2260}
    FLAGS_REG = 6  # Mask/Enable: reading it clears CVRF
    READY = _CVRF
    _CURRENT = 4  # the current register; Power = |Current| * Bus / _POWER_DIV
    _POWER_DIV = 20000

    @micropython.native
    def __init__(self, clock, source, address=0x40, shunt_ohms=0.01, seed=1):
        super().__init__(clock, source, address, seed)
        # shunt 2.5 uV and bus 1.25 mV LSBs: 400000 * shunt_ohms LSB per amp, 800 per volt
        self._shunt_k, self._bus_k, self._shunt_offset, self._bus_offset = self._draw_errors(
            shunt_ohms * 400000, _GAIN_PPM, _OFFSET_Q, 800, _GAIN_PPM, _OFFSET_Q)
        self._reset()

    @micropython.native
    def _configure(self):
        """(Re)start conversions now, as a CONFIG write does."""
        self._configure_226()

    @micropython.native
    def _convert(self):
        """Complete the conversion due now; see the module docstring for the sampling."""
        r = self._regs
        volts, amps = self._source.sense(self._clock.now_us)
        flags = _CVRF
        if r[0] & 1:
            flags |= self._convert_current(amps)
        if r[0] & 2:
            flags |= self._convert_bus(volts)
        r[6] = r[6] & ~(_CVRF | _OVF) | flags
        self._alert()

    @micropython.native
    def _convert_bus(self, volts):
        """Bus voltage (02h) and Power (03h) registers; returns OVF if the power overflowed, else 0."""
        r = self._regs
        # clip(counts(volts, ...), 0, 0x7FFF), inline: this runs at every sample
        bus = int(volts * self._bus_k) + self._bus_offset + (self._noise() * self._bus_sigma >> 10) + 512 >> 10
        bus = 0 if bus < 0 else 0x7FFF if bus > 0x7FFF else bus
        r[2] = bus
        power = r[self._CURRENT]
        power = (0x10000 - power if power & 0x8000 else power) * bus // self._POWER_DIV
        if power > 0xFFFF:
            r[3] = 0xFFFF
            return _OVF
        r[3] = power
        return 0

    @micropython.native
    def _alert(self):
        """AFF after a conversion: see the module docstring."""
        r = self._regs
        m = r[6]
        limit = r[7]
        if m & 0xC000:  # SOL/OCL, SUL/UCL: register 01h, two's complement
            value, limit = signed16(r[1]), signed16(limit)
            hit = value > limit if m & 0x8000 else value < limit
        elif m & 0x3000:  # BOL, BUL
            hit = r[2] > limit if m & 0x2000 else r[2] < limit
        else:  # POL, or no function
            hit = m & 0x0800 and r[3] > limit
        if hit:
            r[6] = m | _AFF
        elif not m & _LEN:
            r[6] = m & ~_AFF

    @micropython.native
    def alert_low(self):
        """The ALERT pin's level is low: asserted (AFF, or CVRF with CNVR) with APOL 0, or not with APOL 1."""
        m = self._regs[6]
        asserted = bool(m & _AFF or m & _CNVR and m & _CVRF)
        return asserted != bool(m & _APOL)

    @micropython.native
    def _cleared_by_read(self, flags):
        """Reading Mask/Enable clears CVRF and, latched (LEN), AFF."""
        return _CVRF | _AFF if flags & _LEN else _CVRF

    @micropython.native
    def _convert_current(self, amps):
        """Shunt (01h) and Current (04h) registers; returns OVF if the current overflowed, else 0."""
        r = self._regs
        # clip(counts(amps, ...), -32768, 32767), inline
        shunt = int(amps * self._shunt_k) + self._shunt_offset + (self._noise() * self._shunt_sigma >> 10) + 512 >> 10
        shunt = -32768 if shunt < -32768 else 32767 if shunt > 32767 else shunt
        r[1] = shunt & 0xFFFF
        current = abs(shunt) * r[5] >> 11
        if current > 32767 + (shunt < 0):
            r[4] = 0x8000 if shunt < 0 else 0x7FFF  # -32768 or 32767, as far as it goes
            return _OVF
        r[4] = -current & 0xFFFF if shunt < 0 else current
        return 0

    @micropython.native
    def _write_config(self, v):
        self._regs[0] = v
        if v & 3:  # CVRF is cleared by a CONFIG write, except selecting power-down
            self._regs[6] &= ~_CVRF
        self._configure()

    @micropython.native
    def _write_register(self, memaddr, v):
        """Read-only registers ignore writes."""
        r = self._regs
        if memaddr == 5:
            r[5] = v & 0x7FFF  # bit 15 reserved, reads 0
        elif memaddr == 6:
            r[6] = r[6] & _MASK_READ_ONLY | v & ~_MASK_READ_ONLY
        elif memaddr == 7:
            r[7] = v
