"""The simulated power bank and load, and the exact truth about them.

A power bank model answers two questions: its output voltage at a load
current, and what happens when that current flows for a while (`draw`). The
world advances the bank with the load's current whenever a sensor looks, and
keeps the exact charge and energy delivered, against which measurements are
judged. Runs under CPython and MicroPython.
"""


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

    def _v_at(self, q):
        k = self._k
        q0, q1 = self.q[k], self.q[k + 1]
        if q1 == q0:
            return self.v[k + 1]
        return self.v[k] + (self.v[k + 1] - self.v[k]) * (q - q0) / (q1 - q0)

    def draw(self, current_a, seconds):
        """Deliver current for some seconds; returns the seconds it stayed on."""
        if not self.on or current_a <= 0:
            return seconds
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
        return (q - (end - want)) / current_a


class ParamBank:
    """A power bank described by a few parameters.

    Usable output energy is the cell energy times the conversion efficiency;
    the output sits at output_v less the drop across output_r_ohm, until the
    energy is spent, then switches off.
    """

    def __init__(self, cell_capacity_mah, cell_voltage_v, efficiency, output_v, output_r_ohm):
        self.budget_j = cell_capacity_mah * 3.6 * cell_voltage_v * efficiency
        self.output_v = output_v
        self.output_r = output_r_ohm
        self.delivered_c = 0.0
        self.energy_j = 0.0
        self.on = True

    def voltage(self, current_a):
        return self.output_v - current_a * self.output_r if self.on else 0.0

    def draw(self, current_a, seconds):
        if not self.on or current_a <= 0:
            return seconds
        power = self.voltage(current_a) * current_a
        left = (self.budget_j - self.energy_j) / power
        if left <= seconds:
            seconds = left
            self.on = False
        self.energy_j += power * seconds
        self.delivered_c += current_a * seconds
        return seconds


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
    """Bank and load on one virtual clock; `sense` is what a sensor sees now."""

    def __init__(self, clock, bank, load):
        self.clock = clock
        self.bank = bank
        self.load = load
        self._t_us = clock.now_us

    def set_load_ma(self, ma):
        self.sense(self.clock.now_us)  # the old setpoint held until now
        self.load.set_ma(ma)

    def sense(self, now_us):
        dt = now_us - self._t_us
        if dt > 0:
            self.bank.draw(self.load.current(self.bank), dt / 1e6)
            self._t_us = now_us
        i = self.load.current(self.bank)
        return self.bank.voltage(i), i

    def truth(self):
        return {"charge_mah": self.bank.delivered_c / 3.6, "energy_wh": self.bank.energy_j / 3600,
                "virtual_s": self.clock.now_us / 1e6}


def bank_from(spec):
    """A bank from the simulator's DUT description (see pbgrade.simdut)."""
    if spec["kind"] == "curve":
        return CurveBank(spec["points"])
    p = spec["params"]
    return ParamBank(p["cell_capacity_mah"], p["cell_voltage_v"], p["efficiency"], p["output_v"],
                     p["output_r_ohm"])
