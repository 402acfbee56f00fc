"""TI INA3221 triple-channel shunt and bus voltage monitor on I2C (datasheet
SBOS576). One driver object reads one of its channels: one power bank. A rig
may test up to three power banks on one chip, a driver object each; `enabled`
then names every chip channel the rig uses (each object enables them all in
the one CONFIG register, so the objects agree).

The chip computes no current: its shunt register holds the shunt voltage as a
13-bit signed code (bits 15..3, 40 uV per count, -163.84..163.8 mV) and its
bus register a 13-bit code (bits 15..3, 8 mV per count, 32.76 V full scale;
the pins take 0..26 V). current_raw() returns the shunt code and
current_lsb_a = 40 uV / shunt_ohms turns it into amps, so the sampling loop
still compares integers with thresholds converted once by current_code().

The chip converts every enabled channel in turn (7.4.2), so the channels the
rig does not use are disabled in CONFIG: a result takes averages * (VBUSCT +
VSHCT) per enabled channel, three times that with all three.

Alert (7.3.2.1 Critical Alert, 7.6.2.8-13 limit registers, 7.6.2.16
Mask/Enable): alert_over_current(amps) writes the channel's critical-alert
limit (07h, 09h, 0Bh for channels 1..3; 13 bits in 15..3, 40 uV per code, two's
complement), which the chip compares with each single shunt conversion, not
the average: floor(amps * shunt_ohms / 40 uV), e.g. 1 A through 0.1 ohm is 2500
(4E20h once shifted). The Critical pin is open drain, active low (no polarity
bit); Mask/Enable gets CEN (latched): 0400h. alert() reads the channel's CF1..3
flag; reading Mask/Enable clears CVRF and, latched, the critical flags (see
inabase.AlertingINA). The INA3221 has no bus over-voltage limit (its
power-valid limits only report whether all bus voltages are above a level), so
alert_over_voltage() raises ValueError.

Example::

    from machine import I2C, Pin
    from ina3221 import INA3221

    i2c = I2C(0, sda=Pin(4), scl=Pin(5), freq=400_000)
    ina = INA3221(i2c, shunt_ohms=0.1, max_current_a=1.6, channel=2)
    print(ina.voltage(), "V", ina.current(), "A")
"""
from micropython import const

from inabase import AlertingINA, adc_config, check_shunt, choice, limit_code

_CONFIG = const(0x00)
_MASK_ENABLE = const(0x0F)
_MANUFACTURER_ID = const(0xFE)
_DIE_ID = const(0xFF)

_MODE_CONTINUOUS = const(0x0007)  # MODE 111: shunt and bus, continuous
_CH1_ENABLE = const(0x4000)  # CH1en is bit 14, CH2en 13, CH3en 12
_CVRF = const(0x0001)  # Mask/Enable bit 0
_CEN = const(0x0400)  # Mask/Enable bit 10: critical-alert latch
_CF1 = const(0x0200)  # CF1 is bit 9, CF2 8, CF3 7

# Configuration register tables (7.6.2.1): the INA226's (inabase.AVERAGES, CONVERSION_US).
_CHANNELS = (1, 2, 3)


class INA3221(AlertingINA):
    CHIP = 5
    SAMPLE_FORMAT = 1
    bus_lsb_v = 0.008
    cal = 0  # no calibration register: the host divides by the shunt
    # conversion_ready(): CVRF, set once all enabled channels are converted; reading
    # Mask/Enable clears it, as it clears the alert flags
    FLAGS_REG = _MASK_ENABLE
    READY = _CVRF

    def __init__(self, i2c, address=0x40, shunt_ohms=0.1, max_current_a=1.6,
                 averages=16, conversion_us=1100, channel=1, enabled=None):
        adc = adc_config(averages, conversion_us)
        choice("channel", channel, _CHANNELS)
        enabled = enabled or (channel,)
        bits = 0
        for ch in enabled:
            choice("enabled channel", ch, _CHANNELS)
            bits |= _CH1_ENABLE >> (ch - 1)
        if channel not in enabled:
            raise ValueError("channel %d must be one of the enabled channels %r" % (channel, tuple(enabled)))
        if not 0x40 <= address <= 0x43:
            raise ValueError("INA3221 address must be 0x40..0x43 (A0 to GND, VS, SDA or SCL), not 0x%02x" % address)
        # Shunt register full scale 7FF8h = 163.8 mV (7.6.2.2)
        check_shunt("INA3221", shunt_ohms, max_current_a, 0.1638)
        super().__init__(i2c, address, "INA3221")
        self._identify_and_reset(_MANUFACTURER_ID, _DIE_ID, 0x3220)
        self.channel = channel
        self._shunt_reg = 2 * channel - 1  # 01h, 03h, 05h
        self._bus_reg = 2 * channel  # 02h, 04h, 06h
        self._critical_reg = 2 * channel + 5  # 07h, 09h, 0Bh
        self.ALERT = _CF1 >> (channel - 1)
        self._shunt_uohm = int(shunt_ohms * 1000000 + 0.5)
        self.current_lsb_a = 0.00004 / shunt_ohms
        self.current_code_max = 4095  # the shunt register's 13 bits: 163.8 mV
        self._write(_CONFIG, bits | adc | _MODE_CONTINUOUS)
        # A shunt and a bus conversion per enabled channel per averaged sample
        # (typical times; up to 10 % longer: poll conversion_ready() or leave margin).
        self.sample_period_us = 2 * conversion_us * averages * len(enabled)
        self.trip_period_us = self.sample_period_us  # CONFIG is the channels' own: no trip rate

    def bus_raw(self):
        """Bus voltage code of the channel, 8 mV per count (13 bits, 0..4095)."""
        return self._read_signed(self._bus_reg) >> 3

    def current_raw(self):
        """Shunt voltage code of the channel, 40 uV (current_lsb_a) per count,
        -4096..4095; negative when the DUT back-feeds."""
        return self._read_signed(self._shunt_reg) >> 3

    shunt_raw = current_raw

    def alert_over_current(self, amps):
        """Alert when a shunt conversion of the channel exceeds amps * shunt_ohms:
        its critical-alert limit, 40 uV = 4e7 uA*uOhm per code. Returns the code."""
        code = limit_code(amps, "A", self._shunt_uohm, 40000000, -4096, 4094)
        self._arm(_CEN, self._critical_reg, code << 3, _CEN)
        return code

    def alert_over_voltage(self, volts):
        """Refused: the INA3221 has no bus over-voltage limit."""
        raise ValueError("the INA3221 cannot alert on bus over-voltage: it has no bus voltage limit")
