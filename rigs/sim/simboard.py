"""The simulated board: the same board interface as firmware/board_machine.py,
backed by a virtual clock, a simulated I2C bus with an INA226 on it, the
rig's load (MOSFET sink or resistor bank, with its parts' errors), a
simulated power bank, and the process's stdin/stdout, which the launcher
connects to a pseudo-terminal.

Like a microcontroller, it turns byte 0x03 on the console into
KeyboardInterrupt until the firmware calls kbd_intr(-1).
"""
import select
import sys
import time

import clock as vclock
from i2cbus import SimI2C
from world import World, bank_from, load_from

_CTRL_C = 3
_CHIPS = {"INA226": "ina226_sim", "INA219": "ina219_sim", "INA228": "ina228_sim", "INA260": "ina260_sim",
          "INA3221": "ina3221_sim"}


class SimBoard:
    name = "sim"
    flash = ""  # the launcher runs the simulator in the rig's flash folder

    def __init__(self, rig, dut):
        sim = rig.get("sim", {})
        self.clock = vclock.VirtualClock(sim.get("boot_us", 0))
        self.ticks_us = self.clock.ticks_us
        self.ticks_diff = vclock.ticks_diff
        self.ticks_add = vclock.ticks_add
        self.world = World(self.clock, bank_from(dut, sim.get("seed", 1)), load_from(rig), sim.get("short_ohm", 0.05))
        self.i2c = SimI2C(self.clock)
        self.i2c.attach(_chip(rig["sensor"], sim, self.clock, self.world))
        self.serial_out = sys.stdout.buffer
        self._in = sys.stdin.buffer
        self._one = bytearray(1)
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)
        self._kbd_intr = _CTRL_C
        self.has_short = "short_pin" in rig["load"]
        self._dac = rig["load"]["kind"] == "dac"
        self._speed = sim.get("speed", 0)  # 0: virtual time, as fast as possible; N: N x real time

    def kbd_intr(self, ch):
        self._kbd_intr = ch

    def input_ready(self):
        for _ in self._poll.ipoll(0):
            return True
        return False

    def read_byte(self):
        """Next received byte; the pseudo-terminal closing ends the simulation."""
        try:
            n = self._in.readinto(self._one)
        except OSError:
            n = 0
        if not n:
            raise SystemExit(0)
        b = self._one[0]
        if b == self._kbd_intr:
            raise KeyboardInterrupt
        return b

    def sleep_us(self, us):
        if self._speed:
            time.sleep_us(int(us / self._speed))
        self.clock.advance(us)

    def idle(self, ms):
        """Wait for the host for real (no busy loop). Virtual time stands still
        meanwhile, so a run does not depend on how fast the host answered and
        a seed reproduces it bit for bit; at --speed N it runs N x real time."""
        start = time.ticks_us()
        self._poll.poll(ms)
        if self._speed:
            self.clock.advance(int(time.ticks_diff(time.ticks_us(), start) * self._speed))

    def load_drive(self, duty_u16):
        if self._dac:  # an 8-bit DAC, as the ESP32's: board_machine.py writes the top byte
            duty_u16 = (duty_u16 >> 8) * 65535 // 255
        self.world.load_drive(duty_u16)

    def load_relays(self, mask):
        self.world.load_relays(mask)

    def short(self, on):
        if self.has_short:
            self.world.short(on)

    def temperature_code(self, sensor, celsius):
        """Readings in hundredths of a degree: rising with temperature, as the station expects."""
        return int(celsius * 100)

    def temperature_raw(self, sensor):
        return int(self.world.temperature_c(sensor) * 100)


def _chip(sensor, sim, clock, source):
    """The simulated chip the rig names, where the [sim] table says it really is.

    Its shunt differs from the rig file's nominal value by sim.shunt_error (a
    fraction), as a real 1 % resistor does: what a calibration corrects."""
    chip = sensor["chip"]
    model = getattr(__import__(_CHIPS[chip]), "Sim" + chip)
    kwargs = {"address": sim.get("sensor_address", sensor["address"]),
              "shunt_ohms": sensor["shunt_ohms"] * (1 + sim.get("shunt_error", 0.0)),
              "seed": sim.get("seed", 1)}
    if "channel" in sensor:
        kwargs["channel"] = sensor["channel"]
    return model(clock, source, **kwargs)
