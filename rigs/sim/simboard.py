"""The simulated board: the same board interface as firmware/board_machine.py,
backed by a virtual clock, a simulated I2C bus with an INA226 on it, the
rig's load (MOSFET sink or resistor bank, with its parts' errors), a
simulated power bank, and the process's stdin/stdout, which the launcher
connects to a pseudo-terminal.

Like a microcontroller, it turns byte 0x03 on the console into
KeyboardInterrupt until the firmware calls kbd_intr(-1).

Once a simulated second it looks at two files pbgrade.simrig may change
while it runs: the DUT file of a rig started with an empty bay (a unit
plugged in or pulled out), and the host-away flag (while the host does not
read, time passes at real time, as it does for a board).
"""
import json
import os
import select
import sys
import time

import clock as vclock
from i2cbus import SimI2C
from world import CurveBank, World, bank_from, load_from

_CTRL_C = 3
_CHIPS = {"INA226": "ina226_sim", "INA219": "ina219_sim", "INA228": "ina228_sim", "INA260": "ina260_sim",
          "INA3221": "ina3221_sim"}


class SimBoard:
    name = "sim"
    flash = ""  # the launcher runs the simulator in the rig's flash folder

    def __init__(self, rig, dut, dut_path=None):
        sim = rig.get("sim", {})
        self.clock = vclock.VirtualClock(sim.get("boot_us", 0))
        self.ticks_us = self.clock.ticks_us
        self.ticks_diff = vclock.ticks_diff
        self.ticks_add = vclock.ticks_add
        self._seed = sim.get("seed", 1)
        self._scpi = None
        if rig["load"]["kind"] == "scpi":
            from external_load import ExternalLoad, ScpiServer  # its sockets' code only where there is one

            load = ExternalLoad()
            self._scpi = ScpiServer(sim["scpi_port"], load, self._measure, self._set_external)
        else:
            load = load_from(rig)
        self.world = World(self.clock, _bank(dut, self._seed), load, sim.get("short_ohm", 0.05))
        self._bay = dut.get("bay")  # the number of the last plug or pull, in a rig started with an empty bay
        self._dut_path = dut_path if self._bay is not None else None
        self._away_file = sim.get("host_away_file")
        self._away = False
        self._next_look = 0
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
        if self.clock.now_us >= self._next_look:
            self._look()
        if self._away:
            time.sleep_us(us)
        elif self._speed:
            time.sleep_us(int(us / self._speed))
        self.clock.advance(us)

    def _look(self):
        """A unit plugged in or pulled out; the host gone or back."""
        self._next_look = self.clock.now_us + 1_000_000
        if self._dut_path is not None:
            with open(self._dut_path) as f:
                dut = json.load(f)
            if dut["bay"] != self._bay:
                self._bay = dut["bay"]
                self.world.bank = _bank(dut, self._seed + self._bay)  # the world notices at its next look
        if self._away_file is not None:
            try:
                os.stat(self._away_file)
                self._away = True
            except OSError:
                self._away = False

    def idle(self, ms):
        """Wait for the host for real (no busy loop). Virtual time stands still
        meanwhile, so a run does not depend on how fast the host answered and
        a seed reproduces it bit for bit; at --speed N it runs N x real time."""
        start = time.ticks_us()
        if self._scpi is None:
            self._poll.poll(ms)
        else:  # the external load's host may set it meanwhile
            while time.ticks_diff(time.ticks_us(), start) < ms * 1000 and not self._poll.poll(1):
                self._scpi.poll()
        if self._speed:
            self.clock.advance(int(time.ticks_diff(time.ticks_us(), start) * self._speed))

    def load_drive(self, duty_u16):
        if self._dac:  # an 8-bit DAC, as the ESP32's: board_machine.py writes the top byte
            duty_u16 = (duty_u16 >> 8) * 65535 // 255
        self.world.load_drive(duty_u16)

    def load_relays(self, mask):
        self.world.load_relays(mask)

    def load_enable(self, on):
        """The series switch of an external load."""
        self._set_external(("ENABLE", on))

    def _set_external(self, setting):
        self.world.set_load(self.world.load.set, setting)

    def _measure(self):
        """The external load's own meter: the true voltage and current, now."""
        self.world.sense(self.clock.now_us, False)
        return self.world.present()

    def short(self, on):
        if self.has_short:
            self.world.short(on)

    def temperature_code(self, sensor, celsius):
        """Readings in hundredths of a degree: rising with temperature, as the station expects."""
        return int(celsius * 100)

    def temperature_raw(self, sensor):
        return int(self.world.temperature_c(sensor) * 100)


def _bank(dut, seed):
    """The unit a DUT description names; an empty bay ("none") is a unit whose output is off."""
    if dut["kind"] != "none":
        return bank_from(dut, seed)
    empty = CurveBank([(0, 0.0), (1, 0.0)])
    empty.on = False
    return empty


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
