"""The simulated board: firmware/board.py's interface, as
firmware/board_machine.py offers it on a real board, backed by a virtual
clock, a simulated I2C bus with an INA226 on it, the rig's load (MOSFET sink
or resistor bank, with its parts' errors), a simulated power bank, and the
process's stdin/stdout, which the launcher connects to a pseudo-terminal.

Like a microcontroller, it turns byte 0x03 on the console into
KeyboardInterrupt until the firmware calls kbd_intr(-1).

A rig with several channels has one SimBoard per channel (boards()), each
with its own power bank, load and sensor; they share the clock, the I2C bus
(each sensor at its own address) and the wait for input. Channel 1 talks
over stdin/stdout, channel k over the file descriptors its [sim] table names
("fds": input, output), which the launcher passes on.

A rig's scale ([scale]) is a simulated HX711 (hx711_sim.py) under the bay:
it weighs the unit plugged in (its model's [body] mass_g) or a calibration
weight (a DUT of kind "weight").

The sensor's ALERT pin ([sensor] alert_pin) is the simulated chip's
(alert_low()): while the firmware watches it (alert_irq), a sleep lets the
chip convert on its own schedule, as a real chip does between reads, and its
handler runs at the conversion that pulls the pin low.

Once a simulated second it answers the hosts of its external loads (if
any) and looks at two files pbgrade.simrig may change while it runs: the
DUT file of a rig started with an empty bay (a unit plugged in or pulled
out), and the host-away flag (while the host does not read, time passes at
real time, as it does for a board); with its host there, it waits until that
host has taken all it sent (pbgrade.simrig says why).
"""
import json
import os
import select
import sys
import time

import clock as vclock
from i2cbus import SimI2C
from loads import load_from
from powerbank import bank_from
from world import ChargerInput, World

_CTRL_C = 3
_CHIPS = {"INA226": "ina226_sim", "INA219": "ina219_sim", "INA228": "ina228_sim", "INA260": "ina260_sim",
          "INA3221": "ina3221_sim"}


def boards(rigs, duts, dut_paths):
    """One SimBoard per channel of the rig: rigs[k] with the unit duts[k] (read from dut_paths[k])."""
    first = SimBoard(rigs[0], duts[0], dut_paths[0], channels=len(rigs))
    return [first] + [SimBoard(rig, dut, path, first, len(rigs), k)
                      for k, (rig, dut, path) in enumerate(zip(rigs[1:], duts[1:], dut_paths[1:]), 2)]


class SimBoard:
    def __init__(self, rig, dut, dut_path=None, first=None, channels=1, number=1):
        sim = rig.get("sim", {})
        self.name = "sim" if channels == 1 else "sim/ch%d" % number
        # a real board's serial is machine.unique_id(); a simulated board is its rig's, unless the rig names another
        self.board_id = sim.get("board_id", "sim:" + rig["rig"]["name"])
        self.flash = "" if number == 1 else "ch%d-" % number  # the launcher runs it in the rig's flash folder
        if first is None:
            first = self
            self.clock = vclock.VirtualClock(sim.get("boot_us", 0))
            self.i2c = SimI2C(self.clock)
            self._any = select.poll()  # every channel's input: idle() waits on it
            self._boards = []
            self._kbd_intr = _CTRL_C
            self._away = False
            self._next_look = 0
            self._speed = sim.get("speed", 0)  # 0: virtual time, as fast as possible; N: N x real time
            self._watching = []  # the boards whose ALERT pin has a handler
        self._first = first
        first._boards.append(self)
        self.clock = first.clock
        self.i2c = first.i2c
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
        self.world = World(self.clock, bank_from(dut, self._seed), load, sim.get("short_ohm", 0.05))
        self._bay = dut.get("bay")  # the number of the last plug or pull, in a rig started with an empty bay
        self._dut_path = dut_path if self._bay is not None else None
        self._away_file = sim.get("host_away_file")
        self._chip = self._connect_sensor(rig["sensor"], sim)
        self._alert_wired = "alert_pin" in rig["sensor"] and hasattr(self._chip, "alert_low")
        self._alert_handler = None
        self._alert_was_low = False
        self.has_charger = "charger" in rig
        if self.has_charger:
            self._source_v = rig["charger"]["source_v"]
            self.i2c.attach(_chip(rig["input_sensor"], {"seed": self._seed + 1}, self.clock, ChargerInput(self.world)))
        fds = sim.get("fds")
        self._in = open(fds[0], "rb") if fds else sys.stdin.buffer
        self.serial_out = open(fds[1], "wb") if fds else sys.stdout.buffer
        self._one = bytearray(1)
        self._host = None  # asked whether this channel's host has taken all it sent (pbgrade.simrig)
        if "host_taken_fds" in sim:  # its code only where asked: the bench's loop has an RP2040's heap
            from hostwait import HostWait

            self._host = HostWait(*sim["host_taken_fds"])
        self._poll = select.poll()  # this channel's input
        self._poll.register(self._in, select.POLLIN)
        first._any.register(self._in, select.POLLIN)
        self.has_short = "short_pin" in rig["load"]
        self._dac = rig["load"]["kind"] == "dac"
        self._grams = _mass_g(dut)
        self._scale = None
        if "scale" in rig:  # its code only where there is one
            from hx711_sim import SimHX711

            chip = SimHX711(self.clock, lambda: self._grams, seed=self._seed)
            self._scale = (chip.pd_sck, chip.dout)

    def _connect_sensor(self, sensor, sim):
        """This channel's chip on the shared bus; on an INA3221 another channel already has, its channel of it."""
        address = sim.get("sensor_address", sensor["address"])
        shared = self.i2c.at(address)
        if shared is None:
            chip = _chip(sensor, sim, self.clock, self.world)
            self.i2c.attach(chip)
            return chip
        if sensor["chip"] == "INA3221" and hasattr(shared, "attach"):
            shared.attach(sensor["channel"], self.world, _shunt_ohms(sensor, sim))
            return shared
        else:
            raise ValueError("two sensors at I2C address 0x%02x: give each channel its own" % address)

    def kbd_intr(self, ch):
        self._first._kbd_intr = ch

    def input_ready(self):
        for _ in self._poll.ipoll(0):
            return True
        return False

    def any_input(self):
        for _ in self._first._any.ipoll(0):
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
        if b == self._first._kbd_intr:
            raise KeyboardInterrupt
        return b

    def sleep_us(self, us):
        f = self._first
        if f.clock.now_us >= f._next_look:
            f._look()
        if f._away:
            time.sleep_us(us)
        elif f._speed:
            time.sleep_us(int(us / f._speed))
        f._advance(us)

    def _advance(self, us):
        """Time passes (on the first board); a chip whose ALERT pin has a handler converts on its schedule
        meanwhile, so the handler runs at the conversion that pulls the pin low, not at the next read."""
        clock = self.clock
        end = clock.now_us + us
        while self._watching:
            chip = self._watching[0]._chip
            for b in self._watching[1:]:
                chip = b._chip if b._chip._next < chip._next else chip
            if chip._next > end:
                break
            clock.advance(chip._next - clock.now_us)
            chip._due()
        clock.advance(end - clock.now_us)

    def alert_irq(self, handler):
        if not self._alert_wired:
            return False
        watching = self._first._watching
        if self in watching:
            watching.remove(self)
        self._alert_handler = handler
        self._alert_was_low = self._chip.alert_low()
        self._chip.on_pin = None if handler is None else self._alert_edge
        if handler is not None:
            watching.append(self)
        return True

    def _alert_edge(self):
        """The chip's ALERT pin may have moved: a falling edge runs the handler."""
        low = self._chip.alert_low()
        if low and not self._alert_was_low:
            self._alert_handler(self)
        self._alert_was_low = low

    def _look(self):
        """A unit plugged in or pulled out of any channel; the host of any gone or back; what a host
        asked of its external load (it may, while another channel runs)."""
        self._next_look = self.clock.now_us + 1_000_000
        self._away = False
        for b in self._boards:
            b._look_at_bay()
            self._away = self._away or b._host_away()
            if b._scpi is not None:
                b._scpi.poll()
        if not self._away:
            for b in self._boards:
                if b._host is not None:
                    b._host.wait()

    def _look_at_bay(self):
        if self._dut_path is not None:
            with open(self._dut_path) as f:
                dut = json.load(f)
            if dut["bay"] != self._bay:
                self._bay = dut["bay"]
                self.world.plug_bank(bank_from(dut, self._seed + self._bay))
                self._grams = _mass_g(dut)

    def _host_away(self):
        if self._away_file is None:
            return False
        try:
            os.stat(self._away_file)
            return True
        except OSError:
            return False

    def idle(self, ms):
        """Wait for the host of any channel for real (no busy loop). Virtual time
        stands still meanwhile, so a run does not depend on how fast the host
        answered and a seed reproduces it bit for bit; at --speed N it runs N x
        real time."""
        f = self._first
        start = time.ticks_us()
        scpis = [b._scpi for b in f._boards if b._scpi is not None]
        if not scpis:
            f._any.poll(ms)
        else:  # an external load's host may set it meanwhile
            while time.ticks_diff(time.ticks_us(), start) < ms * 1000 and not f._any.poll(1):
                for scpi in scpis:
                    scpi.poll()
        if f._speed:
            f.clock.advance(int(time.ticks_diff(time.ticks_us(), start) * f._speed))

    def load_drive(self, duty_u16):
        if self._dac:  # an 8-bit DAC, as the ESP32's: board_machine.py writes the top byte
            duty_u16 = (duty_u16 >> 8) * 65535 // 255
        self.world.load_drive(duty_u16)

    def load_relays(self, mask):
        self.world.load_relays(mask)

    def load_enable(self, on):
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

    def scale_pins(self):
        return self._scale

    def charger(self, on):
        if self.has_charger:
            self.world.charger(self._source_v if on else 0.0)

    def temperature_code(self, sensor, celsius):
        """Readings in hundredths of a degree: rising with temperature, as the station expects."""
        return int(celsius * 100)

    def temperature_raw(self, sensor):
        return int(self.world.temperature_c(sensor) * 100)

    def temperature_c(self, sensor):
        """The simulated rig has both NTCs, reading as they would to 0.01 degC."""
        return self.temperature_raw(sensor) / 100


def _mass_g(dut):
    """What the bay's platform carries: a unit's mass ([body] mass_g), a calibration weight's, else nothing."""
    if dut["kind"] == "weight":
        return dut["mass_g"]
    return dut.get("model", {}).get("body", {}).get("mass_g", 0.0)


def _chip(sensor, sim, clock, source):
    """The simulated chip the rig names, where the [sim] table says it really is.

    Its shunt differs from the rig file's nominal value by sim.shunt_error (a
    fraction), as a real 1 % resistor does: what a calibration corrects."""
    chip = sensor["chip"]
    model = getattr(__import__(_CHIPS[chip]), "Sim" + chip)
    kwargs = {"address": sim.get("sensor_address", sensor["address"]), "shunt_ohms": _shunt_ohms(sensor, sim),
              "seed": sim.get("seed", 1)}
    if "channel" in sensor:
        kwargs["channel"] = sensor["channel"]
    return model(clock, source, **kwargs)


def _shunt_ohms(sensor, sim):
    """The shunt as built: the rig file's nominal value off by sim.shunt_error (a fraction)."""
    return sensor["shunt_ohms"] * (1 + sim.get("shunt_error", 0.0))
