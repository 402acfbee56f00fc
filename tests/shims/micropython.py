"""CPython stand-in for MicroPython's `micropython` module, so firmware modules
import under CPython for unit tests. Viper/native code runs as plain Python:
ptr8/ptr16 casts are identity because bytearray indexing behaves the same."""


def const(x):
    return x


def native(f):
    return f


def viper(f):
    return f


def kbd_intr(ch):
    pass
