"""Register-level model of a TI INA3221 (datasheet SBOS576) for the simulated I2C bus.

`source.sense(now_us)` returns (bus_volts, current_amps) for the channel
given as `channel` (1..3): the voltage at its IN- pin and the current through
its shunt, positive from IN+ to IN-. attach(channel, source, shunt_ohms)
connects another channel to a source of its own (a rig testing up to three
power banks on one chip). A channel with no source sees 0 V and 0 A, so it
reads its offsets and noise only.

Modelled after the datasheet (7.6 Register Maps): power-on/RST values
(CONFIG 7127h, critical and warning limits 7FF8h, shunt-voltage sum limit
7FFEh, Mask/Enable 0002h, power-valid limits 2710h and 2328h, IDs 5449h and
3220h); the CONFIG fields CH1en..CH3en (bits 14..12), AVG, VBUSCT, VSHCT and
MODE (continuous, triggered or power-down, shunt and/or bus) with the typical
conversion times against the virtual clock. One result period is
averages * sum over the enabled channels of (VSHCT + VBUSCT) for the measured
quantities (7.4.2); CVRF (Mask/Enable bit 0) is set when all enabled
channels are done and cleared by reading Mask/Enable or by writing CONFIG
with a measuring mode and a channel enabled. Shunt codes are 13-bit signed,
40 uV per count, clipped to -4096..4095 (-163.84..163.8 mV); bus codes 8 mV
per count, clipped to 0..4095 (32.76 V); both sit in bits 15..3. The
Shunt-Voltage Sum register (0Dh, bits 15..1, 40 uV per count) adds the shunt
codes of the channels selected by SCC1..SCC3 (Mask/Enable bits 14..12).
The limit registers (07h..0Ch, 0Eh, 10h, 11h) store all 16 bits (the
power-valid limit field tables mark every bit R/W, reserved ones too; assumed
for all); disabled channels keep their last results.

Alerts (7.3.2.1 Critical Alert, 7.3.2.2 Warning Alert, 7.6.2.8-16): each
enabled channel's shunt code (13 bits, two's complement) is compared with its
critical limit (07h, 09h, 0Bh; bits 15..3) and warning limit (08h, 0Ah, 0Ch):
above it sets CF1..CF3 (Mask/Enable bits 9..7) or WF1..WF3 (bits 5..3); the
shunt-voltage sum above its limit (0Eh, bits 15..1) sets SF (bit 6). With CEN
(bit 10) the critical flags and SF, with WEN (bit 11) the warning flags, are
latched: set by a result that exceeds, cleared only by reading Mask/Enable.
Without, they follow each result of their channel. The power-on limits (full
scale) never trip.

Simplifications:
- one sense(now) per completed cycle for every enabled channel with a
  source: the chip converts the channels one after the other, so their
  registers update at different times within a cycle;
- the sum register adds averaged codes, not single conversions;
- the critical limit is compared with each averaged result, not with each
  single conversion as the chip does; the alert pins, and the PV and TC
  functions, are not modelled (TCF keeps its power-on 1, PVF reads 0).

Errors (Electrical Characteristics, VS = 3.3 V, typical column: 6.5 in
SBOS576C, page 3 of SBOS576A): shunt offset voltage (RTI) +-40 uV = 1 count,
bus offset voltage (RTI) +-8 mV = 1 count, shunt and bus voltage gain error
0.1 % = 1000 ppm (max: 80 uV, 16 mV, 0.25 %).
Each channel (seed) draws its offsets and gains uniformly within these,
offsets in 1/1024 count. Noise: the datasheet gives no figure; assumed
0.5 count rms for one 1.1 ms conversion, scaling with
1/sqrt(conversion time * averages). See ina_sim.py for the arithmetic.
"""
import micropython

from ina_sim import SimINA, clip, counts, signed16

_RESET = (0x7127,  # 00h CONFIG: all channels, AVG 1, 1.1 ms, shunt+bus continuous
          0, 0, 0, 0, 0, 0,  # 01h..06h results
          0x7FF8, 0x7FF8, 0x7FF8, 0x7FF8, 0x7FF8, 0x7FF8,  # 07h..0Ch critical/warning limits
          0, 0x7FFE,  # 0Dh shunt-voltage sum, 0Eh its limit
          0x0002,  # 0Fh Mask/Enable: TCF high
          0x2710, 0x2328)  # 10h, 11h power-valid upper (10 V) and lower (9 V) limits
_MASK_ENABLE = 0x0F
_CVRF = 0x0001
_CF1 = 0x0200  # CF2, CF3: 0x0100, 0x0080
_WF1 = 0x0020  # WF2, WF3: 0x0010, 0x0008
_SF = 0x0040
_CEN = 0x0400
_WEN = 0x0800
_CRITICAL_FLAGS = 0x03C0  # CF1..CF3, SF
_WARNING_FLAGS = 0x0038
_MASK_WRITABLE = 0x7C00  # SCC1..SCC3, WEN, CEN; the flags are read-only
_LIMITS = (0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0E, 0x10, 0x11)

_OFFSET_Q = 1024  # +-1 count, in 1/1024 count
_GAIN_PPM = 1000
_NOISE_COUNTS = 0.5  # for one 1.1 ms conversion


class SimINA3221(SimINA):
    RESET = _RESET
    IDS = {0xFE: 0x5449, 0xFF: 0x3220}
    FLAGS_REG = _MASK_ENABLE  # reading it clears CVRF
    READY = _CVRF

    @micropython.native
    def __init__(self, clock, source, address=0x40, shunt_ohms=0.1, seed=1, channel=1):
        if not 0x40 <= address <= 0x43:
            raise ValueError("an INA3221 answers at 0x40..0x43 only, not 0x%02x" % address)
        if channel not in (1, 2, 3):
            raise ValueError("channel must be 1, 2 or 3, not %r" % (channel,))
        super().__init__(clock, source, address, seed)
        self._sources = [None, None, None]
        self._sources[channel - 1] = source
        self._shunt_ohms = shunt_ohms
        # per channel, 1/1024 count per amp (shunt: 25000 counts per volt) and per
        # volt (bus: 125 counts per volt), gain error included
        self._shunt_k = []
        self._bus_k = []
        self._shunt_offset = []
        self._bus_offset = []
        for _ in range(3):
            shunt_k, bus_k, shunt_offset, bus_offset = self._draw_errors(
                shunt_ohms * 25000, _GAIN_PPM, _OFFSET_Q, 125, _GAIN_PPM, _OFFSET_Q)
            self._shunt_k.append(shunt_k)
            self._bus_k.append(bus_k)
            self._shunt_offset.append(shunt_offset)
            self._bus_offset.append(bus_offset)
        self._reset()

    def attach(self, channel, source, shunt_ohms):
        """Connect channel (1..3) to source through shunt_ohms (its gain error stays the channel's)."""
        self._sources[channel - 1] = source
        self._shunt_k[channel - 1] = self._shunt_k[channel - 1] * shunt_ohms / self._shunt_ohms

    @micropython.native
    def _configure(self):
        """(Re)start conversions now, as a CONFIG write does: each enabled channel in turn."""
        c = self._regs[0]
        self._configure_226((c >> 14 & 1) + (c >> 13 & 1) + (c >> 12 & 1), _NOISE_COUNTS)

    @micropython.native
    def _convert(self):
        """Complete the cycle due now over the enabled channels; see the module docstring."""
        r = self._regs
        c = r[0]
        checked = hits = 0  # the alert flags this result evaluates, and those it sets
        for ch in range(3):
            if not c & 0x4000 >> ch:
                continue
            source = self._sources[ch]
            v, a = source.sense(self._clock.now_us) if source is not None else (0.0, 0.0)
            if c & 1:
                shunt = clip(counts(a, self._shunt_k[ch], self._shunt_offset[ch], self._noise(), self._shunt_sigma),
                             -4096, 4095)
                r[1 + 2 * ch] = shunt << 3 & 0xFFFF
                checked |= (_CF1 | _WF1) >> ch
                hits |= ((_CF1 if shunt > signed16(r[7 + 2 * ch]) >> 3 else 0)
                         | (_WF1 if shunt > signed16(r[8 + 2 * ch]) >> 3 else 0)) >> ch
            if c & 2:
                bus = clip(counts(v, self._bus_k[ch], self._bus_offset[ch], self._noise(), self._bus_sigma), 0, 4095)
                r[2 + 2 * ch] = bus << 3
        if c & 1:
            total = 0
            for ch in range(3):
                if r[_MASK_ENABLE] & 0x4000 >> ch:
                    total += signed16(r[1 + 2 * ch]) >> 3
            r[0x0D] = total << 1 & 0xFFFE
            checked |= _SF
            hits |= _SF if total > signed16(r[0x0E]) >> 1 else 0
        m = r[_MASK_ENABLE]
        r[_MASK_ENABLE] = m & ~(checked & ~self._latched(m)) | hits | _CVRF

    @micropython.native
    def _latched(self, m):
        """The alert flags Mask/Enable m latches: CEN the critical ones and SF, WEN the warning ones."""
        return (_CRITICAL_FLAGS if m & _CEN else 0) | (_WARNING_FLAGS if m & _WEN else 0)

    @micropython.native
    def _cleared_by_read(self, flags):
        """Reading Mask/Enable clears CVRF and the latched alert flags."""
        return _CVRF | self._latched(flags)

    @micropython.native
    def _write_config(self, v):
        self._regs[0] = v
        if v & 3 and v & 0x7000:  # CVRF is cleared unless power-down or no channel is selected
            self._regs[_MASK_ENABLE] &= ~_CVRF
        self._configure()

    @micropython.native
    def _write_register(self, memaddr, v):
        """Read-only registers ignore writes."""
        r = self._regs
        if memaddr == _MASK_ENABLE:
            r[memaddr] = r[memaddr] & ~_MASK_WRITABLE | v & _MASK_WRITABLE
        elif memaddr in _LIMITS:
            r[memaddr] = v
