"""The simulated power bank and load, and the exact truth about them.

A power bank model answers two questions: its output voltage at a load
current, and what happens when that current flows for a while (`step`). The
world advances the bank with the load's current whenever a sensor looks, and
keeps the exact charge and energy delivered, against which measurements are
judged. The load is a MOSFET sink or a resistor bank, each with the gain
error and thermal drift of real parts. Runs under CPython and MicroPython.
"""
import math

from powerbank import FOREVER, ModelBank

AMBIENT_C = 25.0  # the room the rig stands in


class CurveBank:
    """Output voltage at the test current as a function of charge delivered.

    points: (delivered_mah, voltage_v) ascending in charge, linearly
    interpolated; the output switches off after the last point.
    """

    def __init__(self, points):
        self.q = [mah * 3.6 for mah, _ in points]  # coulombs
        self.v = [v for _, v in points]
        self.delivered_c = 0.0
        self.energy_j = 0.0
        self.on = True
        self._k = 0  # segment holding delivered_c

    def voltage(self, current_a):
        if not self.on:
            return 0.0
        return self._v_at(self.delivered_c)

    sensed_voltage = voltage

    def short_current(self, short_ohm):
        """A curve knows no output resistance or protection: 0.1 ohm, and it never trips."""
        return self.voltage(0.0) / (short_ohm + 0.1)

    def until_change(self, current_a):
        return FOREVER  # switches off only when its charge runs out, inside step()

    def _v_at(self, q):
        k = self._k
        q0, q1 = self.q[k], self.q[k + 1]
        if q1 == q0:
            return self.v[k + 1]
        return self.v[k] + (self.v[k + 1] - self.v[k]) * (q - q0) / (q1 - q0)

    def step(self, current_a, seconds):
        """Deliver current for some seconds, or until the curve ends."""
        if not self.on or current_a <= 0:
            return
        want = current_a * seconds
        q = self.delivered_c
        end = q + want
        last = len(self.q) - 1
        while self.on and q < end:
            k = self._k
            seg_end = self.q[k + 1]
            step_end = end if end < seg_end else seg_end
            v_a = self._v_at(q)
            v_b = self._v_at(step_end)
            self.energy_j += (v_a + v_b) * 0.5 * (step_end - q)
            q = step_end
            if q >= seg_end:
                if k + 1 >= last:
                    self.on = False
                else:
                    self._k = k + 1
        self.delivered_c = q


class _Load:
    """What both loads share: their parts are off the rig file's nominal values
    (gain_error, a fraction) and drift with the temperature of their heatsink
    (tempco, fraction per degree C), which rises c_per_w degrees per watt
    burnt, over tau_s: what an open-loop load gets wrong during a discharge."""

    def __init__(self, gain_error=0.0, tempco=0.0, c_per_w=0.0, tau_s=600.0):
        self.gain_error = gain_error
        self.tempco = tempco
        self.c_per_w = c_per_w
        self.tau_s = tau_s
        self.rise_c = 0.0  # heatsink over ambient

    def gain(self):
        return (1 + self.gain_error) * (1 + self.tempco * self.rise_c)

    def heat(self, watts, seconds):
        self.rise_c += (watts * self.c_per_w - self.rise_c) * (1 - math.exp(-seconds / self.tau_s))


class CCLoad(_Load):
    """MOSFET constant-current sink: sinks its setpoint (times its gain) while
    the source can drive it.

    The setpoint comes as a drive (0..65535 of max_current_a, the PWM duty or
    DAC code, from firmware/load.py) or in mA (set_ma: the open-loop station
    and the benches). Below dropout_v
    the pass transistor saturates and the current collapses, as a real MOSFET
    load does when the output dies.
    """

    def __init__(self, max_current_a, dropout_v=0.5, **errors):
        _Load.__init__(self, **errors)
        self.max_current_a = max_current_a
        self.dropout_v = dropout_v
        self.setpoint_a = 0.0

    def set_ma(self, ma):
        self.setpoint_a = min(ma / 1000, self.max_current_a)

    def drive(self, duty_u16):
        self.setpoint_a = self.max_current_a * min(max(duty_u16, 0), 65535) / 65535

    def drawing(self):
        return self.setpoint_a > 0

    def current(self, bank):
        i = self.setpoint_a * self.gain()
        if i <= 0 or bank.voltage(i) < self.dropout_v:
            return 0.0
        return i


class ResistorBank(_Load):
    """Relay-switched resistors in parallel: the current is what the output
    voltage drives through them (the output's own resistance solved by
    iteration: it converges as fast as the bank is larger than it)."""

    def __init__(self, resistors_ohm, **errors):
        _Load.__init__(self, **errors)
        self.resistors_ohm = resistors_ohm
        self.mask = 0
        self.siemens = 0.0

    def relays(self, mask):
        self.mask = mask
        self.siemens = sum(1 / r for k, r in enumerate(self.resistors_ohm) if mask >> k & 1)

    def drawing(self):
        return self.mask != 0

    def current(self, bank):
        g = self.siemens * self.gain()
        i = 0.0
        for _ in range(4):
            i = bank.voltage(i) * g
        return i


class World:
    """Bank and load on one virtual clock; `sense` is what a sensor sees now.

    The rig's short-circuit switch (short_ohm: MOSFET and wiring) sits across
    the output after the shunt, so the sensor sees the short's current."""

    def __init__(self, clock, bank, load, short_ohm=0.05):
        self.clock = clock
        self.bank = bank
        self.load = load
        self.short_ohm = short_ohm
        self.shorted = False
        self._t_us = clock.now_us

    def set_load_ma(self, ma):
        self._set(self.load.set_ma, ma)

    def load_drive(self, duty_u16):
        self._set(self.load.drive, duty_u16)

    def load_relays(self, mask):
        self._set(self.load.relays, mask)

    def _set(self, setter, value):
        """The old setting held until now; a load appearing wakes a unit that
        switched itself off (ModelBank.load_connected)."""
        self.sense(self.clock.now_us)
        was = self.load.drawing()
        setter(value)
        if self.load.drawing() and not was and hasattr(self.bank, "load_connected"):
            self.bank.load_connected()

    def short(self, on):
        self.sense(self.clock.now_us)
        self.shorted = on

    def _current(self):
        if self.shorted:
            return self.bank.short_current(self.short_ohm)
        return self.load.current(self.bank)

    def sense(self, now_us):
        """Advance to now, re-evaluating the load current whenever the bank switches."""
        dt = (now_us - self._t_us) / 1e6
        bank = self.bank
        while dt > 0:
            i = self._current()
            step = min(dt, max(bank.until_change(i), 1e-6))
            self.load.heat(0.0 if self.shorted else bank.voltage(i) * i, step)
            bank.step(i, step)
            dt -= step
        self._t_us = max(now_us, self._t_us)
        i = self._current()
        return bank.sensed_voltage(i), i

    def temperature_c(self, sensor):
        """What the rig's temperature sensors read: 0 the load's heatsink, 1 the unit's case."""
        if sensor == 0:
            return AMBIENT_C + self.load.rise_c
        return getattr(self.bank, "temp_c", AMBIENT_C)

    def truth(self):
        bank = self.bank
        return {"charge_mah": bank.delivered_c / 3.6, "energy_wh": bank.energy_j / 3600,
                "virtual_s": self.clock.now_us / 1e6, "off_reason": getattr(bank, "off_reason", ""),
                "temperature_c": getattr(bank, "temp_c", None)}


def load_from(rig):
    """The rig's load as built: [load] says what it is, [sim] how far its parts
    are off nominal and how they drift."""
    cfg, sim = rig["load"], rig.get("sim", {})
    errors = {"gain_error": sim.get("load_gain_error", 0.0), "tempco": sim.get("load_tempco_per_c", 0.0),
              "c_per_w": sim.get("load_c_per_w", 0.0), "tau_s": sim.get("load_tau_s", 600.0)}
    if cfg["kind"] == "relays":
        return ResistorBank(cfg["resistors_ohm"], **errors)
    return CCLoad(cfg["max_current_a"], **errors)


def bank_from(spec, seed):
    """A bank from the simulator's DUT description (see pbgrade.simdut)."""
    if spec["kind"] == "curve":
        return CurveBank(spec["points"])
    return ModelBank(spec["model"], seed)
