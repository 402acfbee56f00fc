"""What every simulated TI INA chip shares: its place on the simulated bus,
chip-to-chip errors and noise from a seeded xorshift32 (integer arithmetic,
so a seed gives the same registers under CPython and MicroPython), and
conversions that complete on the virtual clock.

A chip model subclasses SimINA and defines _convert() (results of the
conversion due now), _register(memaddr) -> (value, nbytes) for reads and
_store(memaddr, value, nbytes) for writes. Registers are big-endian.
`source.sense(now_us)` returns (bus_volts, current_amps).
"""

NEVER = 1 << 60  # virtual us; still a small int on 64-bit MicroPython


class SimINA:
    def __init__(self, clock, source, address, seed):
        self.address = address
        self._clock = clock
        self._source = source
        self._x = ((seed + 1) * 0x9E3779B1) & 0xFFFFFFFF or 1
        self._period = 0
        self._next = NEVER

    def _rand(self):
        x = self._x
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self._x = x
        return x

    def _uniform(self, m):
        """An integer drawn evenly from -m..m: a chip's offset or gain error."""
        return self._rand() % (2 * m + 1) - m

    def _noise(self):
        """Near-Gaussian (sum of three uniforms), mean 0, rms 1024."""
        r = self._rand()
        return 2 * ((r & 1023) + (r >> 10 & 1023) + (r >> 20 & 1023)) - 3069

    def _schedule(self, period_us, continuous=True):
        """(Re)start conversions now, one every period_us (0: none)."""
        self._period = period_us
        self._continuous = continuous
        self._next = self._clock.now_us + period_us if period_us else NEVER

    def _due(self):
        now = self._clock.now_us
        if now >= self._next:
            if self._continuous:  # the next completion after now
                self._next += ((now - self._next) // self._period + 1) * self._period
            else:  # triggered: one conversion, then idle
                self._next = NEVER
            self._convert()

    def read_mem(self, memaddr, buf):
        """The pointed register's bytes, big-endian, repeated to fill buf."""
        self._due()
        v, n = self._register(memaddr)
        for i in range(len(buf)):
            buf[i] = v >> (8 * (n - 1 - i % n)) & 0xFF

    def write_mem(self, memaddr, buf):
        """Writes shorter than the register only set the pointer."""
        self._due()
        v = 0
        for b in buf:
            v = v << 8 | b
        self._store(memaddr, v, len(buf))


def counts(value, k, offset, noise, sigma):
    """A reading in 1/1024 LSB: value * k, offset and noise, rounded to an LSB.

    One float multiply per channel, as floats allocate in MicroPython."""
    return int(value * k) + offset + (noise * sigma >> 10) + 512 >> 10


def clip(x, low, high):
    return low if x < low else high if x > high else x
