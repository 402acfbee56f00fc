"""What every TI INA current/voltage monitor driver shares: registers read
through one preallocated buffer, the identity check, and thresholds turned
into raw codes so the sampling loop compares integers only.

A chip driver subclasses INA (or INA226Map, the INA226's register map that
the INA260 shares) and sets CHIP (the protocol's sensor number),
SAMPLE_FORMAT (1: 16-bit codes, 2: 20-bit codes), bus_lsb_v, current_lsb_a,
cal and sample_period_us, FLAGS_REG and READY (see conversion_ready()), and
defines bus_raw() and current_raw().

Datasheet tables the chips share are here once: AVERAGES (INA226, INA228,
INA260, INA3221) and CONVERSION_US (INA226, INA260, INA3221); the INA219
averages and the INA228 conversion times differ and stay in their drivers.
"""
from micropython import const

_CONFIG = const(0x00)
_RST = const(0x8000)  # CONFIG bit 15 on every INA: reset all registers, self-clearing
# INA226Map: bus voltage register, Mask/Enable and its CVRF and OVF bits
_BUS = const(0x02)
_MASK_ENABLE = const(0x06)
_CVRF = const(0x0008)
_OVF = const(0x0004)

AVERAGES = (1, 4, 16, 64, 128, 256, 512, 1024)  # AVG codes 0..7
CONVERSION_US = (140, 204, 332, 588, 1100, 2116, 4156, 8244)  # INA226-family VBUSCT/VSHCT codes 0..7

# A current exactly on a range edge must fit: 3.2 A * 0.1 ohm is 0.32000000000000006
# in doubles (1e-16 relative over 0.32) and up to about 1e-7 relative off in the
# Pico's single-precision floats. One tolerance for every range check, 1 ppm: above
# both, far below any datasheet accuracy.
_EDGE = 1.000001


class INA:
    CHIP = 0
    SAMPLE_FORMAT = 1
    bus_lsb_v = 0.0
    current_lsb_a = 0.0
    cal = 0
    sample_period_us = 0
    FLAGS_REG = 0  # the register with the conversion-ready flag (and overflow flags)
    READY = 0  # the conversion-ready bit in it

    def __init__(self, i2c, address, name):
        self._i2c = i2c
        self._address = address
        self._name = name
        self._buf = bytearray(2)

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

    def _answering(self, reg):
        """First contact: a NAK becomes one line that says what to check."""
        try:
            return self._read(reg)
        except OSError:
            raise OSError("%s at 0x%02x does not answer: check wiring and address" % (self._name, self._address))

    def _identify_and_reset(self, manufacturer_reg, die_reg, die):
        """TI's manufacturer ID 0x5449 and the die ID (its low 4 bits are the
        revision) must match; then RST puts every register at its reset value."""
        manufacturer = self._answering(manufacturer_reg)
        found = self._read(die_reg)
        if manufacturer != 0x5449 or found >> 4 != die >> 4:
            raise ValueError("chip at 0x%02x has manufacturer ID 0x%04x, die ID 0x%04x: not an %s (0x5449, 0x%04x)"
                             % (self._address, manufacturer, found, self._name, die))
        self._write(_CONFIG, _RST)

    def bus_raw(self):
        raise NotImplementedError

    def current_raw(self):
        raise NotImplementedError

    def bus_code(self, volts):
        """Bus code of a voltage threshold, so the loop compares ints only."""
        return round(volts / self.bus_lsb_v)

    def current_code(self, amps):
        """Current code of a current threshold."""
        return round(amps / self.current_lsb_a)

    def voltage(self):
        return self.bus_raw() * self.bus_lsb_v

    def current(self):
        return self.current_raw() * self.current_lsb_a

    def _flag(self, mask):
        """A flag of FLAGS_REG; reading that register clears its READY bit."""
        return bool(self._read(self.FLAGS_REG) & mask)

    def conversion_ready(self):
        """True once per finished (averaged) conversion: the chip clears READY
        when FLAGS_REG is read, so the next call is False until the next one."""
        return self._flag(self.READY)



class INA226Map(INA):
    """The INA226's register map, which the INA260 shares (SBOS656C 8.6): CONFIG
    00h (RST, adc_config() fields, MODE), bus voltage 02h, power 03h, Mask/Enable
    06h (CVRF, OVF) and the IDs at FEh and FFh. They differ in 01h and 04h (the
    INA260's current register is 01h) and in calibration (05h, INA226 only)."""
    bus_lsb_v = 0.00125
    FLAGS_REG = _MASK_ENABLE  # conversion_ready(): CVRF, cleared by reading Mask/Enable
    READY = _CVRF

    def bus_raw(self):
        """Bus voltage register code, 1.25 mV per count (0..0x7FFF; bit 15 reads 0)."""
        return self._read(_BUS)

    def overflow(self):
        """True if the last current or power computation overflowed (OVF; the INA260
        computes power only). Reading Mask/Enable also clears CVRF."""
        return self._flag(_OVF)


def choice(name, value, choices):
    """The index of value in a datasheet table; anything else is refused."""
    if value not in choices:
        raise ValueError("%s must be one of %s, not %r" % (name, choices, value))
    return choices.index(value)


def fits(amps, ohms, full_scale_v):
    """True if amps through ohms stays within full_scale_v, to 1 ppm (_EDGE), so
    that a current exactly on a range edge fits despite float rounding."""
    return not amps * ohms > full_scale_v * _EDGE  # "not over", as the strict check was


def check_shunt(name, shunt_ohms, max_current_a, full_scale_v):
    """Refuse a shunt on which the largest current would overflow the shunt ADC."""
    if shunt_ohms <= 0 or max_current_a <= 0:
        raise ValueError("shunt_ohms and max_current_a must be above 0")
    if not fits(max_current_a, shunt_ohms, full_scale_v):
        raise ValueError("%s: %g A through %g ohm is %.4g mV, over the %g mV shunt range: "
                         "use max_current_a <= %.4g or shunt_ohms <= %.4g"
                         % (name, max_current_a, shunt_ohms, max_current_a * shunt_ohms * 1000,
                            full_scale_v * 1000, full_scale_v / shunt_ohms, full_scale_v / max_current_a))


def adc_config(averages, conversion_us):
    """AVG (bits 11..9) and the bus and shunt conversion times (8..6, 5..3, both
    conversion_us) of an INA226, INA260 or INA3221 CONFIG register, each checked
    against its table."""
    avg = choice("averages", averages, AVERAGES)
    ct = choice("conversion_us", conversion_us, CONVERSION_US)
    return avg << 9 | ct << 6 | ct << 3


def round_up_125(n):
    """Smallest 1, 2 or 5 times a power of ten >= n, so an LSB is a round number."""
    decade = 1
    while 5 * decade < n:
        decade *= 10
    for m in (1, 2, 5):
        if m * decade >= n:
            return m * decade
