"""Register-level model of a TI INA228 (datasheet SLYS021A, May 2022) for the
simulated I2C bus. Section and table numbers below are from that datasheet.

`source.sense(now_us)` returns (bus_volts, current_amps): the voltage at VBUS
and the current through the shunt, positive from IN+ to IN-.

Modelled after the datasheet:
- registers of 16, 24 and 40 bits (Table 7-3) with their reset values: CONFIG
  0000h, ADC_CONFIG FB68h, SHUNT_CAL 1000h, DIAG_ALRT 0001h (MEMSTAT), limits
  as 7.6.1.13-18, MANUFACTURER_ID 5449h, DEVICE_ID 2281h; RST (self-clearing)
  restores them all; read-only registers and reserved bits ignore writes
  (SHUNT_CAL bit 15, SHUNT_TEMPCO bits 15-14, BOVL/BUVL bit 15);
- ADC_CONFIG MODE (shutdown, triggered or continuous; bus, shunt and
  temperature in any combination), VBUSCT/VSHCT/VTCT and AVG: one result every
  AVG * (sum of the enabled conversion times) on the virtual clock, the first
  one CONVDLY (CONFIG, 2 ms steps) later; a write to ADC_CONFIG restarts;
- VSHUNT, VBUS, CURRENT as 20-bit codes left-aligned in 24 bits (low 4 bits
  0), POWER 24-bit unsigned, DIETEMP 16-bit (25 degC and the chip's offset);
- ADCRANGE: 312.5 or 78.125 nV per code, clipped at the 20-bit range
  (+-163.84 / +-40.96 mV); VBUS 195.3125 uV per code, clipped to 0..0x7FFFF;
- CURRENT = VSHUNT * 4096 / SHUNT_CAL, truncated towards zero. That is
  equations 2-4 (SHUNT_CAL = 13107.2e6 * CURRENT_LSB * R, x4 for ADCRANGE=1)
  solved for the code, and 312.5 nV * 13107.2e6 = 4096 (also 78.125 nV * 4 *
  13107.2e6): the datasheet example (8.2.2, Table 8-4: VSHUNT 311040,
  SHUNT_CAL 4050) gives CURRENT 314572. SHUNT_CAL = 0 gives 0 current, power,
  energy and charge (7.3.2);
- POWER = |CURRENT| * VBUS / 2**14 (equation 5 with 195.3125 uV / 3.2 =
  2**-14), truncated;
- MATHOF when CURRENT or POWER overflows (result clipped); it stays set until
  ADC_CONFIG is written or RSTACC (Table 7-16);
- ENERGY and CHARGE (continuous mode only, 7.3.4) add POWER * t and CURRENT * t
  for each completed result, t its conversion period: ENERGY counts
  16 * 3.2 * CURRENT_LSB joules (equation 6), so it is sum(POWER * t[s]) / 16;
  CHARGE counts CURRENT_LSB coulombs (equation 7), sum(CURRENT * t[s]). Kept
  exactly in code*us integers; on overflow the 40-bit registers roll over
  (8.1.2) and ENERGYOF / CHARGEOF are set until the register is read
  (Table 7-16). RSTACC zeroes both, clears MATHOF (Table 7-16) and, assumed,
  ENERGYOF / CHARGEOF, and reads back 0 (the datasheet does not say whether it
  self-clears; the model treats it as a pulse);
- the limit registers' reset values are those of 7.6.1.13-18 (Table 7-1
  swaps TEMP_LIMIT's and PWR_LIMIT's);
- DIAG_ALRT CNVRF set when a result completes, cleared by reading DIAG_ALRT or
  writing ADC_CONFIG with a measuring mode (7.3.4); CNVR, SLOWALERT, APOL
  stored;
- limits (7.3.7, Table 7-16, 7.6.1.13-18): each result compares what it
  converted with the limit registers, whose LSB is 16 result LSBs (8.2.2.4):
  SHNTOL when VSHUNT > SOVL * 16, SHNTUL when VSHUNT < SUVL * 16 (two's
  complement), BUSOL / BUSUL with VBUS and BOVL / BUVL * 16, POL when POWER >
  PWR_LIMIT * 256, TMPOL when DIETEMP > TEMP_LIMIT. Assumed: the comparison is
  at the result's full resolution (the datasheet does not say). With ALATCH a
  flag is set by a result that meets it and cleared only by reading DIAG_ALRT;
  transparent, the flags of what a result converted follow that result.

Simplifications:
- a result's inputs are one source.sense(now) taken when a bus access first
  finds it complete, not the average over its window; energy and charge add
  that result times the time since the last result the model computed (all
  the periods completed in between: the rig may not read the chip for a
  while), which equals the chip's per-conversion sum for a constant input;
- the oscillator is exact (the chip's is +-0.5 %, 6.5 FOSC_TOL), so the
  accumulators integrate virtual time exactly;
- the limits compare each averaged result, as with SLOWALERT = 1, not each
  conversion within the average; the ALERT pin (alert_low()) is asserted
  while a limit flag is set, or CNVRF with CNVR set, low with APOL 0 (7.3.7);
  TEMPCOMP and SHUNT_TEMPCO are not modelled (the die reads 25 degC, where compensation is 1x anyway);
- in triggered mode ENERGY and CHARGE are left unchanged (the datasheet calls
  them invalid there).

Errors (6.5 Electrical Characteristics, TYP column), drawn once per chip
(seed), uniformly within: shunt offset Vos +-0.3 uV (max +-1 uV), shunt gain
error GSERR +-0.01 % (max +-0.05 %), VBUS offset Vos_bus +-1 mV (max
+-2.5 mV), VBUS gain error GBERR +-0.01 % (max +-0.05 %), temperature
+-0.15 degC. Noise: Table 8-2 (noise-free ENOB by conversion time, averaging
and ADCRANGE) read as peak-to-peak = 2**(20 - ENOB) codes = 6.6 sigma; the
table is for the shunt channel, and VBUS is assumed to have the ADCRANGE = 0
code noise at its own conversion time. All integer maths via ina_sim, so a
seed gives identical registers under CPython and MicroPython.
"""
import micropython

from ina_sim import AVERAGES, SimINA, clip, counts, signed16

_CONVERSION_US = (50, 84, 150, 280, 540, 1052, 2074, 4120)  # the INA228's own; AVG is ina_sim.AVERAGES

# Table 8-2, noise-free ENOB x 10; rows AVG code 0..7, columns conversion-time code 0..7
_ENOB_RANGE0 = (
    (124, 126, 133, 138, 142, 145, 153, 160),
    (131, 139, 143, 149, 151, 158, 161, 165),
    (139, 147, 151, 158, 163, 165, 171, 177),
    (150, 159, 164, 169, 177, 177, 181, 187),
    (155, 163, 169, 171, 181, 181, 187, 197),
    (155, 167, 174, 177, 187, 187, 197, 197),
    (167, 174, 177, 187, 187, 197, 197, 197),
    (171, 177, 181, 187, 197, 197, 197, 200),
)
_ENOB_RANGE1 = (
    (104, 104, 114, 118, 124, 126, 133, 138),
    (114, 118, 122, 128, 130, 138, 143, 144),
    (123, 129, 130, 137, 143, 146, 153, 159),
    (133, 138, 144, 145, 153, 159, 163, 165),
    (134, 143, 147, 152, 159, 164, 169, 171),
    (144, 147, 153, 157, 161, 167, 174, 177),
    (143, 154, 155, 163, 165, 174, 177, 187),
    (150, 159, 160, 169, 171, 177, 181, 187),
)
_FRAC_Q = (1024, 1097, 1176, 1261, 1351, 1448, 1552, 1663, 1783, 1911)  # 1024 * 2**(k/10)

_WIDTH = (2, 2, 2, 2, 3, 3, 2, 3, 3, 5, 5, 2, 2, 2, 2, 2, 2, 2)  # bytes, registers 0h..11h
_RESET = (0x0000, 0xFB68, 0x1000, 0, 0, 0, 0, 0, 0, 0, 0, 0x0001,
          0x7FFF, 0x8000, 0x7FFF, 0, 0x7FFF, 0xFFFF)
_WRITABLE = {0x02: 0x7FFF, 0x03: 0x3FFF, 0x0C: 0xFFFF, 0x0D: 0xFFFF, 0x0E: 0x7FFF, 0x0F: 0x7FFF,
             0x10: 0xFFFF, 0x11: 0xFFFF}
_IDS = {0x3E: 0x5449, 0x3F: 0x2281}

_RSTACC = 0x4000
_ADCRANGE = 0x0010
_CONFIG_MASK = 0x3FF0  # CONVDLY, TEMPCOMP, ADCRANGE; bits 3-0 reserved
_DIAG_CONTROL = 0xF000  # ALATCH, CNVR, SLOWALERT, APOL: the rest are flags
_ALATCH = 0x8000
_TMPOL = 0x0080
_SHNTOL = 0x0040
_SHNTUL = 0x0020
_BUSOL = 0x0010
_BUSUL = 0x0008
_POL = 0x0004
_LIMIT_FLAGS = 0x00FC  # TMPOL, SHNTOL, SHNTUL, BUSOL, BUSUL, POL
_ENERGYOF = 0x0800
_CHARGEOF = 0x0400
_MATHOF = 0x0200
_CNVRF = 0x0002
_CNVR = 0x4000
_APOL = 0x1000

_MAX20 = 0x7FFFF
_ENERGY_DIV = 16000000  # POWER code * us per ENERGY count: 16 * 1e6
_CHARGE_DIV = 1000000  # CURRENT code * us per CHARGE count


@micropython.native
def _over_under(value, over, under, over_flag, under_flag):
    """over_flag if a 20-bit result exceeds the 16-bit limit over (times 16),
    under_flag if it is below under (times 16), else 0."""
    if value > over << 4:
        return over_flag
    return under_flag if value < under << 4 else 0


@micropython.native
def _sigma_q(enob10):
    """Noise rms in 1/1024 LSB for a noise-free ENOB (x 10): 2**(20 - ENOB) / 6.6 LSB."""
    e = 200 - enob10
    return (_FRAC_Q[e % 10] << e // 10) * 10 // 66


class SimINA228(SimINA):
    @micropython.native
    def __init__(self, clock, source, address=0x40, shunt_ohms=0.01, seed=1):
        super().__init__(clock, source, address, seed)
        # 1/1024 LSB per amp at ADCRANGE 0 (312.5 nV = 1/3.2e6 V) and per volt on VBUS
        # (195.3125 uV = 1/5120 V), gain error in ppm
        # shunt offset +-300 nV; bus offset +-1 mV = 5.12 LSB, in 1/1024 LSB
        self._shunt_k0, self._bus_k, offset, self._bus_offset = self._draw_errors(
            shunt_ohms * 3200000, 100, 300, 5120, 100, 5243)
        offset = offset * 16384 // 5000  # nV -> 1/1024 of 312.5 nV
        self._shunt_offset = (offset, 4 * offset)  # per ADCRANGE
        self._temp = 3200 + self._uniform(19)  # 25 degC +-0.15 degC in 7.8125 m degC
        self._reset()

    @micropython.native
    def _reset(self):
        self._regs = list(_RESET)
        self._energy = 0  # POWER code * us
        self._charge = 0  # CURRENT code * us
        self._configure()

    @micropython.native
    def _configure(self):
        """(Re)start conversions now, as an ADC_CONFIG write does."""
        r = self._regs
        a = r[1]
        mode = a >> 12
        avg = a & 7
        averages = AVERAGES[avg]
        bus_ct, shunt_ct = a >> 9 & 7, a >> 6 & 7
        cycle = ((_CONVERSION_US[bus_ct] if mode & 1 else 0) + (_CONVERSION_US[shunt_ct] if mode & 2 else 0)
                 + (_CONVERSION_US[a >> 3 & 7] if mode & 4 else 0))
        self._schedule(averages * cycle, bool(mode & 8))
        if self._period:
            self._next += (r[0] >> 6 & 0xFF) * 2000  # CONVDLY
        self._done = self._next - self._period  # end of the last accumulated period
        self._sigma = (_sigma_q(_ENOB_RANGE0[avg][shunt_ct]), _sigma_q(_ENOB_RANGE1[avg][shunt_ct]))
        self._bus_sigma = _sigma_q(_ENOB_RANGE0[avg][bus_ct])

    @micropython.native
    def _convert(self):
        """Complete the result due now; see the module docstring for the sampling."""
        r = self._regs
        mode = r[1] >> 12
        volts, amps = self._source.sense(self._clock.now_us)
        flags = _CNVRF
        checked = hits = 0  # the limit flags this result evaluates, and those it meets
        accumulate = mode & 8
        if accumulate:  # every period completed since the last access counts
            latest = self._next - self._period
            t = latest - self._done
            self._done = latest
        if mode & 2:
            rng = 1 if r[0] & _ADCRANGE else 0
            k = self._shunt_k0 * 4 if rng else self._shunt_k0
            shunt = clip(counts(amps, k, self._shunt_offset[rng], self._noise(), self._sigma[rng]),
                         -_MAX20 - 1, _MAX20)
            r[4] = (shunt & 0xFFFFF) << 4
            checked |= _SHNTOL | _SHNTUL
            hits |= _over_under(shunt, signed16(r[12]), signed16(r[13]), _SHNTOL, _SHNTUL)
            cal = r[2]
            if cal:
                current = abs(shunt) * 4096 // cal
                if current > _MAX20 + (shunt < 0):
                    current = _MAX20 + (shunt < 0)
                    flags |= _MATHOF
                if shunt < 0:
                    current = -current
            else:
                current = 0
            r[7] = (current & 0xFFFFF) << 4
            if accumulate:
                self._charge += current * t
        if mode & 1:
            bus = clip(counts(volts, self._bus_k, self._bus_offset, self._noise(), self._bus_sigma), 0, _MAX20)
            r[5] = bus << 4
            current = r[7] >> 4
            if current & 0x80000:
                current = 0x100000 - current
            power = current * bus >> 14
            if power > 0xFFFFFF:
                power = 0xFFFFFF
                flags |= _MATHOF
            r[8] = power
            checked |= _BUSOL | _BUSUL | _POL
            hits |= _over_under(bus, r[14], r[15], _BUSOL, _BUSUL) | (_POL if power > r[17] << 8 else 0)
            if accumulate:
                self._energy += power * t
        if mode & 4:
            r[6] = self._temp
            checked |= _TMPOL
            hits |= _TMPOL if signed16(self._temp) > signed16(r[16]) else 0
        if accumulate:
            self._accumulators()
        if not r[11] & _ALATCH:  # transparent: what this result checked follows it
            r[11] &= ~checked
        r[11] |= flags | hits

    @micropython.native
    def _accumulators(self):
        """ENERGY and CHARGE registers from the exact sums; 40-bit roll-over."""
        r = self._regs
        energy = self._energy // _ENERGY_DIV
        if energy >> 40:
            self._energy -= (energy >> 40 << 40) * _ENERGY_DIV
            energy &= (1 << 40) - 1
            r[11] |= _ENERGYOF
        charge = self._charge // _CHARGE_DIV
        if not -(1 << 39) <= charge < 1 << 39:
            wrapped = (charge + (1 << 39)) % (1 << 40) - (1 << 39)
            self._charge -= (charge - wrapped) * _CHARGE_DIV
            charge = wrapped
            r[11] |= _CHARGEOF
        r[9] = energy
        r[10] = charge & ((1 << 40) - 1)

    @micropython.native
    def read_mem(self, memaddr, buf):
        """SimINA.read_mem without its per-read tuple and byte loop for the
        common whole-register reads: the rig polls these thousands of times."""
        if self._clock.now_us >= self._next:
            self._due()
        if memaddr < 18 and _WIDTH[memaddr] == 3 and len(buf) == 3:  # no read side effects
            v = self._regs[memaddr]
            buf[0] = v >> 16
            buf[1] = v >> 8 & 0xFF
            buf[2] = v & 0xFF
            return
        v, n = self._register(memaddr)
        for i in range(len(buf)):
            buf[i] = v >> (8 * (n - 1 - i % n)) & 0xFF
        if memaddr == 11 and self.on_pin is not None:
            self.on_pin()

    @micropython.native
    def alert_low(self):
        """The ALERT pin's level is low: asserted (a limit flag, or CNVRF with CNVR) with APOL 0, or not
        with APOL 1."""
        d = self._regs[11]
        asserted = bool(d & _LIMIT_FLAGS or d & _CNVR and d & _CNVRF)
        return asserted != bool(d & _APOL)

    @micropython.native
    def _register(self, memaddr):
        if memaddr < 18:
            r = self._regs
            v = r[memaddr]
            if memaddr == 11:
                r[11] = v & ~self._cleared_by_read(v)
            elif memaddr == 9:
                r[11] &= ~_ENERGYOF
            elif memaddr == 10:
                r[11] &= ~_CHARGEOF
            return v, _WIDTH[memaddr]
        return _IDS.get(memaddr, 0), 2

    @micropython.native
    def _cleared_by_read(self, flags):
        """Reading DIAG_ALRT clears CNVRF and, latched (ALATCH), the limit flags."""
        return _CNVRF | _LIMIT_FLAGS if flags & _ALATCH else _CNVRF

    @micropython.native
    def _store(self, memaddr, v, nbytes):
        """Writes are 16-bit: the first two bytes count, the rest are ignored."""
        super()._store(memaddr, v >> 8 * (nbytes - 2), 2)

    @micropython.native
    def _write_config(self, v):
        r = self._regs
        if v & _RSTACC:  # zero the accumulators; modelled as a pulse (reads back 0)
            self._energy = self._charge = 0
            r[9] = r[10] = 0
            r[11] &= ~(_MATHOF | _ENERGYOF | _CHARGEOF)
        r[0] = v & _CONFIG_MASK

    @micropython.native
    def _write_register(self, memaddr, v):
        """Read-only registers and reserved bits ignore writes."""
        r = self._regs
        if memaddr == 1:
            r[1] = v
            if (v >> 12) & 7:  # a measuring mode: CNVRF and MATHOF clear
                r[11] &= ~(_CNVRF | _MATHOF)
            self._configure()
        elif memaddr == 11:
            r[11] = r[11] & ~_DIAG_CONTROL | v & _DIAG_CONTROL
        elif memaddr in _WRITABLE:
            r[memaddr] = v & _WRITABLE[memaddr]
