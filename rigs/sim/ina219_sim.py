"""Register-level model of a TI INA219 (datasheet SBOS448G) for the simulated I2C bus.

`source.sense(now_us)` returns (bus_volts, current_amps): the voltage at IN-
and the current through the shunt, positive from IN+ to IN-.

Modelled after the datasheet:
- registers 00h..05h with their power-on/RST values (Table 2: CONFIG 399Fh,
  the rest 0); RST (bit 15) resets all and self-clears;
- CONFIG fields (Figure 19): BRNG, PG, BADC/SADC with Table 5's resolutions,
  averages and conversion times, MODE (Table 6): power-down, shunt and/or bus
  triggered (each CONFIG write with a triggered mode starts one conversion,
  8.3.1), ADC off, continuous. Shunt then bus converts each period (8.3.1),
  against the virtual clock. Power-down needs 40 us to recover (8.3.1);
- shunt register (8.6.3.1): 10 uV codes clipped to +-4000, 8000, 16000,
  32000 for PGA /1, /2, /4, /8, exactly as Table 7 lists out-of-range inputs;
  stored in 16-bit two's complement, so the extra sign bits of Figures 20-23
  come out as the datasheet shows them;
- bus register (8.6.3.2): 4 mV code in bits 15..3, CNVR bit 1 set when a
  conversion completes and cleared by reading the power register or by a
  CONFIG write with a measuring mode (not power-down or ADC off), OVF bit 0
  set by a conversion whose current or power computation is out of range;
- Current = Shunt * CAL / 4096 (equation 4, truncated towards zero),
  Power = |Current| * Bus / 5000 (equation 5, Bus the 13-bit code; the power
  register has no sign bit, Figure 25); out-of-range results clip and set OVF;
- calibration register (Figure 27): FS0 is void, writes store value & FFFEh.

Assumptions and simplifications (the datasheet does not say):
- a bus voltage above the range's full scale (16 V: 4000, 32 V: 8000) clips
  to it, as the shunt register does (Table 7); pins only take 26 V (7.1);
- a conversion's inputs are one source.sense(now) taken when a bus access
  first finds that conversion complete, and all result registers change
  together at the end of the shunt+bus period, not mid-period;
- Current and Power come from the averaged codes, not per sample;
- reads of pointers 06h..FFh return 0.

Offsets, gains and noise per chip (seed), drawn uniformly within the
datasheet's typical values, 7.5 Electrical Characteristics:
- "Offset voltage, RTI" typ +-10, 20, 30, 40 uV at PGA /1, /2, /4, /8
  (1..4 LSB): one draw per chip, scaled by the PGA setting in use;
- "Current sense gain error" typ +-40 m% = 400 ppm (shunt gain);
- "Bus voltage measurement error" typ +-0.2 %: taken as bus gain error;
  the bus offset is only plotted (Figure 5): assumed +-1 LSB (4 mV).
- noise: no datasheet figure (8.4.1 only says resolution and averaging
  filter it). Assumed 1 LSB rms for one 12-bit 532 us conversion, times the
  offset's PGA factor for the shunt, scaling with 1/sqrt(conversion time),
  so 9-bit (84 us) is 2.5 LSB and 128 averages (68.1 ms) 0.09 LSB.
"""
import micropython

from ina_sim import SimINA, clip, counts, sigma

_SINGLE_US = (84, 148, 276, 532)  # ADC codes 0X00..0X11
_AVERAGED_US = (532, 1060, 2130, 4260, 8510, 17020, 34050, 68100)  # ADC codes 1000..1111
_CONFIG_RESET = 0x399F
_CNVR = 0x0002
_OVF = 0x0001
_BUS_FULL_SCALE = (4000, 8000)  # BRNG 0: 16 V, 1: 32 V
_WAKE_US = 40  # recovery from power-down

_OFFSET_Q = 1024  # 1 LSB (10 uV at PGA /1; times 1..4 with the PGA), in 1/1024 LSB
_SHUNT_GAIN_PPM = 400
_BUS_GAIN_PPM = 2000
_BUS_OFFSET_Q = 1024  # assumed: 1 LSB = 4 mV
_NOISE_REF_US = 532


@micropython.native
def _adc_us(code):
    """Microseconds for one shunt or bus result of a BADC/SADC code (Table 5)."""
    return _AVERAGED_US[code & 7] if code & 8 else _SINGLE_US[code & 3]


class SimINA219(SimINA):
    @micropython.native
    def __init__(self, clock, source, address=0x40, shunt_ohms=0.1, seed=1):
        super().__init__(clock, source, address, seed)
        # shunt 10 uV and bus 4 mV LSBs: 100000 * shunt_ohms LSB per amp, 250 per volt
        self._shunt_k, self._bus_k, self._shunt_offset, self._bus_offset = self._draw_errors(
            shunt_ohms * 100000, _SHUNT_GAIN_PPM, _OFFSET_Q, 250, _BUS_GAIN_PPM, _BUS_OFFSET_Q)
        self._reset()

    @micropython.native
    def _reset(self):
        self._regs = [_CONFIG_RESET, 0, 0, 0, 0, 0]
        self._bus = 0  # 13-bit bus code
        self._flags = 0  # CNVR, OVF
        self._configure(False)

    @micropython.native
    def _configure(self, waking):
        """(Re)start conversions now, as a CONFIG write does."""
        c = self._regs[0]
        mode = c & 7
        bus_us = _adc_us(c >> 7 & 15)
        shunt_us = _adc_us(c >> 3 & 15)
        self._schedule((shunt_us if mode & 1 else 0) + (bus_us if mode & 2 else 0), bool(mode & 4))
        if waking and mode & 3:
            self._next += _WAKE_US
        # noise rms in 1/1024 LSB; the shunt's scales with the PGA, as its offset does
        self._shunt_sigma = sigma((c >> 11 & 3) + 1, _NOISE_REF_US, shunt_us)
        self._bus_sigma = sigma(1, _NOISE_REF_US, bus_us)

    @micropython.native
    def _convert(self):
        """Complete the conversion due now; see the module docstring for the sampling."""
        r = self._regs
        c = r[0]
        volts, amps = self._source.sense(self._clock.now_us)
        flags = _CNVR
        if c & 1:
            pga = (c >> 11 & 3) + 1  # 1, 2, 3, 4 for /1, /2, /4, /8
            full = 4000 << (pga - 1)
            shunt = clip(counts(amps, self._shunt_k, self._shunt_offset * pga, self._noise(), self._shunt_sigma),
                         -full, full)
            r[1] = shunt & 0xFFFF
            current = abs(shunt) * r[5] >> 12
            if current > 32767 + (shunt < 0):
                current = 32767 + (shunt < 0)
                flags |= _OVF
            r[4] = -current & 0xFFFF if shunt < 0 else current
        if c & 2:
            bus = clip(counts(volts, self._bus_k, self._bus_offset, self._noise(), self._bus_sigma),
                       0, _BUS_FULL_SCALE[c >> 13 & 1])
            self._bus = bus
            current = r[4]
            power = (0x10000 - current if current & 0x8000 else current) * bus // 5000
            if power > 0xFFFF:  # cannot happen: 32768 * 8000 // 5000 fits
                power = 0xFFFF
                flags |= _OVF
            r[3] = power
        self._flags = flags

    @micropython.native
    def _register(self, memaddr):
        if memaddr == 2:
            return self._bus << 3 | self._flags
        if memaddr < 6:
            if memaddr == 3:
                self._flags &= ~_CNVR
            return self._regs[memaddr]
        return 0

    @micropython.native
    def _write_config(self, v):
        waking = self._regs[0] & 7 == 0
        self._regs[0] = v
        if v & 3:  # CNVR clears on a new measuring mode, not on power-down or ADC off
            self._flags &= ~_CNVR
        self._configure(waking)

    @micropython.native
    def _write_register(self, memaddr, v):
        """Read-only registers ignore writes."""
        if memaddr == 5:
            self._regs[5] = v & 0xFFFE  # FS0 is void
