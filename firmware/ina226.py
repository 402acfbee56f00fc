"""TI INA226 shunt current and bus voltage monitor on I2C (datasheet SBOS547).

The sampling loop reads raw register codes and compares them with thresholds
converted once with bus_code() and current_code(), so it uses no floats and
allocates nothing; voltage(), current() and power() are for humans.

Example::

    import time
    from machine import I2C, Pin
    from ina226 import INA226

    i2c = I2C(0, sda=Pin(4), scl=Pin(5), freq=400_000)
    ina = INA226(i2c, shunt_ohms=0.01, max_current_a=3.2)
    print(ina.voltage(), "V", ina.current(), "A", ina.power(), "W")
    cutoff = ina.bus_code(3.0)  # stop the discharge below 3.0 V
    while ina.bus_raw() > cutoff:
        time.sleep_us(ina.sample_period_us)  # faster only re-reads the same result

Alert (SBOS547 6.3.1.2 Alert Pin, 7.1.7 Mask/Enable, 7.1.8 Alert Limit):
alert_over_current(amps) programs SOL, which compares the shunt voltage
register (2.5 uV per code, two's complement) with the Alert Limit:
floor(amps * shunt_ohms / 2.5 uV), e.g. 2 A through 10 mOhm is 8000 (1F40h).
alert_over_voltage(volts) programs BOL on the bus voltage register (1.25 mV per
code): 12 V is 9600 (2580h). One limit register, one function: the last call
wins. Latched (LEN), ALERT active low (APOL 0): Mask/Enable 8001h or 2001h.
alert_under_current(amps) programs SUL (bit 14) on the shunt voltage register the same
way: the station's trip timing. alert() reads AFF; see inabase.AlertingINA for what
reading Mask/Enable clears.
"""
from micropython import const

from inabase import INA226Map, adc_config, check_shunt, limit_code, round_up_125

# bus voltage 02h and Mask/Enable 06h (CVRF, OVF): inabase.INA226Map
_CONFIG = const(0x00)
_SHUNT = const(0x01)
_POWER = const(0x03)
_CURRENT = const(0x04)
_CAL = const(0x05)
_MANUFACTURER_ID = const(0xFE)
_DIE_ID = const(0xFF)

_CONFIG_BASE = const(0x4007)  # reserved bits 14..12 as after reset; MODE 111: shunt+bus continuous
_CAL_MAX = const(0x7FFF)  # bit 15 of the calibration register is reserved


class INA226(INA226Map):
    CHIP = 1

    def __init__(self, i2c, address=0x40, shunt_ohms=0.01, max_current_a=3.2,
                 averages=16, conversion_us=1100):
        adc = adc_config(averages, conversion_us)
        check_shunt("INA226", shunt_ohms, max_current_a, 0.08192)
        super().__init__(i2c, address, "INA226")
        self._identify_and_reset(_MANUFACTURER_ID, _DIE_ID, 0x2260)
        # Datasheet equation 2: Current_LSB >= max current / 2**15; larger still if CAL
        # (equation 1, CAL = 0.00512 / (Current_LSB * R)) would not fit 15 bits.
        # Integer nA and uOhm keep CAL exact: 0.00512 A*Ohm = 5.12e12 nA*uOhm.
        shunt_uohm = int(shunt_ohms * 1000000 + 0.5)
        lsb_na = max(max_current_a * 1e9 / 32768, 5120000000000 / (_CAL_MAX * shunt_uohm))
        lsb_na = round_up_125(int(lsb_na) + (int(lsb_na) < lsb_na))
        self._shunt_uohm = shunt_uohm
        self.cal = 5120000000000 // (lsb_na * shunt_uohm)
        self.current_lsb_a = lsb_na / 1e9
        # the shunt register ends at 7FFFh (81.92 mV); current = shunt x CAL / 2048 [equation 3]
        self.current_code_max = min(0x7FFF, 0x7FFF * self.cal // 2048)
        self._write(_CAL, self.cal)
        # trip window: one 332 us shunt and bus conversion per result, 664 us
        self._rates(_CONFIG, _CONFIG_BASE | adc, _CONFIG_BASE | adc_config(1, 332), 664)
        # One averaged result needs a shunt and a bus conversion per sample. Typical
        # times: the datasheet allows up to 10 % longer, so poll conversion_ready()
        # or leave margin when sampling this fast.
        self.sample_period_us = 2 * conversion_us * averages

    def current_raw(self):
        """Current register code, current_lsb_a per count; negative when the DUT back-feeds."""
        return self._read_signed(_CURRENT)

    def _current_code(self, amps):
        """SOL limit: the shunt voltage code, 2.5 uV = 2.5e6 uA*uOhm per code."""
        return limit_code(amps, "A", 2 * self._shunt_uohm, 5000000, -32768, 32766)

    def shunt_raw(self):
        """Shunt voltage register code, 2.5 uV per count, signed."""
        return self._read_signed(_SHUNT)

    def power(self):
        """Watts, always >= 0: the chip's power register holds |current| * bus."""
        return self._read(_POWER) * 25 * self.current_lsb_a
