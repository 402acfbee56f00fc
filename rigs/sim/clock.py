"""Virtual clock of the simulated rig.

Time only moves when the firmware sleeps or the simulated bus is busy, so a
multi-hour discharge runs as fast as the interpreter allows. ticks_us() wraps
at 2**30 exactly like MicroPython's time.ticks_us() on a microcontroller (the
unix port wraps at 2**62, which would hide wrap-around bugs).
"""

import micropython
from micropython import const

TICKS_PERIOD = const(1 << 30)
_TICKS_MASK = const((1 << 30) - 1)
_TICKS_HALF = const(1 << 29)


class VirtualClock:
    @micropython.native
    def __init__(self, start_us=0):
        self.now_us = start_us  # unbounded virtual microseconds since power-up

    @micropython.native
    def advance(self, us):
        if us > 0:
            self.now_us += us

    @micropython.native
    def ticks_us(self):
        return self.now_us & _TICKS_MASK

    @micropython.native
    def ticks_ms(self):
        return (self.now_us // 1000) & _TICKS_MASK


@micropython.native
def ticks_add(ticks, delta):
    return (ticks + delta) & _TICKS_MASK


@micropython.native
def ticks_diff(ticks1, ticks2):
    """Signed ticks1 - ticks2, as time.ticks_diff() defines it on 2**30 ticks."""
    return ((ticks1 - ticks2 + _TICKS_HALF) & _TICKS_MASK) - _TICKS_HALF
