"""TI INA219 shunt current and bus voltage monitor on I2C (datasheet SBOS448G).

Same contract as ina226.py: the sampling loop reads raw register codes and
compares them with thresholds converted once with bus_code() and
current_code(), so it uses no floats and allocates nothing.

Choices this driver makes (datasheet sections in brackets):
- PGA [Table 4]: the smallest of +-40, 80, 160, 320 mV that holds
  max_current_a * shunt_ohms; more than 320 mV is refused.
- Bus range [BRNG, Table 3]: 32 V unless bus_range_v=16. The pins take at
  most 26 V [7.1]; the 32 V range only sets the ADC scaling.
- Current_LSB [8.5.1, equation 2]: max_current_a / 2**15 rounded up to 1, 2
  or 5 times a power of ten, larger still if CAL would not fit 16 bits.
  CAL = trunc(0.04096 / (Current_LSB * R)) [equation 1] with bit 0 cleared:
  FS0 is void and always reads 0 [Figure 27], so cal is what the chip holds.
  Truncation and FS0 make the true LSB up to 2/cal larger than
  current_lsb_a (0.12 % at the smallest cal, about 1680; typically < 0.02 %).
  Power_LSB = 20 * Current_LSB [equation 3].
- ADC [Table 5]: averages=1 with conversion_us 84, 148, 276 or 532 (9 to 12
  bits); averages 2..128 always convert at 12 bits, so conversion_us must
  then be 532 (the time of one sample, as for the INA226), and one averaged
  result takes Table 5's time (2: 1.06 ms ... 128: 68.10 ms). Shunt and bus
  use the same setting; MODE 111 (both, continuous): sample_period_us is the
  shunt plus the bus conversion.
- No ID registers: presence is the first read (a NAK becomes one OSError
  line), then RST, and the configuration must read back its reset value
  399Fh [Table 2], else "not an INA219".
- No alert function: the INA219 has no ALERT pin and no limit registers (its
  map ends at 05h, Calibration [Table 2]), so this driver has no
  alert_over_current(), alert_over_voltage() or alert(), which the INA226,
  INA228, INA260 and INA3221 drivers have. Compare codes in the loop instead.

Example::

    from machine import I2C, Pin
    from ina219 import INA219

    i2c = I2C(0, sda=Pin(4), scl=Pin(5), freq=400_000)
    ina = INA219(i2c, shunt_ohms=0.1, max_current_a=3.2)  # common breakout: R100
    print(ina.voltage(), "V", ina.current(), "A", ina.power(), "W")
"""
from micropython import const

from inabase import INA, check_shunt, choice, fits, round_up_125

_CONFIG = const(0x00)
_SHUNT = const(0x01)
_BUS = const(0x02)
_POWER = const(0x03)
_CURRENT = const(0x04)
_CAL = const(0x05)

_RST = const(0x8000)
_CONFIG_RESET = const(0x399F)
_MODE_BOTH_CONTINUOUS = const(0x0007)
_CNVR = const(0x0002)
_OVF = const(0x0001)
_CAL_MAX = const(0xFFFE)  # FS15..FS1; FS0 always 0

_PGA_V = (0.04, 0.08, 0.16, 0.32)  # PG codes 0..3: /1, /2, /4, /8
_BUS_RANGE_V = (16, 32)  # BRNG 0, 1
_AVERAGES = (1, 2, 4, 8, 16, 32, 64, 128)  # ADC codes 1000, 1001 .. 1111
_SINGLE_US = (84, 148, 276, 532)  # ADC codes 0000 .. 0011: 9 .. 12 bits
_AVERAGED_US = (532, 1060, 2130, 4260, 8510, 17020, 34050, 68100)  # Table 5 times


class INA219(INA):
    CHIP = 2
    SAMPLE_FORMAT = 1
    bus_lsb_v = 0.004

    def __init__(self, i2c, address=0x40, shunt_ohms=0.1, max_current_a=3.2,
                 averages=1, conversion_us=532, bus_range_v=32):
        n = choice("averages", averages, _AVERAGES)
        if n:
            if conversion_us != 532:
                raise ValueError("INA219: averaging %d samples converts at 12 bits: conversion_us must be 532, not %r"
                                 % (averages, conversion_us))
            adc = 8 | n
        else:
            adc = choice("conversion_us", conversion_us, _SINGLE_US)
        brng = choice("bus_range_v", bus_range_v, _BUS_RANGE_V)
        check_shunt("INA219", shunt_ohms, max_current_a, 0.32)
        pg = 0
        while not fits(max_current_a, shunt_ohms, _PGA_V[pg]):  # on a range edge still fits it
            pg += 1
        super().__init__(i2c, address, "INA219")
        self._answering(_CONFIG)
        self._write(_CONFIG, _RST)
        found = self._read(_CONFIG)
        if found != _CONFIG_RESET:
            raise ValueError("chip at 0x%02x reads configuration 0x%04x after a reset: not an INA219 (0x%04x)"
                             % (address, found, _CONFIG_RESET))
        # Integer nA and uOhm keep CAL exact: 0.04096 A*Ohm = 4.096e13 nA*uOhm.
        shunt_uohm = int(shunt_ohms * 1000000 + 0.5)
        lsb_na = max(max_current_a * 1e9 / 32768, 40960000000000 / (_CAL_MAX * shunt_uohm))
        lsb_na = round_up_125(int(lsb_na) + (int(lsb_na) < lsb_na))
        self.cal = (40960000000000 // (lsb_na * shunt_uohm)) & _CAL_MAX
        self.current_lsb_a = lsb_na / 1e9
        self.pga_v = _PGA_V[pg]
        # the shunt register ends at 4000 counts x the PGA divider; current = shunt x CAL / 4096 [equation 4]
        self.current_code_max = min(0x7FFF, (4000 << pg) * self.cal // 4096)
        self.bus_flags = 0
        self._write(_CAL, self.cal)
        config = brng << 13 | pg << 11 | _MODE_BOTH_CONTINUOUS
        # trip window (no ALERT pin: the station polls): one 12-bit conversion per result, 2 x 532 us
        self._rates(_CONFIG, config | adc << 7 | adc << 3, config | 3 << 7 | 3 << 3, 1064)
        # Typical times; the datasheet allows 10 % more for single conversions
        # (532 us max 586 us), so poll conversion_ready() or leave margin.
        self.sample_period_us = 2 * (_AVERAGED_US[n] if n else conversion_us)

    def bus_raw(self):
        """Bus voltage code, 4 mV per count: bits 15..3 of the bus register.

        The register's low bits are flags, not voltage: bit 1 CNVR (conversion
        ready), bit 0 OVF (the current or power computation overflowed, so
        current_raw() is meaningless). They are kept in bus_flags after each
        call, at no extra bus cost; reading this register clears neither."""
        v = self._read(_BUS)
        self.bus_flags = v & 3
        return v >> 3

    def current_raw(self):
        """Current register code, current_lsb_a per count; negative when the DUT back-feeds."""
        return self._read_signed(_CURRENT)

    def shunt_raw(self):
        """Shunt voltage code, 10 uV per count, signed; clips at +-4000 * PGA divider."""
        return self._read_signed(_SHUNT)

    def power(self):
        """Watts, always >= 0 (the power register is unsigned). Reading it clears CNVR."""
        return self._read(_POWER) * 20 * self.current_lsb_a

    def conversion_ready(self):
        """True once per finished conversion: CNVR only clears when the power
        register is read, so this reads it when CNVR is set."""
        if self._read(_BUS) & _CNVR:
            self._read(_POWER)
            return True
        return False

    def overflow(self):
        """True if the last current or power computation was out of range (OVF)."""
        return bool(self._read(_BUS) & _OVF)
