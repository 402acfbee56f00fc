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
"""
from micropython import const

_CONFIG = const(0x00)
_SHUNT = const(0x01)
_BUS = const(0x02)
_POWER = const(0x03)
_CURRENT = const(0x04)
_CAL = const(0x05)
_MASK_ENABLE = const(0x06)
_MANUFACTURER_ID = const(0xFE)
_DIE_ID = const(0xFF)

_RST = const(0x8000)
_CONFIG_BASE = const(0x4007)  # reserved bits 14..12 as after reset; MODE 111: shunt+bus continuous
_CVRF = const(0x0008)
_OVF = const(0x0004)
_CAL_MAX = const(0x7FFF)  # bit 15 of the calibration register is reserved

_AVERAGES = (1, 4, 16, 64, 128, 256, 512, 1024)  # AVG codes 0..7
_CONVERSION_US = (140, 204, 332, 588, 1100, 2116, 4156, 8244)  # VBUSCT/VSHCT codes 0..7


def _round_up_125(n):
    """Smallest 1, 2 or 5 times a power of ten >= n, so current_lsb_a is a round number."""
    decade = 1
    while 5 * decade < n:
        decade *= 10
    for m in (1, 2, 5):
        if m * decade >= n:
            return m * decade


class INA226:
    bus_lsb_v = 0.00125

    def __init__(self, i2c, address=0x40, shunt_ohms=0.01, max_current_a=3.2,
                 averages=16, conversion_us=1100):
        if averages not in _AVERAGES:
            raise ValueError("averages must be one of %s, not %r" % (_AVERAGES, averages))
        if conversion_us not in _CONVERSION_US:
            raise ValueError("conversion_us must be one of %s, not %r" % (_CONVERSION_US, conversion_us))
        shunt_uohm = int(shunt_ohms * 1000000 + 0.5)
        if shunt_uohm < 1 or max_current_a <= 0:
            raise ValueError("shunt_ohms must be at least 1e-6 and max_current_a above 0")
        if max_current_a * shunt_ohms > 0.08192:
            raise ValueError("%g A through %g ohm is %.4g mV, over the 81.92 mV shunt range: "
                             "use max_current_a <= %.4g or shunt_ohms <= %.4g"
                             % (max_current_a, shunt_ohms, max_current_a * shunt_ohms * 1000,
                                0.08192 / shunt_ohms, 0.08192 / max_current_a))
        self._i2c = i2c
        self._address = address
        self._buf = bytearray(2)
        try:
            manufacturer = self._read(_MANUFACTURER_ID)
        except OSError:
            raise OSError("INA226 at 0x%02x does not answer: check wiring and address" % address)
        die = self._read(_DIE_ID)
        # Die ID bits 3..0 are the die revision: any revision of the 0x226 die is an INA226.
        if manufacturer != 0x5449 or die >> 4 != 0x226:
            raise ValueError("chip at 0x%02x has manufacturer ID 0x%04x, die ID 0x%04x: "
                             "not an INA226 (0x5449, 0x2260)" % (address, manufacturer, die))
        self._write(_CONFIG, _RST)
        # Datasheet equation 2: Current_LSB >= max current / 2**15; larger still if CAL
        # (equation 1, CAL = 0.00512 / (Current_LSB * R)) would not fit 15 bits.
        # Integer nA and uOhm keep CAL exact: 0.00512 A*Ohm = 5.12e12 nA*uOhm.
        lsb_na = max(max_current_a * 1e9 / 32768, 5120000000000 / (_CAL_MAX * shunt_uohm))
        lsb_na = _round_up_125(int(lsb_na) + (int(lsb_na) < lsb_na))
        self.cal = 5120000000000 // (lsb_na * shunt_uohm)
        self.current_lsb_a = lsb_na / 1e9
        self._write(_CAL, self.cal)
        ct = _CONVERSION_US.index(conversion_us)
        self._write(_CONFIG, _CONFIG_BASE | _AVERAGES.index(averages) << 9 | ct << 6 | ct << 3)
        # One averaged result needs a shunt and a bus conversion per sample. Typical
        # times: the datasheet allows up to 10 % longer, so poll conversion_ready()
        # or leave margin when sampling this fast.
        self.sample_period_us = 2 * conversion_us * averages

    def _read(self, reg):
        self._i2c.readfrom_mem_into(self._address, reg, self._buf)
        return self._buf[0] << 8 | self._buf[1]

    def _read_signed(self, reg):
        v = self._read(reg)
        return v - 0x10000 if v & 0x8000 else v

    def _write(self, reg, value):
        self._buf[0] = value >> 8
        self._buf[1] = value & 0xFF
        self._i2c.writeto_mem(self._address, reg, self._buf)

    def bus_raw(self):
        """Bus voltage register code, 1.25 mV per count (0..0x7FFF; bit 15 reads 0)."""
        return self._read(_BUS)

    def current_raw(self):
        """Current register code, current_lsb_a per count; negative when the DUT back-feeds."""
        return self._read_signed(_CURRENT)

    def shunt_raw(self):
        """Shunt voltage register code, 2.5 uV per count, signed."""
        return self._read_signed(_SHUNT)

    def voltage(self):
        return self._read(_BUS) * self.bus_lsb_v

    def current(self):
        return self._read_signed(_CURRENT) * self.current_lsb_a

    def power(self):
        """Watts, always >= 0: the chip's power register holds |current| * bus."""
        return self._read(_POWER) * 25 * self.current_lsb_a

    def bus_code(self, volts):
        """Bus register code of a voltage threshold, so the loop compares ints only."""
        return round(volts / self.bus_lsb_v)

    def current_code(self, amps):
        """Current register code of a current threshold."""
        return round(amps / self.current_lsb_a)

    def conversion_ready(self):
        """True once per finished averaged conversion: reading Mask/Enable clears CVRF."""
        return bool(self._read(_MASK_ENABLE) & _CVRF)

    def overflow(self):
        """True if the last current or power computation overflowed (also clears CVRF)."""
        return bool(self._read(_MASK_ENABLE) & _OVF)
