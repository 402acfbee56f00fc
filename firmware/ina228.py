"""TI INA228 20-bit shunt current, bus voltage, power, energy and charge monitor
on I2C (datasheet SLYS021A, May 2022; section numbers below are from it).

As with the INA226 driver, the sampling loop reads raw register codes and
compares them with thresholds converted once by bus_code() and current_code():
bus_raw(), current_raw() and shunt_raw() allocate nothing and keep every
intermediate value below 2**30, a small int even on the RP2040. The energy
and charge accumulators are read once at the end of a run and may allocate.

Setup, following 8.1.2:
- ADCRANGE (CONFIG bit 4) is 1 (+-40.96 mV, 78.125 nV/LSB) when
  max_current_a * shunt_ohms fits in it, else 0 (+-163.84 mV, 312.5 nV/LSB);
  more than 163.84 mV is refused.
- Equation 2: SHUNT_CAL = 13107.2e6 * CURRENT_LSB * R_shunt, times 4 when
  ADCRANGE = 1, with CURRENT_LSB = max_current_a / 2**19 (equation 3). That is
  25000 * max_current_a * R_shunt (* 4): it is rounded UP to an integer, so the
  largest current still fits the 20-bit CURRENT register, and current_lsb_a is
  the LSB the chip really applies with that integer (equal to
  max_current_a / 2**19 when SHUNT_CAL comes out whole, as for 3.2 A through
  10 mOhm, else larger by less than 1 / SHUNT_CAL).
- ADC_CONFIG MODE Bh: continuous shunt and bus voltage, temperature off (a
  faster sample period; temperature compensation is not used). VBUSCT = VSHCT =
  conversion_us, VTCT left at its reset value, AVG = averages.

Scaling (8.1.2, equations 4 to 7): current = CURRENT * current_lsb_a, power =
POWER * 3.2 * current_lsb_a, energy = ENERGY * energy_lsb_j with energy_lsb_j =
16 * 3.2 * current_lsb_a, charge = CHARGE * charge_lsb_c with charge_lsb_c =
current_lsb_a. The chip accumulates energy and charge only in continuous mode.

Alert limits (7.3.7 Multi-Alert Monitoring, DIAG_ALRT 7.6.1.12 / Table 7-16,
SOVL 7.6.1.13, BOVL 7.6.1.15, 8.2.2.4 Set Desired Fault Thresholds): separate
16-bit limit registers whose LSB is 16 LSBs of the 20-bit result (8.2.2.4:
"the effective LSB size ... is 16 times greater"); both alerts can be armed
at once. alert_over_current(amps) writes SOVL (0Ch, two's
complement, 5 uV per code at ADCRANGE 0, 1.25 uV at ADCRANGE 1): floor(amps *
shunt_ohms / LSB), the 8.2.2.4 example 10 A * 16.2 mOhm / 5 uV = 32400 (7E90h).
alert_over_voltage(volts) writes BOVL (0Eh, 15 bits, 3.125 mV per code): 52 V
is 16640 (4100h). alert_under_current(amps) writes SUVL (0Dh, SOVL's scale;
flag SHNTUL), the station's trip timing; alert_off() puts SUVL back at 8000h. DIAG_ALRT gets ALATCH (latched), APOL 0 (active low),
SLOWALERT 0 (each conversion is compared, not only the averaged result: the
faster trip) and CNVR 0: 8000h. alert() reads SHNTOL or BUSOL; reading
DIAG_ALRT clears CNVRF and, latched, those flags (see inabase.AlertingINA).
The datasheet does not say how a 20-bit result meets a 16-bit limit; if the
chip compares only the result's top 16 bits, it trips up to one limit LSB
(5 or 1.25 uV, 3.125 mV) above the threshold rather than at it.

Example::

    from machine import I2C, Pin
    from ina228 import INA228

    i2c = I2C(0, sda=Pin(4), scl=Pin(5), freq=400_000)
    ina = INA228(i2c, shunt_ohms=0.01, max_current_a=3.2)
    ina.reset_accumulators()
    ...
    print(ina.energy_raw() * ina.energy_lsb_j, "J", ina.charge_raw() * ina.charge_lsb_c, "C")
"""
from micropython import const

from inabase import AVERAGES, AlertingINA, check_shunt, choice, limit_code

_CONFIG = const(0x00)
_ADC_CONFIG = const(0x01)
_SHUNT_CAL = const(0x02)
_VSHUNT = const(0x04)
_VBUS = const(0x05)
_CURRENT = const(0x07)
_POWER = const(0x08)
_ENERGY = const(0x09)
_CHARGE = const(0x0A)
_DIAG_ALRT = const(0x0B)
_SOVL = const(0x0C)
_SUVL = const(0x0D)
_SUVL_NEVER = const(0x8000)  # its reset value: no reading is below it
_BOVL = const(0x0E)
_MANUFACTURER_ID = const(0x3E)
_DEVICE_ID = const(0x3F)

_RSTACC = const(0x4000)
_ADCRANGE = const(0x0010)
_ADC_BASE = const(0xB028)  # MODE Bh: continuous shunt + bus; VTCT 5h (1052 us, reset value, unused)
_CNVRF = const(0x0002)
_MATHOF = const(0x0200)
_ALATCH = const(0x8000)  # DIAG_ALRT bit 15; CNVR, SLOWALERT, APOL (14..12) stay 0
_SHNTOL = const(0x0040)
_SHNTUL = const(0x0020)
_BUSOL = const(0x0010)
_CAL_MAX = const(0x7FFF)  # SHUNT_CAL bit 15 is reserved
_SIGN20 = const(0x80000)
_WRAP20 = const(0x100000)

# Table 7-6: AVG codes 0..7 are inabase.AVERAGES; the conversion times are the INA228's own
_CONVERSION_US = (50, 84, 150, 280, 540, 1052, 2074, 4120)  # VBUSCT/VSHCT codes 0..7 (Table 7-6)


class INA228(AlertingINA):
    CHIP = 3
    SAMPLE_FORMAT = 2
    bus_lsb_v = 195.3125e-6
    FLAGS_REG = _DIAG_ALRT  # conversion_ready(): CNVRF, cleared by reading DIAG_ALRT
    READY = _CNVRF
    ALERT = _SHNTOL | _SHNTUL | _BUSOL  # alert(): shunt over or under limit, bus over limit

    def __init__(self, i2c, address=0x40, shunt_ohms=0.01, max_current_a=3.2,
                 averages=16, conversion_us=1052):
        avg = choice("averages", averages, AVERAGES)
        ct = choice("conversion_us", conversion_us, _CONVERSION_US)
        check_shunt("INA228", shunt_ohms, max_current_a, 0.16384)
        # Integer uA and uOhm keep the range choice and SHUNT_CAL exact:
        # 25000 * I * R = uA * uOhm / 4e7, and 40.96 mV = 4.096e10 uA*uOhm.
        shunt_uohm = int(shunt_ohms * 1000000 + 0.5)
        max_ua = int(max_current_a * 1000000 + 0.5)
        if shunt_uohm < 1:
            raise ValueError("shunt_ohms must be at least 1 uOhm")
        k = 4 if max_ua * shunt_uohm <= 40960000000 else 1
        cal = (max_ua * shunt_uohm * k + 39999999) // 40000000
        if cal > _CAL_MAX:  # cannot happen within 163.84 mV (cal <= 4096); kept as a guard
            raise ValueError("INA228: SHUNT_CAL %d does not fit 15 bits" % cal)
        super().__init__(i2c, address, "INA228")
        self._buf3 = bytearray(3)
        self._buf5 = bytearray(5)
        self._identify_and_reset(_MANUFACTURER_ID, _DEVICE_ID, 0x2281)
        self._config = _ADCRANGE if k == 4 else 0
        self.adcrange = 1 if k == 4 else 0
        self.shunt_lsb_v = 78.125e-9 if k == 4 else 312.5e-9
        self.cal = cal
        self._shunt_uohm = shunt_uohm
        # CURRENT_LSB = SHUNT_CAL / (13107.2e6 * R * k) = 40 * cal / (2**19 * uOhm * k),
        # one rounding from exact integers
        self.current_lsb_a = cal * 40 / (524288 * shunt_uohm * k)
        # the 20-bit CURRENT register's end, or the shunt range's (40.96 or 163.84 mV) if that comes first
        self.current_code_max = min(0x7FFFF, int((40960 if k == 4 else 163840) / shunt_uohm / self.current_lsb_a))
        self.energy_lsb_j = 16 * 3.2 * self.current_lsb_a
        self.charge_lsb_c = self.current_lsb_a
        self._write(_CONFIG, self._config)
        self._write(_SHUNT_CAL, cal)
        # restarts conversions; trip window: one 280 us shunt and bus conversion per result, 560 us
        self._rates(_ADC_CONFIG, _ADC_BASE | ct << 9 | ct << 6 | avg, _ADC_BASE | 3 << 9 | 3 << 6, 560)
        # One averaged result needs a bus and a shunt conversion per sample. Typical
        # times, subject to the +-0.5 % (+-1 % over temperature) oscillator.
        self.sample_period_us = averages * 2 * conversion_us

    def _read20(self, reg):
        """A 20-bit code left-aligned in a 24-bit register, as 0..0xFFFFF."""
        b = self._buf3
        self._i2c.readfrom_mem_into(self._address, reg, b)
        return b[0] << 12 | b[1] << 4 | b[2] >> 4

    def _read20_signed(self, reg):
        v = self._read20(reg)
        return v - _WRAP20 if v & _SIGN20 else v

    def _read40(self, reg):
        b = self._buf5
        self._i2c.readfrom_mem_into(self._address, reg, b)
        return int.from_bytes(b, "big")

    def bus_raw(self):
        """Bus voltage code, 195.3125 uV per count (0..0x7FFFF)."""
        return self._read20(_VBUS)

    def current_raw(self):
        """Current code, current_lsb_a per count; negative when the DUT back-feeds."""
        return self._read20_signed(_CURRENT)

    def shunt_raw(self):
        """Shunt voltage code, shunt_lsb_v per count (312.5 or 78.125 nV), signed."""
        return self._read20_signed(_VSHUNT)

    def power(self):
        """Watts, always >= 0: the POWER register is unsigned (equation 5)."""
        b = self._buf3
        self._i2c.readfrom_mem_into(self._address, _POWER, b)
        return (b[0] << 16 | b[1] << 8 | b[2]) * 3.2 * self.current_lsb_a

    def alert_over_current(self, amps):
        """Alert when the shunt voltage exceeds amps * shunt_ohms: SOVL, 5 uV
        (ADCRANGE 0) or 1.25 uV (ADCRANGE 1) = 5e6 or 1.25e6 uA*uOhm per code.
        Independent of alert_over_voltage(). Returns the SOVL code."""
        lsb = 1250000 if self.adcrange else 5000000
        return self._alert(_SOVL, limit_code(amps, "A", self._shunt_uohm, lsb, -32768, 32767))

    def alert_over_voltage(self, volts):
        """Alert when the bus voltage exceeds volts: BOVL, 3.125 mV per code
        (bit 15 reserved). Independent of alert_over_current(). Returns the code."""
        return self._alert(_BOVL, limit_code(volts, "V", 1, 3125, 0, 0x7FFF))

    def alert_under_current(self, amps):
        """Alert when the shunt voltage falls below amps * shunt_ohms: SUVL (0Dh, 7.6.1.14), the
        SOVL's scale. Returns the SUVL code."""
        lsb = 1250000 if self.adcrange else 5000000
        return self._alert(_SUVL, limit_code(amps, "A", self._shunt_uohm, lsb, -32768, 32767))

    def alert_off(self):
        """SUVL back to its reset value (no reading is below it), the latched flags dropped."""
        self._alert(_SUVL, _SUVL_NEVER)

    def _alert(self, limit_reg, code):
        self._arm(_ALATCH, limit_reg, code, _ALATCH)
        return code

    def reset_accumulators(self):
        """Zero ENERGY and CHARGE (CONFIG RSTACC); also clears MATHOF.

        The datasheet does not say that RSTACC self-clears, so CONFIG is written
        again without it: correct whether the bit is a pulse or a level."""
        self._write(_CONFIG, self._config | _RSTACC)
        self._write(_CONFIG, self._config)

    def energy_raw(self):
        """ENERGY code, 40-bit unsigned, energy_lsb_j per count; rolls over to 0."""
        return self._read40(_ENERGY)

    def charge_raw(self):
        """CHARGE code, 40-bit two's complement, charge_lsb_c per count."""
        v = self._read40(_CHARGE)
        return v - (1 << 40) if v >> 39 else v

    def energy(self):
        return self.energy_raw() * self.energy_lsb_j

    def charge(self):
        return self.charge_raw() * self.charge_lsb_c

    def overflow(self):
        """True if a current or power computation overflowed (MATHOF, sticky until
        ADC_CONFIG is written or reset_accumulators()). Its read of DIAG_ALRT
        clears CNVRF and latched alert flags in the chip; _flag() keeps them."""
        return self._flag(_MATHOF)
