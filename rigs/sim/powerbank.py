"""A power bank as a small physical model, with the behaviours that trip
naive testers.

A Li-ion cell (open-circuit voltage against state of charge, internal
resistance, under-voltage protection) feeds a boost converter whose
efficiency depends on its output power; the output sits at a fixed level
(5/9/12 V as USB-PD/QC would request) less a droop and the cable's drop.
Protections: over-current (threshold, delay, auto-recovery or latch; a short
circuit trips it within short_delay_s), auto
shut-off at light load, under-voltage cut-off (abrupt, or folding the output
back first). Temperature rises with the converter's losses. An intermittent
contact drops the output now and then. Output noise is seeded, so a run is
reproducible bit for bit.

`step(current_a, seconds)` advances the state with the load's current held;
`until_change(current_a)` says how long that may be before something
switches, so the world re-evaluates the load current exactly then.
Runs under CPython and MicroPython.
"""
import math

# Open-circuit voltage of a typical NMC/graphite cell against state of charge
# (a generic curve: 4.18 V full, 3.75 V at 40 %, steep below 10 %).
LI_ION_OCV = ((0.0, 3.0), (0.03, 3.3), (0.06, 3.45), (0.1, 3.55), (0.2, 3.65), (0.3, 3.71), (0.4, 3.75),
              (0.5, 3.79), (0.6, 3.84), (0.7, 3.9), (0.8, 3.97), (0.9, 4.06), (1.0, 4.18))
FOREVER = 1e12  # seconds
MAX_STEP_S = 1.0  # the cell's state is integrated in steps no longer than this


def interpolate(table, x):
    """Piecewise-linear table lookup, clamped at both ends."""
    if x <= table[0][0]:
        return table[0][1]
    for k in range(1, len(table)):
        x1, y1 = table[k]
        if x <= x1:
            x0, y0 = table[k - 1]
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return table[-1][1]


class ModelBank:
    def __init__(self, p, seed=1):
        cell, conv, out = p["cell"], p["converter"], p["output"]
        prot, heat, contact = p.get("protection", {}), p.get("thermal", {}), p.get("contact", {})
        self.capacity_c = cell["capacity_mah"] * 3.6
        self.soc = cell.get("initial_soc", 1.0)
        self.r_cell = cell["internal_r_ohm"]
        self.ocv = tuple(tuple(row) for row in cell.get("ocv", LI_ION_OCV))
        self.uvp_v = cell["cutoff_v"]
        self.foldback_v = cell.get("foldback_v", 0.0)  # above cutoff_v: output folds back below it
        self.efficiency = tuple(tuple(row) for row in conv["efficiency"])  # (output W, efficiency)
        # the fixed output levels a USB-PD/QC sink could request, each with its
        # rated current; the rig requests level_v (5 V unless the file says)
        self.levels = tuple(tuple(row) for row in out.get("levels", ((out["level_v"], FOREVER),)))
        self.level_v = out["level_v"]
        self.level_rated_a = dict(self.levels)[self.level_v]
        self.droop_ohm = out["droop_ohm"]
        self.cable_ohm = out.get("cable_ohm", 0.0)
        self.noise_v = out.get("noise_mv", 0.0) / 1000
        self.ocp_a = prot.get("ocp_a", 1.1 * self.level_rated_a)  # per level unless the file says
        self.ocp_delay_s = prot.get("ocp_delay_s", 0.0)
        self.ocp_recover_s = prot.get("ocp_recover_s", -1.0)  # < 0: latches off
        self.short_a = prot.get("short_a", min(3 * self.ocp_a, 10.0))  # above this it is a short: faster trip
        self.short_delay_s = prot.get("short_delay_s", 0.0005)
        self.auto_off_a = prot.get("auto_off_below_a", 0.0)
        self.auto_off_s = prot.get("auto_off_after_s", FOREVER)
        self.r_th = heat.get("c_per_w", 0.0)
        self.tau_s = heat.get("tau_s", 1.0)
        self.temp_c = self.ambient_c = heat.get("ambient_c", 25.0)
        self.dropout_every_s = contact.get("dropout_every_s", FOREVER)
        self.dropout_s = contact.get("dropout_s", 0.0)
        self._x = ((seed + 7) * 0x9E3779B1) & 0xFFFFFFFF or 1
        self.on = True
        self.off_reason = ""
        self.t = 0.0
        self._over_s = 0.0  # time spent above the OCP threshold
        self._light_s = 0.0  # time spent below the auto-off threshold
        self._back_at = FOREVER  # OCP auto-recovery
        self.delivered_c = 0.0  # truth: what the load received
        self.energy_j = 0.0

    # -- what the load sees -------------------------------------------

    def _dropped(self):
        """The contact is open for dropout_s at every multiple of dropout_every_s."""
        k = int(self.t // self.dropout_every_s)
        return k >= 1 and self.t - k * self.dropout_every_s < self.dropout_s

    def _cell(self, current_a):
        """Cell current and terminal voltage that supply this output current, or None."""
        v_conv = self.level_v - current_a * self.droop_ohm
        p_out = v_conv * current_a
        p_cell = p_out / interpolate(self.efficiency, p_out) if p_out > 0 else 0.0
        ocv = interpolate(self.ocv, self.soc)
        disc = ocv * ocv - 4 * self.r_cell * p_cell
        if disc < 0:
            return None  # the cell cannot deliver that power at all
        i_cell = (ocv - math.sqrt(disc)) / (2 * self.r_cell) if self.r_cell else p_cell / ocv
        return i_cell, ocv - i_cell * self.r_cell, p_cell - p_out

    def voltage(self, current_a):
        if not self.on or self._dropped():
            return 0.0
        v = self.level_v - current_a * (self.droop_ohm + self.cable_ohm)
        if self.foldback_v:
            cell = self._cell(current_a)
            v_cell = cell[1] if cell else self.uvp_v
            if v_cell < self.foldback_v:
                v *= max(0.0, (v_cell - self.uvp_v) / (self.foldback_v - self.uvp_v))
        return v

    def short_current(self, short_ohm):
        """Into a short the converter drives what its droop and cable allow."""
        if not self.on or self._dropped():
            return 0.0
        return self.level_v / (self.droop_ohm + self.cable_ohm + short_ohm)

    def _trip_delay(self, current_a):
        return self.short_delay_s if current_a > self.short_a else self.ocp_delay_s

    def sensed_voltage(self, current_a):
        """voltage() with the output's low-frequency noise, as a meter sees it."""
        v = self.voltage(current_a)
        if v and self.noise_v:
            v += self.noise_v * self._gauss()
        return v

    def _gauss(self):
        """Near-Gaussian from a seeded xorshift32: mean 0, rms 1."""
        total = 0
        for _ in range(3):
            x = self._x
            x ^= (x << 13) & 0xFFFFFFFF
            x ^= x >> 17
            x ^= (x << 5) & 0xFFFFFFFF
            self._x = x
            total += x & 0xFFFF
        return (total - 98302.5) / 32768.0

    # -- time --------------------------------------------------------------

    def until_change(self, current_a):
        """Seconds until a protection, timer or contact changes the output."""
        t = self.t
        start = (t // self.dropout_every_s) * self.dropout_every_s
        contact = start + self.dropout_s if self._dropped() else start + self.dropout_every_s
        soonest = min(self._back_at, contact) - t
        if self.on and not self._dropped():
            if current_a > self.ocp_a:
                soonest = min(soonest, self._trip_delay(current_a) - self._over_s)
            if current_a < self.auto_off_a:
                soonest = min(soonest, self.auto_off_s - self._light_s)
        return max(soonest, 0.0)

    def step(self, current_a, seconds):
        """Hold the output current for some seconds (no switching in between)."""
        while seconds > MAX_STEP_S:
            self._step(current_a, MAX_STEP_S)
            seconds -= MAX_STEP_S
        self._step(current_a, seconds)

    def _step(self, current_a, seconds):
        if self.on and not self._dropped() and current_a > self.short_a:
            # the moments before the short-circuit protection trips: the output
            # capacitors deliver; the cell's share is negligible
            self.energy_j += self.voltage(current_a) * current_a * seconds
            self.delivered_c += current_a * seconds
        elif self.on and not self._dropped() and current_a > 0:
            cell = self._cell(current_a)
            if cell is None:
                self._switch_off("the cell could not deliver the power")
            else:
                i_cell, v_cell, loss_w = cell
                self.energy_j += self.voltage(current_a) * current_a * seconds
                self.delivered_c += current_a * seconds
                self.soc -= i_cell * seconds / self.capacity_c
                self.temp_c += (self.ambient_c + loss_w * self.r_th - self.temp_c) * min(1.0, seconds / self.tau_s)
                if v_cell < self.uvp_v or self.soc <= 0:
                    self._switch_off("under-voltage protection of the cell")
        self._timers(current_a, seconds)

    def _timers(self, current_a, seconds):
        self.t += seconds
        t = self.t
        if t >= self._back_at:
            self.on, self._back_at, self._over_s = True, FOREVER, 0.0
        if not self.on:
            return
        self._over_s = self._over_s + seconds if current_a > self.ocp_a else 0.0
        self._light_s = self._light_s + seconds if current_a < self.auto_off_a else 0.0
        if current_a > self.ocp_a and self._over_s >= self._trip_delay(current_a):
            self._switch_off("short-circuit protection" if current_a > self.short_a else "over-current protection")
            if self.ocp_recover_s >= 0:
                self._back_at = t + self.ocp_recover_s
        elif self._light_s >= self.auto_off_s:
            self._switch_off("auto shut-off at light load")

    def load_connected(self):
        """A load appearing on the port wakes a unit that switched itself off
        at light load or latched its over-current protection, as the port's
        insertion detection of most units does. An empty cell stays off."""
        if not self.on and self.off_reason in ("auto shut-off at light load", "over-current protection",
                                               "short-circuit protection"):
            self.on = True
            self._light_s = self._over_s = 0.0
            self._back_at = FOREVER

    def _switch_off(self, reason):
        self.on = False
        self.off_reason = reason
