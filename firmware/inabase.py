"""What every TI INA current/voltage monitor driver shares: registers read
through one preallocated buffer, the identity check, and thresholds turned
into raw codes so the sampling loop compares integers only.

A chip driver subclasses INA, AlertingINA (a chip with alert limits) or
INA226Map (the INA226's register map, alerts included, that the INA260
shares) and sets CHIP (the protocol's sensor number), SAMPLE_FORMAT (1:
16-bit codes, 2: 20-bit codes), bus_lsb_v, current_lsb_a, cal and
sample_period_us, FLAGS_REG, READY and ALERT (see conversion_ready() and
alert()), and defines bus_raw() and current_raw().

Alert limits: every chip but the INA219 (which has no ALERT pin and no limit
registers) has the same small API, on AlertingINA: alert_over_current(amps)
and alert_over_voltage(volts) program the chip's limit and enable its
function, latched and active low; alert() is True while the chip reports the
condition. limit_code() turns a threshold into a limit code the chip's way.
alert_under_current(amps) (INA226, INA228, INA260: the INA3221's limits are
over-limits only) alerts when the current falls below amps, and alert_off()
disarms it: the station times a protection's trip with it (the ALERT pin's
falling edge, an interrupt and ticks_us).

Trip rate: trip_window(True) makes a chip convert one result per
trip_period_us (<= 1.1 ms, one conversion per result instead of an average),
trip_window(False) back to its sampling rate, so that a trip is timed to a
conversion, not to a sample. The INA3221 keeps its rate (its CONFIG is shared
by the rig's channels): its trip_period_us is its sample period.

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
# INA226Map alert limit (SBOS547 7.1.7-7.1.8, SBOS656C 8.6.5-8.6.6): Alert Limit 07h; Mask/Enable
# bit 15 SOL (INA226: shunt voltage register) / OCL (INA260: current register), bit 13 BOL,
# AFF (bit 4), LEN (bit 0: latch); APOL (bit 1) stays 0: active low
_ALERT_LIMIT = const(0x07)
_OVER_LIMIT = const(0x8000)
_BOL = const(0x2000)
_AFF = const(0x0010)
_LEN = const(0x0001)
_UNDER_LIMIT = const(0x4000)  # SUL (INA226) / UCL (INA260): the register 01h below the limit

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
    # the largest current code the sensor reads as set: its register's end, or its shunt range's if that comes
    # first (IDENTITY: the host tells a clipped reading from a true one)
    current_code_max = 0x7FFF
    sample_period_us = 0
    FLAGS_REG = 0  # the register with the conversion-ready flag (and overflow and alert flags)
    READY = 0  # the conversion-ready bit in it
    ALERT = 0  # the alert flag bit(s) in it (AlertingINA)
    trip_period_us = 0  # one result in a trip window (trip_window())
    _adc_reg = 0  # the register with the conversion settings ...
    _adc = 0  # ... as sampling has them ...
    _adc_fast = 0  # ... and in a trip window (0: the chip keeps its rate)

    def __init__(self, i2c, address, name):
        self._i2c = i2c
        self._address = address
        self._name = name
        self._buf = bytearray(2)
        self._pending = 0  # READY and ALERT bits a read of FLAGS_REG cleared before they were asked for

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

    def _rates(self, reg, adc, fast, fast_period_us):
        """Conversion settings: adc written now (sampling), fast in a trip window (a result every
        fast_period_us)."""
        self._adc_reg, self._adc, self._adc_fast, self.trip_period_us = reg, adc, fast, fast_period_us
        self._write(reg, adc)

    def trip_window(self, on):
        """Convert at the trip rate (on) or the sampling rate: see the module docstring."""
        if self._adc_fast:
            self._write(self._adc_reg, self._adc_fast if on else self._adc)

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
        """A flag of FLAGS_REG. Reading that register clears its READY bit and
        latched ALERT bits: those not asked for now are kept in _pending for the
        call that asks for them, so conversion_ready(), overflow() and alert()
        lose nothing to one another (each still reports a flag once)."""
        v = self._pending | self._read(self.FLAGS_REG)
        self._pending = v & (self.READY | self.ALERT) & ~mask
        return bool(v & mask)

    def conversion_ready(self):
        """True once per finished (averaged) conversion: the chip clears READY
        when FLAGS_REG is read, so the next call is False until the next one."""
        return self._flag(self.READY)


class AlertingINA(INA):
    """An INA with an ALERT pin and limit registers: the INA226, INA228, INA260
    and INA3221. A subclass defines:

    alert_over_current(amps): alert when the current reading exceeds amps;
    alert_over_voltage(volts): alert when the bus voltage reading exceeds volts
    (the INA3221 has no such limit and refuses). Both program the limit with
    limit_code() (rounded down: the chip alerts for every reading above the
    threshold), enable the function latched with the ALERT pin active low (as
    breakouts expect: open drain, pulled up), and return the code written.

    alert() is True while the chip reports the condition (FLAGS_REG & ALERT).
    Latched, the chip keeps the flag, and the ALERT pin low, until FLAGS_REG is
    read, and sets it again at the next result that still exceeds the limit:
    alert() is True once per latched event, again at the next result if the
    condition persists. conversion_ready() and overflow() read FLAGS_REG too (so
    their read releases the pin), but _flag() keeps an alert flag they clear for
    alert(), as alert() keeps the conversion-ready flag for conversion_ready()."""

    def alert(self):
        """True while the chip reports the alert condition, once per latched event."""
        return self._flag(self.ALERT)

    def _arm(self, off, limit_reg, value, on):
        """Program an alert limit: FLAGS_REG to `off` (the INA226 and INA260: no
        function enabled, so none compares the new limit with another register),
        the limit register to value, a read of FLAGS_REG that drops alert flags
        latched before (a conversion-ready flag it clears is kept), then
        FLAGS_REG to `on` if that differs."""
        flags = self.FLAGS_REG
        self._write(flags, off)
        self._write(limit_reg, value & 0xFFFF)
        self._pending = (self._pending | self._read(flags)) & self.READY
        if on != off:
            self._write(flags, on)


class INA226Map(AlertingINA):
    """The INA226's register map, which the INA260 shares (SBOS656C 8.6): CONFIG
    00h (RST, adc_config() fields, MODE), bus voltage 02h, power 03h, Mask/Enable
    06h (alert functions, AFF, CVRF, OVF, APOL, LEN), Alert Limit 07h and the IDs
    at FEh and FFh. They differ in 01h and 04h (the INA260's current register is
    01h), in calibration (05h, INA226 only) and in Mask/Enable bit 15: SOL (the
    INA226 compares its shunt voltage register) or OCL (the INA260, its current
    register); a subclass converts a current threshold with _current_code().

    One Alert Limit register and one active function (the highest enabled bit
    wins): alert_over_current() and alert_over_voltage() each replace the other,
    the last call wins. The chip compares each result with the limit and sets
    AFF (SBOS547 7.1.7); with LEN (latch) AFF and the ALERT pin stay asserted
    until Mask/Enable is read. Reading Mask/Enable also clears CVRF."""
    bus_lsb_v = 0.00125
    FLAGS_REG = _MASK_ENABLE  # conversion_ready(): CVRF, cleared by reading Mask/Enable
    READY = _CVRF
    ALERT = _AFF

    def _current_code(self, amps):
        raise NotImplementedError

    def alert_over_current(self, amps):
        """Alert when the current exceeds amps: SOL on the INA226 (shunt voltage
        register, 2.5 uV per code), OCL on the INA260 (current register, 1.25 mA
        per code). Replaces alert_over_voltage(): one limit register. Returns
        the Alert Limit code, two's complement."""
        return self._alert(_OVER_LIMIT, self._current_code(amps))

    def alert_over_voltage(self, volts):
        """Alert when the bus voltage exceeds volts: BOL, bus voltage register
        (1.25 mV per code, 0..7FFFh). Replaces alert_over_current(): one limit
        register. Returns the Alert Limit code."""
        return self._alert(_BOL, limit_code(volts, "V", 1, 1250, 0, 0x7FFE))

    def alert_under_current(self, amps):
        """Alert when the current falls below amps: SUL (INA226) / UCL (INA260) on the register that
        alert_over_current() compares. Replaces the other functions. Returns the Alert Limit code."""
        return self._alert(_UNDER_LIMIT, self._current_code(amps))

    def alert_off(self):
        """No alert function, the flags latched before dropped (the ALERT pin released)."""
        self._arm(_LEN, _ALERT_LIMIT, 0, 0)  # latched while Mask/Enable is read: that read clears AFF

    def _alert(self, function, code):
        self._arm(_LEN, _ALERT_LIMIT, code, function | _LEN)
        return code

    def bus_raw(self):
        """Bus voltage register code, 1.25 mV per count (0..0x7FFF; bit 15 reads 0)."""
        return self._read(_BUS)

    def overflow(self):
        """True if the last current or power computation overflowed (OVF; the INA260
        computes power only). Its read of Mask/Enable clears CVRF and a latched
        AFF in the chip (and releases the ALERT pin); _flag() keeps them."""
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


def limit_code(value, unit, num, den, low, high):
    """The alert limit code of a threshold: floor(value * num / den) with value
    in millionths (uA, uV) so that integers keep it exact; num / den is codes
    per millionth. The largest code at or below the threshold: the chip alerts
    when a reading exceeds its limit code, so it alerts for every reading above
    the threshold (the safe side) and, where readings have the limit's LSB, for
    none at or below it. A code outside low..high (the codes a reading can
    exceed) is refused."""
    code = round(value * 1000000) * num // den
    if not low <= code <= high:
        raise ValueError("alert threshold %.7g %s is outside [%.7g, %.7g) %s, the readings the chip can compare"
                         % (value, unit, low * den / num / 1e6, (high + 1) * den / num / 1e6, unit))
    return code


def round_up_125(n):
    """Smallest 1, 2 or 5 times a power of ten >= n, so an LSB is a round number."""
    decade = 1
    while 5 * decade < n:
        decade *= 10
    for m in (1, 2, 5):
        if m * decade >= n:
            return m * decade
