"""The simulated power bank and load, and the exact truth about them.

A power bank model answers two questions: its output voltage at a load
current, and what happens when that current flows for a while (`step`). The
world advances the bank with the load's current whenever a sensor looks, and
keeps the exact charge and energy delivered, against which measurements are
judged. Runs under CPython and MicroPython.
"""
from powerbank import FOREVER, ModelBank


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


class CCLoad:
    """Constant-current load: sinks its setpoint while the source can drive it.

    Below dropout_v the pass transistor saturates and the current collapses,
    as a real MOSFET load does when the output dies.
    """

    def __init__(self, max_current_a, dropout_v=0.5):
        self.max_current_a = max_current_a
        self.dropout_v = dropout_v
        self.setpoint_a = 0.0

    def set_ma(self, ma):
        self.setpoint_a = min(ma / 1000, self.max_current_a)

    def current(self, bank):
        i = self.setpoint_a
        if i <= 0 or bank.voltage(i) < self.dropout_v:
            return 0.0
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
        self.sense(self.clock.now_us)  # the old setpoint held until now
        if ma and not self.load.setpoint_a and hasattr(self.bank, "load_connected"):
            self.bank.load_connected()
        self.load.set_ma(ma)

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
            bank.step(i, step)
            dt -= step
        self._t_us = max(now_us, self._t_us)
        i = self._current()
        return bank.sensed_voltage(i), i

    def truth(self):
        bank = self.bank
        return {"charge_mah": bank.delivered_c / 3.6, "energy_wh": bank.energy_j / 3600,
                "virtual_s": self.clock.now_us / 1e6, "off_reason": getattr(bank, "off_reason", ""),
                "temperature_c": getattr(bank, "temp_c", None)}


def bank_from(spec, seed):
    """A bank from the simulator's DUT description (see pbgrade.simdut)."""
    if spec["kind"] == "curve":
        return CurveBank(spec["points"])
    return ModelBank(spec["model"], seed)
