"""The simulated power bank and load, and the exact truth about them.

A power bank model answers two questions: its output voltage at a load
current, and what happens when that current flows for a while (`step`). The
world advances the bank with the load's current whenever a sensor looks, and
keeps the exact charge and energy delivered, against which measurements are
judged. The load is a MOSFET sink or a resistor bank, each with the gain
error and thermal drift of real parts. Runs under CPython and MicroPython;
under MicroPython as native code, for speed and for the firmware's heap
(see powerbank.py).
"""
import math

import micropython

from powerbank import ModelBank

AMBIENT_C = 25.0  # the room the rig stands in


class CurveBank:
    """Output voltage at the test current as a function of charge delivered.

    points: (delivered_mah, voltage_v) ascending in charge, linearly
    interpolated; the output switches off after the last point.
    """

    @micropython.native
    def __init__(self, points):
        self.q = [mah * 3.6 for mah, _ in points]  # coulombs
        self.v = [v for _, v in points]
        self.delivered_c = 0.0
        self.energy_j = 0.0
        self.on = True
        self._k = 0  # segment holding delivered_c

    @micropython.native
    def voltage(self, current_a):
        if not self.on:
            return 0.0
        return self._v_at(self.delivered_c)

    @micropython.native
    def sensed_voltage(self, current_a, v=None):
        """voltage(): a curve has no noise (v: voltage(current_a), if the caller has it)."""
        return self.voltage(current_a) if v is None else v

    @micropython.native
    def skip_noise(self, v):
        """A curve has no noise to draw."""

    @micropython.native
    def short_current(self, short_ohm):
        """A curve knows no output resistance or protection: 0.1 ohm, and it never trips."""
        return self.voltage(0.0) / (short_ohm + 0.1)

    @micropython.native
    def _v_at(self, q):
        k = self._k
        q0, q1 = self.q[k], self.q[k + 1]
        if q1 == q0:
            return self.v[k + 1]
        return self.v[k] + (self.v[k + 1] - self.v[k]) * (q - q0) / (q1 - q0)

    @micropython.native
    def advance(self, current_a, seconds, p=None):
        """step() for `seconds`, all of them: a curve switches only when its charge runs out, inside step()."""
        self.step(current_a, seconds)
        return seconds

    @micropython.native
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

    @micropython.native
    def __init__(self, gain_error=0.0, tempco=0.0, c_per_w=0.0, tau_s=600.0):
        self.tempco = tempco
        self.c_per_w = c_per_w
        self.tau_s = tau_s
        self.rise_c = 0.0  # heatsink over ambient
        self._gain0 = 1 + gain_error
        self._gain = self._gain0  # it changes only as the heatsink warms (heat)
        self._fade = (-1.0, 0.0, -1.0, 0.0)  # (seconds, 1 - exp(-seconds / tau_s)) for the last two step lengths
        self.v = 0.0

    @micropython.native
    def heat(self, watts, seconds):
        """The heatsink over `seconds` burning `watts`; the gain follows its temperature."""
        f = self._fade
        if seconds == f[0]:
            fade = f[1]
        elif seconds == f[2]:
            fade = f[3]
        else:  # a run's steps are mostly of two lengths, sample after sample: keep both
            fade = 1 - math.exp(-seconds / self.tau_s)
            self._fade = (seconds, fade, f[0], f[1])
        rise = self.rise_c
        rise += (watts * self.c_per_w - rise) * fade
        self.rise_c = rise
        self._gain = self._gain0 * (1 + self.tempco * rise)


class CCLoad(_Load):
    """MOSFET constant-current sink: sinks its setpoint (times its gain) while
    the source can drive it.

    The setpoint comes as a drive (0..65535 of max_current_a, the PWM duty or
    DAC code, from firmware/load.py) or in mA (set_ma: the open-loop station
    and the benches). Below dropout_v
    the pass transistor saturates and the current collapses, as a real MOSFET
    load does when the output dies. The setters say whether the setpoint changed.
    """

    @micropython.native
    def __init__(self, max_current_a, dropout_v=0.5, **errors):
        _Load.__init__(self, **errors)
        self.max_current_a = max_current_a
        self.dropout_v = dropout_v
        self.setpoint_a = 0.0

    @micropython.native
    def set_ma(self, ma):
        return self._setpoint(min(ma / 1000, self.max_current_a))

    @micropython.native
    def drive(self, duty_u16):
        return self._setpoint(self.max_current_a * min(max(duty_u16, 0), 65535) / 65535)

    @micropython.native
    def _setpoint(self, amps):
        changed = amps != self.setpoint_a
        self.setpoint_a = amps
        return changed

    @micropython.native
    def drawing(self):
        return self.setpoint_a > 0

    @micropython.native
    def draw(self, bank):
        """The current it draws from the bank (none once the output is below its dropout), and the
        bank's voltage at it in self.v."""
        i = self.setpoint_a * self._gain
        if i > 0:
            v = bank.voltage(i)
            if not v < self.dropout_v:
                self.v = v
                return i
        self.v = bank.voltage(0.0)
        return 0.0


class ResistorBank(_Load):
    """Relay-switched resistors in parallel: the current is what the output
    voltage drives through them (the output's own resistance solved by
    iteration: it converges as fast as the bank is larger than it)."""

    @micropython.native
    def __init__(self, resistors_ohm, **errors):
        _Load.__init__(self, **errors)
        self.resistors_ohm = resistors_ohm
        self.mask = 0
        self.siemens = 0.0

    @micropython.native
    def relays(self, mask):
        changed = mask != self.mask
        self.mask = mask
        self.siemens = sum(1 / r for k, r in enumerate(self.resistors_ohm) if mask >> k & 1)
        return changed

    @micropython.native
    def drawing(self):
        return self.mask != 0

    @micropython.native
    def current(self, bank):
        g = self.siemens * self._gain
        i = 0.0
        for _ in range(4):
            i = bank.voltage(i) * g
        return i


class World:
    """Bank and load on one virtual clock; `sense` is what a sensor sees now.

    The rig's short-circuit switch (short_ohm: MOSFET and wiring) sits across
    the output after the shunt, so the sensor sees the short's current.

    Between two looks the world keeps the load's current, the bank's voltage
    at it and their product (the power) as of the present state: only
    stepping time, changing a setting and plugging in another bank
    (plug_bank) change them, so each is computed once, not again by every
    part that needs it.

    A bank (ModelBank, CurveBank) has voltage(i), short_current(short_ohm),
    advance(i, seconds, p): a step up to its next switching moment at most,
    sensed_voltage(i, v) with the voltage the world already has, and
    skip_noise(v). A load has drawing() and heat(watts, seconds), and
    either draw(bank), which leaves the bank's voltage at its current in its
    .v, or current(bank). A setter of a load may return False: nothing
    changed.

    A setting brings the world up to now first, as a look does (and draws
    the noise a reading would); a drive the load already has changes
    nothing and does not (load_drive)."""

    @micropython.native
    def __init__(self, clock, bank, load, short_ohm=0.05):
        self.clock = clock
        self.bank = bank
        self.load = load
        self.short_ohm = short_ohm
        self.shorted = False
        self._t_us = clock.now_us
        self._i = None  # the current now (None: to be found again) ...
        self._v = self._p = 0.0  # ... the bank's voltage at it, and voltage * current
        self._duty = None  # the drive load_drive() set last
        self._draws = hasattr(load, "draw")
        self._present()

    @micropython.native
    def plug_bank(self, bank):
        """Another unit on the output (a station's bay), from the last look on."""
        self.bank = bank
        self._present()

    @micropython.native
    def set_load_ma(self, ma):
        self._set(self.load.set_ma, ma)

    @micropython.native
    def load_drive(self, duty_u16):
        """_set(self.load.drive, duty_u16), without a bound method each sample; and
        the closed loop of firmware/load.py repeats the drive it had most of the
        time: that changes nothing, so the world need not be brought up to now
        for it (the next look does that in one step instead of two)."""
        if duty_u16 == self._duty:
            return
        self.sense(self.clock.now_us, False)
        was = self.load.drawing()
        if self.load.drive(duty_u16) is not False:
            self._changed(was)
        self._duty = duty_u16

    @micropython.native
    def load_relays(self, mask):
        self._set(self.load.relays, mask)

    @micropython.native
    def set_load(self, setter, value):
        """A setting of the load from outside the firmware: an external load's host, its series switch."""
        self._set(setter, value)

    @micropython.native
    def present(self):
        """(volts, amps) at the output as of the last look, exactly: what an external load's own meter shows."""
        return self._v, self._i

    @micropython.native
    def _set(self, setter, value):
        """The old setting held until now."""
        self._duty = None  # another setting: the next drive is a change
        self.sense(self.clock.now_us, False)
        was = self.load.drawing()
        if setter(value) is not False:
            self._changed(was)

    @micropython.native
    def _changed(self, was):
        """After a setting changed: a load appearing wakes a unit that switched
        itself off (ModelBank.load_connected)."""
        self._i = None
        if not was and self.load.drawing() and hasattr(self.bank, "load_connected"):
            self.bank.load_connected()

    @micropython.native
    def short(self, on):
        self.sense(self.clock.now_us, False)
        self.shorted = on
        self._i = None

    @micropython.native
    def _current(self):
        if self.shorted:
            return self.bank.short_current(self.short_ohm)
        return self.load.current(self.bank)

    @micropython.native
    def _present(self):
        """The load's current in the present state, the bank's voltage and the power at it."""
        if self._draws and not self.shorted:
            i = self.load.draw(self.bank)
            v = self.load.v
        else:
            i = self._current()
            v = self.bank.voltage(i)
        self._i = i
        self._v = v
        self._p = v * i

    @micropython.native
    def sense(self, now_us, reading=True):
        """Advance to now, re-evaluating the load current whenever the bank switches;
        (bus volts, amps) as a sensor sees them, unless no reading is wanted."""
        if self._i is None:
            self._present()
        if now_us > self._t_us:
            dt = (now_us - self._t_us) / 1e6
            while True:  # each step ends where the bank switches: the current may change there
                step = self.bank.advance(self._i, dt, self._p)
                self.load.heat(0.0 if self.shorted else self._p, step)  # the load's own, apart from the bank's
                self._present()
                if step >= dt:  # a step is never longer than dt
                    break
                dt -= step
            self._t_us = now_us
        if reading:
            return self.bank.sensed_voltage(self._i, self._v), self._i
        self.bank.skip_noise(self._v)  # what the reading would have drawn of the noise

    @micropython.native
    def temperature_c(self, sensor):
        """What the rig's temperature sensors read: 0 the load's heatsink, 1 the unit's case."""
        if sensor == 0:
            return AMBIENT_C + self.load.rise_c
        return getattr(self.bank, "temp_c", AMBIENT_C)

    @micropython.native
    def truth(self):
        bank = self.bank
        return {"charge_mah": bank.delivered_c / 3.6, "energy_wh": bank.energy_j / 3600,
                "virtual_s": self.clock.now_us / 1e6, "off_reason": getattr(bank, "off_reason", ""),
                "temperature_c": getattr(bank, "temp_c", None)}


@micropython.native
def load_from(rig):
    """The rig's load as built: [load] says what it is, [sim] how far its parts
    are off nominal and how they drift."""
    cfg, sim = rig["load"], rig.get("sim", {})
    errors = {"gain_error": sim.get("load_gain_error", 0.0), "tempco": sim.get("load_tempco_per_c", 0.0),
              "c_per_w": sim.get("load_c_per_w", 0.0), "tau_s": sim.get("load_tau_s", 600.0)}
    if cfg["kind"] == "relays":
        return ResistorBank(cfg["resistors_ohm"], **errors)
    return CCLoad(cfg["max_current_a"], **errors)


@micropython.native
def bank_from(spec, seed):
    """A bank from the simulator's DUT description (see pbgrade.simdut)."""
    if spec["kind"] == "curve":
        return CurveBank(spec["points"])
    return ModelBank(spec["model"], seed)
