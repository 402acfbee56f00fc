"""TI INA260 current, bus voltage and power monitor with an integrated 2 mOhm
shunt, on I2C (datasheet SBOS656C).

Register-compatible with the INA226 except that the shunt is inside the chip
and calibrated at the factory: no calibration register, fixed LSBs (current
1.25 mA, bus 1.25 mV, power 10 mW; 8.6.2-8.6.4) and a Current register at
01h where the INA226 has its shunt voltage. The sampling loop reads raw codes
and compares them with thresholds converted once with bus_code() and
current_code(), so it uses no floats and allocates nothing.

Example::

    from machine import I2C, Pin
    from ina260 import INA260

    i2c = I2C(0, sda=Pin(4), scl=Pin(5), freq=400_000)
    ina = INA260(i2c)  # 0x40: A0 and A1 to GND
    print(ina.voltage(), "V", ina.current(), "A", ina.power(), "W")

Alert (8.3.3.2 ALERT Pin, 8.6.5 Mask/Enable, 8.6.6 Alert Limit):
alert_over_current(amps) programs OCL, which compares the Current register
(1.25 mA per code, two's complement) with the Alert Limit: floor(amps / 1.25 mA),
e.g. 10 A is 8000 (1F40h). alert_over_voltage(volts) programs BOL on the bus
voltage register (1.25 mV per code); alert_under_current(amps), UCL (bit 14) on
the Current register: the station's trip timing. One limit register, one function: the
last call wins. Latched (LEN), ALERT active low (APOL 0). See
inabase.INA226Map and AlertingINA.
"""
from micropython import const

from inabase import INA226Map, adc_config, check_shunt, limit_code

# bus voltage 02h and Mask/Enable 06h (CVRF, OVF): the INA226's, in inabase.INA226Map
_CONFIG = const(0x00)
_CURRENT = const(0x01)
_POWER = const(0x03)
_MANUFACTURER_ID = const(0xFE)
_DIE_ID = const(0xFF)

_CONFIG_BASE = const(0x6007)  # reserved bits 14..12 = 110 as after reset (6127h); MODE 111: current+bus continuous
# AVG and VBUSCT/ISHCT tables (8.6.1): the INA226's, inabase.AVERAGES and CONVERSION_US


class INA260(INA226Map):
    CHIP = 4
    SAMPLE_FORMAT = 1
    current_lsb_a = 0.00125
    cal = 0  # no calibration register: the LSBs are fixed

    def __init__(self, i2c, address=0x40, shunt_ohms=0.002, max_current_a=15.0,
                 averages=16, conversion_us=1100):
        """shunt_ohms is the integrated shunt and must stay 0.002: it is there so that
        every chip's driver takes the same arguments."""
        adc = adc_config(averages, conversion_us)
        if shunt_ohms != 0.002:
            raise ValueError("the INA260 has an integrated 2 mOhm shunt: shunt_ohms must be 0.002, not %r"
                             % (shunt_ohms,))
        if max_current_a > 15:  # 7.1 Absolute Maximum Ratings (the ADC would read up to 40.96 A)
            raise ValueError("INA260: max_current_a %g A is over the chip's 15 A continuous current rating"
                             % max_current_a)
        check_shunt("INA260", shunt_ohms, max_current_a, 0.08192)  # refuses max_current_a <= 0
        super().__init__(i2c, address, "INA260")
        self._identify_and_reset(_MANUFACTURER_ID, _DIE_ID, 0x2270)
        # trip window: one 332 us current and bus conversion per result, 664 us
        self._rates(_CONFIG, _CONFIG_BASE | adc, _CONFIG_BASE | adc_config(1, 332), 664)
        # A current and a bus conversion per averaged sample (typical times; up to
        # 10 % longer: poll conversion_ready() or leave margin).
        self.sample_period_us = 2 * conversion_us * averages

    def current_raw(self):
        """Current register code, 1.25 mA per count; negative when the DUT back-feeds."""
        return self._read_signed(_CURRENT)

    def _current_code(self, amps):
        """OCL limit: the Current register code, 1.25 mA = 1250 uA per code."""
        return limit_code(amps, "A", 1, 1250, -32768, 32766)

    def power(self):
        """Watts, always >= 0: the power register holds |current| * bus, 10 mW per count."""
        return self._read(_POWER) * 0.01
