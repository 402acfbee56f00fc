"""Avia HX711 24-bit ADC for a load cell (the rig's scale), bit-banged on two pins.

No registers: DOUT goes low when a conversion is ready; 24 clock pulses on PD_SCK shift the result out,
MSB first, two's complement (0x800000 .. 0x7FFFFF); 1 to 3 more pulses choose the input and gain of the
NEXT conversion: 25 pulses channel A gain 128, 26 channel B gain 32, 27 channel A gain 64. PD_SCK held
high for more than 60 us powers the chip down; low again, it resets to channel A gain 128. Output rate
10 or 80 samples/s by its RATE pin (the board's wiring). A clock pulse must stay well under 60 us high:
an interrupt in between would power it down, so read() keeps its pulses short and allocates nothing.

pd_sck, dout: the board layer's pins (value(v) / value()); sleep_us: the board's, so the simulated rig's
virtual clock moves as a real one would.

Example::

    from machine import Pin
    import time
    scale = HX711(Pin(16, Pin.OUT), Pin(17, Pin.IN), time.sleep_us)
    tare = scale.average(16)
    grams = (scale.average(16) - tare) / counts_per_g
"""
from micropython import const

_PULSES = {(b"A", 128): 25, (b"B", 32): 26, (b"A", 64): 27}
_POWER_DOWN_US = const(80)  # > 60 us high: powered down
_POLL_US = const(1000)


class HX711:
    def __init__(self, pd_sck, dout, sleep_us, channel=b"A", gain=128, timeout_ms=500):
        if (channel, gain) not in _PULSES:
            raise ValueError("HX711: channel A takes gain 128 or 64, channel B gain 32")
        self._sck, self._dout, self._sleep_us = pd_sck, dout, sleep_us
        self._pulses = _PULSES[(channel, gain)]
        self._timeout_us = timeout_ms * 1000
        self.power_up()
        self.read()  # the conversion after reset is A/128; its pulses set the chosen input for the next

    def ready(self):
        return self._dout.value() == 0

    def read(self):
        """One conversion, signed raw counts; OSError if the chip never says ready (not wired, no power)."""
        waited = 0
        while self._dout.value():
            if waited >= self._timeout_us:
                raise OSError("HX711 not ready: check its DOUT/PD_SCK wiring and power")
            self._sleep_us(_POLL_US)
            waited += _POLL_US
        sck, dout, value = self._sck, self._dout, 0
        for _ in range(24):
            sck.value(1)
            sck.value(0)
            value = (value << 1) | dout.value()
        for _ in range(self._pulses - 24):
            sck.value(1)
            sck.value(0)
        return value - 0x1000000 if value & 0x800000 else value

    def average(self, n):
        """The mean of n conversions, in counts (n / rate seconds: 1.6 s for 16 at 10 samples/s)."""
        total = 0
        for _ in range(n):
            total += self.read()
        return total // n

    def power_down(self):
        self._sck.value(0)
        self._sck.value(1)
        self._sleep_us(_POWER_DOWN_US)

    def power_up(self):
        """PD_SCK low: the chip resets (channel A, gain 128) and starts converting."""
        self._sck.value(0)
