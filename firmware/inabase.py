"""What every TI INA current/voltage monitor driver shares: registers read
through one preallocated buffer, the identity check, and thresholds turned
into raw codes so the sampling loop compares integers only.

A chip driver subclasses INA and sets CHIP (the protocol's sensor number),
SAMPLE_FORMAT (1: 16-bit codes, 2: 20-bit codes), bus_lsb_v, current_lsb_a,
cal and sample_period_us, and defines bus_raw() and current_raw().
"""


class INA:
    CHIP = 0
    SAMPLE_FORMAT = 1
    bus_lsb_v = 0.0
    current_lsb_a = 0.0
    cal = 0
    sample_period_us = 0

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

    def _check_ids(self, manufacturer_reg, die_reg, die):
        """TI's manufacturer ID 0x5449 and the die ID (its low 4 bits are the revision)."""
        manufacturer = self._answering(manufacturer_reg)
        found = self._read(die_reg)
        if manufacturer != 0x5449 or found >> 4 != die >> 4:
            raise ValueError("chip at 0x%02x has manufacturer ID 0x%04x, die ID 0x%04x: not an %s (0x5449, 0x%04x)"
                             % (self._address, manufacturer, found, self._name, die))

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


def choice(name, value, choices):
    """The index of value in a datasheet table; anything else is refused."""
    if value not in choices:
        raise ValueError("%s must be one of %s, not %r" % (name, choices, value))
    return choices.index(value)


def check_shunt(name, shunt_ohms, max_current_a, full_scale_v):
    """Refuse a shunt on which the largest current would overflow the shunt ADC."""
    if shunt_ohms <= 0 or max_current_a <= 0:
        raise ValueError("shunt_ohms and max_current_a must be above 0")
    if max_current_a * shunt_ohms > full_scale_v:
        raise ValueError("%s: %g A through %g ohm is %.4g mV, over the %g mV shunt range: "
                         "use max_current_a <= %.4g or shunt_ohms <= %.4g"
                         % (name, max_current_a, shunt_ohms, max_current_a * shunt_ohms * 1000,
                            full_scale_v * 1000, full_scale_v / shunt_ohms, full_scale_v / max_current_a))


def round_up_125(n):
    """Smallest 1, 2 or 5 times a power of ten >= n, so an LSB is a round number."""
    decade = 1
    while 5 * decade < n:
        decade *= 10
    for m in (1, 2, 5):
        if m * decade >= n:
            return m * decade
