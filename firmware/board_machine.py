"""Board layer for MicroPython ports with machine.I2C and machine.PWM
(Raspberry Pi Pico / RP2040, ESP32). The station uses only this interface;
rigs/sim/simboard.py implements it for the simulator.

The load is a MOSFET constant-current sink whose setpoint is a PWM duty,
RC-filtered to a voltage: full duty = load["max_current_a"]. The rig file
gives pins and the load's full-scale current. A rig may have a second MOSFET
across the output, after the shunt, for the short-circuit test
(load["short_pin"], high = shorted).
"""
import select
import sys
import time

import micropython
from machine import I2C, PWM, Pin


class Board:
    def __init__(self, rig):
        pins = rig["pins"]
        self.name = rig.get("board", "machine")
        self.flash = ""  # files live at the root of the board's filesystem
        self.i2c = I2C(pins["i2c_id"], sda=Pin(pins["sda"]), scl=Pin(pins["scl"]), freq=400_000)
        self._pwm = PWM(Pin(pins["load_pwm"]), freq=pins.get("load_pwm_hz", 20_000), duty_u16=0)
        self._full_scale_ma = int(rig["load"]["max_current_a"] * 1000)
        self.has_short = "short_pin" in rig["load"]
        self._short = Pin(rig["load"]["short_pin"], Pin.OUT, value=0) if self.has_short else None
        self.ticks_us = time.ticks_us
        self.ticks_diff = time.ticks_diff
        self.ticks_add = time.ticks_add
        self.serial_out = sys.stdout.buffer
        self._in = sys.stdin.buffer
        self._one = bytearray(1)
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)

    def kbd_intr(self, ch):
        micropython.kbd_intr(ch)

    def input_ready(self):
        for _ in self._poll.ipoll(0):
            return True
        return False

    def read_byte(self):
        self._in.readinto(self._one)
        return self._one[0]

    def sleep_us(self, us):
        time.sleep_us(us)

    def idle(self, ms):
        for _ in self._poll.ipoll(ms):
            return

    def load_set_ma(self, ma):
        ma = min(max(ma, 0), self._full_scale_ma)
        self._pwm.duty_u16(ma * 65535 // self._full_scale_ma)

    def short(self, on):
        if self._short is not None:
            self._short.value(1 if on else 0)
