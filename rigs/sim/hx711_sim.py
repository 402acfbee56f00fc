"""Simulated Avia HX711 on a load cell, bit-accurate on its two pins against the virtual clock.

The platform holds the unit under test (grams_fn(): its model's mass_g) over a bridge whose offset is the
platform's own weight and imbalance, so a tare is needed. A conversion takes 1/rate s; DOUT goes low when
it is ready, and each PD_SCK rising edge shifts out the next bit, MSB first; the 25th-27th pulses choose
the next input (A 128, B 32, A 64) and DOUT goes high again. PD_SCK high for more than 60 us powers down;
low again resets to A 128. Noise: the datasheet's input noise, 50 nV rms at gain 128 and 10 samples/s
(90 nV at 80), on a +/-20 mV full scale (AVDD 5 V, 0.5 AVDD / gain) of 2**23 counts: about 21 counts rms."""
from ina_sim import SimINA

_FULL_SCALE_NV = 20_000_000  # channel A, gain 128: +/-20 mV over 2**23 counts
_GAINS = {25: 128, 26: 32, 27: 64}  # pulses -> gain of the next conversion (26: channel B)
_NOISE_NV = {10: 50, 80: 90}


class Pin:
    """A GPIO as the driver sees it: value(v) sets, value() reads; each write takes a microsecond."""

    def __init__(self, read=None, write=None):
        self._read, self._write = read, write

    def value(self, v=None):
        if v is None:
            return self._read()
        self._write(v)


class SimHX711:
    def __init__(self, clock, grams_fn, counts_per_g=420.0, offset_counts=61_000, rate_hz=10, seed=1):
        self.clock, self.grams_fn = clock, grams_fn
        self.counts_per_g, self.offset_counts = counts_per_g, offset_counts
        self.period_us = 1_000_000 // rate_hz
        self.noise_counts = _NOISE_NV[rate_hz] * (1 << 23) / _FULL_SCALE_NV
        self._x = seed or 1  # xorshift32 state
        self.pd_sck = Pin(write=self._sck)
        self.dout = Pin(read=self._dout)
        self.gain = 128
        self._sck_high_since = None
        self._reset()

    def _reset(self):
        self.gain = 128
        self._pulses = 0
        self._ready_at = self.clock.now_us + self.period_us
        self._word = None

    _noise_1024 = SimINA._noise  # the INA chips' generator (state self._x): near-Gaussian, rms 1024

    def _convert(self):
        """The conversion now ready, as a 24-bit two's complement word."""
        if self.gain == 32:  # channel B: nothing on it but the noise
            counts = self._noise_1024() * self.noise_counts / 1024
        else:
            counts = (self.offset_counts + self.counts_per_g * self.grams_fn()) * self.gain / 128
            counts += self._noise_1024() * self.noise_counts / 1024
        counts = max(-(1 << 23), min((1 << 23) - 1, round(counts)))
        return counts & 0xFFFFFF

    @property
    def powered(self):
        """PD_SCK held high for more than 60 us powers the chip down."""
        return self._sck_high_since is None or self.clock.now_us - self._sck_high_since <= 60

    def _sck(self, v):
        self.clock.advance(1)
        now = self.clock.now_us
        if not v:
            if not self.powered:  # low again after a power-down: reset, A/128
                self._reset()
            elif self._pulses >= 25:  # the extra pulses chose the next conversion's input and gain
                self.gain = _GAINS[self._pulses]
            self._sck_high_since = None
            return
        self._sck_high_since = now
        if self._pulses >= 25 and now >= self._ready_at:  # a new conversion is shifted out
            self._word, self._pulses = None, 0
        if self._word is None and now >= self._ready_at:
            self._word = self._convert()
        if self._word is not None and self._pulses < 27:
            self._pulses += 1
            if self._pulses == 25:
                self._ready_at = now + self.period_us

    def _dout(self):
        if not self.powered:
            return 1
        if self._word is None or self._pulses >= 25:
            return 0 if self.clock.now_us >= self._ready_at else 1
        return (self._word >> (24 - self._pulses)) & 1 if self._pulses else 0
