"""The simulated power banks (the units under test), in the two forms of
the simulator's DUT description (pbgrade.simdut): ModelBank, a small
physical model with the behaviours that trip naive testers, and CurveBank, a
measured curve replayed; bank_from() makes the one a description names. What
the world asks of a bank, World's docstring says (world.py). Runs under
CPython and MicroPython.

Speed: the simulated rig runs this at every sample, under MicroPython, where
every float operation allocates and every attribute, method call and
bytecode frame larger than 11 words (on the heap then) costs. So what does
not change between steps is computed once, results are kept while their
inputs stay (the converter's at one output current, the table segment),
the sample path takes few calls, and every function is native code
(@micropython.native: faster, and its machine code is not on the heap the
firmware must fit in; a traceback skips its frames). It does the same float
operations as the plain code did, in the same order: the same calls give
the same numbers to the bit.
"""
from math import sqrt

import micropython
from micropython import const

AMBIENT_C = 23.0  # the room the rig stands in, unless a unit's model names its own ([thermal] ambient_c)

# Open-circuit voltage of a typical NMC/graphite cell against state of charge
# (a generic curve: 4.18 V full, 3.75 V at 40 %, steep below 10 %).
LI_ION_OCV = ((0.0, 3.0), (0.03, 3.3), (0.06, 3.45), (0.1, 3.55), (0.2, 3.65), (0.3, 3.71), (0.4, 3.75),
              (0.5, 3.79), (0.6, 3.84), (0.7, 3.9), (0.8, 3.97), (0.9, 4.06), (1.0, 4.18))
FOREVER = const(1e12)  # seconds
MAX_STEP_S = const(1.0)  # the cell's state is integrated in steps no longer than this
# How a unit charges unless its model's [charge] says otherwise: its input converter's efficiency against the
# power it puts into the cell (W), constant current into the cell up to cv_v, then constant voltage, the current
# tapering until it falls below termination_a or the cell is full, when the unit stops drawing (its own full
# indication); source_ohm: the USB source's cable and contacts up to the unit's input.
DEFAULT_CHARGE = {"efficiency": ((1.0, 0.80), (5.0, 0.88), (10.0, 0.90), (20.0, 0.88)), "cc_a": 2.0, "cv_v": 4.2,
                  "termination_a": 0.1, "source_ohm": 0.1}


class Table:
    """A piecewise-linear table lookup, clamped at both ends, sample after
    sample: it keeps each segment's rise and run, and starts looking where the
    last lookup was (the state of charge and the output power move little
    between steps). at(x) is y0 + (y1 - y0) * (x - x0) / (x1 - x0) on the
    first segment whose x1 >= x: the same operations on the same numbers as
    looking from the start each time, which a table whose x do not ascend
    still does."""

    @micropython.native
    def __init__(self, rows):
        rows = list(rows) * 2 if len(rows) == 1 else rows  # one row: that value everywhere
        self.x = [row[0] for row in rows]
        self.y = [row[1] for row in rows]
        self.dx = [0.0] + [rows[k][0] - rows[k - 1][0] for k in range(1, len(rows))]
        self.dy = [0.0] + [rows[k][1] - rows[k - 1][1] for k in range(1, len(rows))]
        # the largest |slope| of any segment: at(b) is within steepest * |b - a| of at(a)
        self.steepest = max([abs(dy / dx) for dx, dy in zip(self.dx, self.dy) if dx] or [0.0])
        ascending = all(rows[k - 1][0] < rows[k][0] for k in range(1, len(rows)))
        self.k = 1 if ascending else -1  # the segment (x[k-1], x[k]] of the last lookup; -1: none kept

    @micropython.native
    def at(self, x):
        xs = self.x
        k = self.k
        if k < 1 or not xs[k - 1] < x <= xs[k]:  # not where it was: look from there
            if x <= xs[0]:
                return self.y[0]
            n = len(xs)
            if k < 1:
                k = 1
            while k < n and x > xs[k]:
                k += 1
            if k == n:
                return self.y[-1]
            while x <= xs[k - 1]:  # ends at k = 1, as x > xs[0]
                k -= 1
            if self.k > 0:
                self.k = k
        return self.y[k - 1] + self.dy[k] * (x - xs[k - 1]) / self.dx[k]


class ModelBank:
    """A power bank as a small physical model.

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
    switches, so the world re-evaluates the load current exactly then;
    `advance(current_a, seconds, p)` does both, as the world calls it between
    two looks."""

    @micropython.native
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
        self.temp_c = self.ambient_c = heat.get("ambient_c", AMBIENT_C)
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
        # what does not change between steps, computed once (the same numbers the
        # expressions below computed each time)
        self._ocv = Table(self.ocv)
        self._eff = Table(self.efficiency)
        self._out_ohm = self.droop_ohm + self.cable_ohm
        self._2r = 2 * self.r_cell
        self._4r = 4 * self.r_cell
        self._contact = self.dropout_every_s < FOREVER  # else the contact never opens
        self._p_at = None  # the output current _converter() computed these for:
        self._p_out = self._p_cell = self._temp_to = 0.0
        self._charger(p.get("charge", DEFAULT_CHARGE))

    @micropython.native
    def _charger(self, c):
        """The unit's charging, from its model's [charge] table (DEFAULT_CHARGE's keys)."""
        self._charge_eff = Table(tuple(tuple(row) for row in c["efficiency"]))
        self.cc_a = c["cc_a"]
        self.cv_v = c["cv_v"]
        self.termination_a = c["termination_a"]
        self.source_ohm = c.get("source_ohm", DEFAULT_CHARGE["source_ohm"])
        self.full = False  # stopped charging: the cell reached termination
        self.input_v = self.input_a = self._p_in = self._i_charge = 0.0
        self.charge_in_c = 0.0  # truth: what the unit took from the source
        self.energy_in_j = 0.0

    # -- what the load sees -------------------------------------------

    @micropython.native
    def _dropped(self):
        """The contact is open for dropout_s at every multiple of dropout_every_s."""
        if not self._contact:
            return False
        k = int(self.t // self.dropout_every_s)
        return k >= 1 and self.t - k * self.dropout_every_s < self.dropout_s

    @micropython.native
    def _cell(self, current_a):
        """Cell current and terminal voltage that supply this output current, or None."""
        if current_a != self._p_at:
            self._converter(current_a)
        p_cell = self._p_cell
        ocv = self._ocv.at(self.soc)
        disc = ocv * ocv - self._4r * p_cell
        if disc < 0:
            return None  # the cell cannot deliver that power at all
        i_cell = (ocv - sqrt(disc)) / self._2r if self.r_cell else p_cell / ocv
        return i_cell, ocv - i_cell * self.r_cell, p_cell - self._p_out

    @micropython.native
    def _converter(self, current_a):
        """What the converter does at this output current, kept for _p_at (the
        load's current often stays the same from step to step): the output
        power, the power it takes from the cell for it, and the temperature the
        unit heads for with its losses."""
        p_out = (self.level_v - current_a * self.droop_ohm) * current_a
        p_cell = p_out / self._eff.at(p_out) if p_out > 0 else 0.0
        self._p_out = p_out
        self._p_cell = p_cell
        self._temp_to = self.ambient_c + (p_cell - p_out) * self.r_th
        self._p_at = current_a

    @micropython.native
    def voltage(self, current_a):
        if not self.on or self._contact and self._dropped():
            return 0.0
        v = self.level_v - current_a * self._out_ohm
        if self.foldback_v:
            cell = self._cell(current_a)
            v_cell = cell[1] if cell else self.uvp_v
            if v_cell < self.foldback_v:
                v *= max(0.0, (v_cell - self.uvp_v) / (self.foldback_v - self.uvp_v))
        return v

    @micropython.native
    def short_current(self, short_ohm):
        """Into a short the converter drives what its droop and cable allow."""
        if not self.on or self._dropped():
            return 0.0
        return self.level_v / (self.droop_ohm + self.cable_ohm + short_ohm)

    @micropython.native
    def _trip_delay(self, current_a):
        return self.short_delay_s if current_a > self.short_a else self.ocp_delay_s

    @micropython.native
    def sensed_voltage(self, current_a, v=None):
        """voltage() with the output's low-frequency noise, as a meter sees it
        (v: voltage(current_a), if the caller has it already)."""
        if v is None:
            v = self.voltage(current_a)
        if not v or not self.noise_v:
            return v
        return v + self.noise_v * ((self._draw() - 98302.5) / 32768.0)

    @micropython.native
    def skip_noise(self, v):
        """The noise draw of sensed_voltage(i, v), for a look whose reading nobody takes."""
        if v and self.noise_v:
            self._draw()

    @micropython.native
    def _draw(self):
        """The noise: near-Gaussian from a seeded xorshift32, the sum of three
        16-bit draws; (sum - 98302.5) / 32768 has mean 0 and rms 1."""
        x = self._x
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        total = x & 0xFFFF
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        total += x & 0xFFFF
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self._x = x
        return total + (x & 0xFFFF)

    # -- time --------------------------------------------------------------

    @micropython.native
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

    @micropython.native
    def advance(self, current_a, seconds, p=None):
        """What the world does between two looks: step() for `seconds`, or up to
        the next moment something switches if that comes sooner (at least
        1 us); returns the seconds stepped. p: the output power now,
        voltage(current_a) * current_a, if the caller has it.

        Without a contact that opens, a pending recovery, or a current that
        runs a protection's timer, nothing switches before FOREVER:
        until_change() need not say so."""
        if self._contact or self._back_at != FOREVER or self.on and not (
                self.auto_off_a <= current_a <= self.ocp_a):
            step = self.until_change(current_a)
            if step < 1e-6:  # min(seconds, max(until_change, 1e-6))
                step = 1e-6
            if seconds > step:
                seconds = step
        if seconds > MAX_STEP_S:
            self.step(current_a, seconds, p)
        else:
            self._step(current_a, seconds, p)
        return seconds

    @micropython.native
    def step(self, current_a, seconds, p=None):
        """Hold the output current for some seconds (no switching in between).
        p: the output power now, voltage(current_a) * current_a, if the caller has it."""
        while seconds > MAX_STEP_S:
            self._step(current_a, MAX_STEP_S, p)
            p = None  # the state moved on
            seconds -= MAX_STEP_S
        self._step(current_a, seconds, p)

    @micropython.native
    def _step(self, current_a, seconds, p):
        if self.on and not (self._contact and self._dropped()):
            if current_a > self.short_a:
                # the moments before the short-circuit protection trips: the output
                # capacitors deliver; the cell's share is negligible
                if p is None:
                    p = self.voltage(current_a) * current_a
                self.energy_j += p * seconds
                self.delivered_c += current_a * seconds
            elif current_a > 0:
                # the cell: _cell(current_a), without its tuple, the table lookup inline
                if current_a != self._p_at:
                    self._converter(current_a)
                p_cell = self._p_cell
                soc = self.soc
                table = self._ocv
                k = table.k
                xs = table.x
                if k > 0 and xs[k - 1] < soc <= xs[k]:
                    ocv = table.y[k - 1] + table.dy[k] * (soc - xs[k - 1]) / table.dx[k]
                else:
                    ocv = table.at(soc)
                disc = ocv * ocv - self._4r * p_cell
                if disc < 0:
                    self._switch_off("the cell could not deliver the power")
                else:
                    r = self.r_cell
                    i_cell = (ocv - sqrt(disc)) / self._2r if r else p_cell / ocv
                    if p is None:
                        p = self.voltage(current_a) * current_a
                    used = i_cell * seconds / self.capacity_c
                    v_start = ocv - i_cell * r
                    held = seconds  # the whole step, unless the table's steepest slope could reach the cut-off
                    if soc <= used or v_start - table.steepest * used < self.uvp_v:
                        lasts = self._lasts(soc, used, v_start, i_cell * r)
                        held = seconds * lasts
                        used *= lasts
                    self.energy_j += p * held
                    self.delivered_c += current_a * held
                    self.soc = soc - used
                    mix = seconds / self.tau_s  # the case's temperature heads for _temp_to over tau_s
                    self.temp_c += (self._temp_to - self.temp_c) * (mix if mix < 1.0 else 1.0)
                    if held < seconds:
                        self._switch_off("under-voltage protection of the cell")
        # the timers
        t = self.t + seconds
        self.t = t
        if t >= self._back_at:
            self.on, self._back_at, self._over_s = True, FOREVER, 0.0
        if not self.on:
            return
        ocp_a = self.ocp_a
        self._over_s = self._over_s + seconds if current_a > ocp_a else 0.0
        self._light_s = self._light_s + seconds if current_a < self.auto_off_a else 0.0
        if current_a > ocp_a and self._over_s >= self._trip_delay(current_a):
            self._switch_off("short-circuit protection" if current_a > self.short_a else "over-current protection")
            if self.ocp_recover_s >= 0:
                self._back_at = t + self.ocp_recover_s
        elif self._light_s >= self.auto_off_s:
            self._switch_off("auto shut-off at light load")

    @micropython.native
    def _lasts(self, soc, used, v_start, drop):
        """The fraction of a step the cell holds out for: 1.0, or up to the instant its terminal voltage
        (v_start at the step's start, the open-circuit voltage less drop) reaches the under-voltage
        protection's, or its charge runs out, where the protection cuts the output. Cut at the step's end
        instead, every discharge ended on a reading's instant (the steps end at readings): the worst case
        for the trapezoid's last half period, a lucky one for the rectangle's."""
        uvp = self.uvp_v
        if v_start < uvp:
            return 0.0
        end = soc - used
        if end > 0 and self._ocv.at(end) - drop >= uvp:
            return 1.0
        lo, hi = 0.0, 1.0  # the cut is linear in neither soc nor time: halve the step 24 times (~0.06 us in 1 s)
        for _ in range(24):
            mid = (lo + hi) * 0.5
            at = soc - used * mid
            if at > 0 and self._ocv.at(at) - drop >= uvp:
                lo = mid
            else:
                hi = mid
        return lo

    @micropython.native
    def charge(self, source_v, seconds):
        """The source (source_v, 0: none) on the unit's input for some seconds, in steps of at most
        MAX_STEP_S, each at the state it starts from; then the input as it is at the end (input_v,
        input_a: what an input sensor reads). Plugging in a source wakes a unit that had switched off."""
        while seconds > 0.0:
            dt = seconds if seconds < MAX_STEP_S else MAX_STEP_S
            self._charge_state(source_v)
            self.charge_in_c += self.input_a * dt
            self.energy_in_j += self._p_in * dt
            self.soc += self._i_charge * dt / self.capacity_c
            seconds -= dt
        self._charge_state(source_v)
        if source_v and not self.on:  # the input's arrival restarts the unit's controller
            self.on = True
            self.off_reason = ""
            self._light_s = self._over_s = 0.0
            self._back_at = FOREVER
        if not source_v:
            self.full = False  # the next source starts a charge again

    @micropython.native
    def _charge_state(self, source_v):
        """CC then CV into the cell, the input converter's loss, the source's drop: the input's voltage
        and current now (input_v, input_a), the power it takes (_p_in) and the cell's current (_i_charge)."""
        i = 0.0
        if source_v and not self.full:
            ocv = self._ocv.at(self.soc)
            i = (self.cv_v - ocv) / self.r_cell if self.r_cell else self.cc_a
            if i > self.cc_a:
                i = self.cc_a
            if i < self.termination_a or self.soc >= 1.0:
                self.full = True
                i = 0.0
        p_in = 0.0
        if i > 0.0:
            p_cell = i * (ocv + i * self.r_cell)
            p_in = p_cell / self._charge_eff.at(p_cell)
        r = self.source_ohm
        # p_in = i_in * (source_v - i_in * r): the smaller root
        i_in = (source_v - sqrt(source_v * source_v - 4 * r * p_in)) / (2 * r) if r and p_in else (
            p_in / source_v if source_v else 0.0)
        self._i_charge = i
        self._p_in = p_in
        self.input_a = i_in
        self.input_v = source_v - i_in * r

    @micropython.native
    def load_connected(self):
        """A load appearing on the port wakes a unit that switched itself off
        at light load or latched its over-current protection, as the port's
        insertion detection of most units does. An empty cell stays off."""
        if not self.on and self.off_reason in ("auto shut-off at light load", "over-current protection",
                                               "short-circuit protection"):
            self.on = True
            self._light_s = self._over_s = 0.0
            self._back_at = FOREVER

    @micropython.native
    def _switch_off(self, reason):
        self.on = False
        self.off_reason = reason


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


@micropython.native
def bank_from(spec, seed):
    """The unit a DUT description (see pbgrade.simdut) names; an empty bay
    ("none") or a calibration weight is a unit whose output is off."""
    kind = spec["kind"]
    if kind in ("none", "weight"):  # a calibration weight on the scale has no output either
        empty = CurveBank([(0, 0.0), (1, 0.0)])
        empty.on = False
        return empty
    if kind == "curve":
        return CurveBank(spec["points"])
    return ModelBank(spec["model"], seed)
