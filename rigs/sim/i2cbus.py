"""Simulated I2C bus: the subset of machine.I2C the firmware uses.

Every transaction costs its real bus time on the virtual clock, so polling a
sensor is not free in simulated time either. Bit times counted at `freq`:

    read  (readfrom_mem_into): S + addr+W + memaddr bytes + Sr + addr+R + n data bytes + P
    write (writeto_mem):       S + addr+W + memaddr bytes + n data bytes + P

9 bit times per byte (8 bits + ACK/NAK) and one bit time for each start,
repeated start and stop: read = 9*(2 + m + n) + 3, write = 9*(1 + m + n) + 2
bit times, m = addrsize // 8. At 400 kHz a 2-byte register read is
48 * 2.5 us = 120 us. The fractional microseconds carry over to the next
transaction, so the clock never drifts. The clock advances by the whole
transaction before the device is accessed. A NAK'd address costs
S + addr + P = 11 bit times, and scan() that for each of the 112 addresses
0x08..0x77 it probes.

A device model has `address`, `read_mem(memaddr, buf)` filling buf and
`write_mem(memaddr, buf)`. An address with no device raises OSError(5)
(EIO), as the rp2 port does on a NAK.
"""
import micropython
from micropython import const

_EIO = const(5)


class SimI2C:
    @micropython.native
    def __init__(self, clock, freq=400_000):
        self._clock = clock
        self._freq = freq
        self._rem = 0  # bit-time remainder, in units of 1 us / freq
        self._devices = {}

    @micropython.native
    def attach(self, device):
        self._devices[device.address] = device

    def at(self, address):
        """The device attached at address, or None."""
        return self._devices.get(address)

    @micropython.native
    def _busy(self, bits):
        t = self._rem + bits * 1000000
        us = t // self._freq
        self._rem = t - us * self._freq
        self._clock.now_us += us  # VirtualClock.advance(us), inline: us >= 0

    @micropython.native
    def _device(self, addr):
        dev = self._devices.get(addr)
        if dev is None:
            self._busy(11)
            raise OSError(_EIO)
        return dev

    @micropython.native
    def scan(self):
        self._busy(11 * 112)
        return sorted(a for a in self._devices if 0x08 <= a <= 0x77)

    @micropython.native
    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        dev = self._devices.get(addr)
        if dev is None:
            dev = self._device(addr)  # NAK'd: it raises
        # _busy(9 * (2 + addrsize // 8 + len(buf)) + 3), inline: the firmware reads at every sample
        t = self._rem + (9 * (2 + addrsize // 8 + len(buf)) + 3) * 1000000
        us = t // self._freq
        self._rem = t - us * self._freq
        self._clock.now_us += us
        dev.read_mem(memaddr, buf)

    @micropython.native
    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        buf = bytearray(nbytes)
        self.readfrom_mem_into(addr, memaddr, buf, addrsize=addrsize)
        return bytes(buf)

    @micropython.native
    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        dev = self._devices.get(addr)
        if dev is None:
            dev = self._device(addr)  # NAK'd: it raises
        self._busy(9 * (1 + addrsize // 8 + len(buf)) + 2)
        dev.write_mem(memaddr, buf)
