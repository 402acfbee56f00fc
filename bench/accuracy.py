"""Integration accuracy against the simulator's exact truth, at 1, 10, 100 and 1000 samples/s.

The simulated INA226 (its seeded gain and offset errors, quantization and
noise) reads a simulated unit on the firmware's driver and schedule (slot k
one period after slot k-1, the first one period after the load switched on),
until the unit switches off. The errors, as % of the exact charge and energy
the unit delivered:

- pbgrade: the host's trapezoid (pbgrade.integrate) over the chip's readings,
  from the load's switch-on (protocol 4's EDGE load_on, one period before the
  first reading) as the host integrates a run; the device switches the load
  off after the unit did (hold_ms of zero readings): nothing more to count;
- rectangle: what hobby scripts do, each reading times the time since the
  previous one (the first since the load switched on);
- integration: the host's integral, as for pbgrade, over the exact values the
  chip was given at each sample: what sampling and integration add, without
  the chip;
- integration_rectangle: the rectangle over those exact values: the two ways
  of summing compared without the chip's own gain and offset errors, which
  at 10 samples/s and more outweigh what either way of summing adds.

The simulated unit's cell switches off at its own instant inside the last
period (rigs/sim/powerbank.py), a fraction u of a period after the last
reading that saw it on: that period costs the trapezoid (0.5 - u) periods and
the rectangle u, so on one run the rectangle's sum comes closer whenever
u < 0.25, and its loss partly cancels a chip that reads high. Averaged over
u the trapezoid's loss is a quarter of a period, the rectangle's a half: each
figure is the mean |error| over cut-off positions spread evenly in a period
(cuts()). Between readings the world is stepped every WORLD_STEP_US, so the
truth is the unit's continuous output to 10 ms at every rate, not a sum held
over each reading's period (which is a rectangle itself, and flatters it).
"""
from array import array

import numpy as np

from pbgrade.integrate import Integrator

from .sim import UNIT, config, describe, rig_for, unit

# the simulator's and firmware's modules, importable once bench.sim has set the path
from clock import VirtualClock  # noqa: E402  isort: skip
from i2cbus import SimI2C  # noqa: E402  isort: skip
from ina226_sim import SimINA226  # noqa: E402  isort: skip
from loads import CCLoad  # noqa: E402  isort: skip
from powerbank import bank_from  # noqa: E402  isort: skip
from sensors import make  # noqa: E402  isort: skip
from world import World  # noqa: E402  isort: skip

RATES_HZ = (1, 10, 100, 1000)
METHODS = ("pbgrade", "rectangle", "integration", "integration_rectangle")
WORLD_STEP_US = 10_000  # between readings the world steps at most this long: its truth is rate-independent
# "no worse than the rectangle" to 1 ppm of the energy: at 1000/s both ways of summing are within 0.00005 %
# (a period is 1 ms of a 37-minute discharge), a thousandth of the INA226's own 0.1 % gain error
NO_WORSE_PPM = 1


def cuts(quick):
    """Cut-off positions inside a period per rate: one run's error depends on where in its last period the
    unit switches off (above), so each rate's figures are means over evenly spread positions."""
    return 2 if quick else 8


def goals(quick):
    """(rate, method, quantity) -> goal. pbgrade's are issue 18's, on the full workload: the quick one's
    discharge is 5 x shorter, so the last period the simulated unit costs (above) weighs 5 x more."""
    found = {(10, "integration", q): ("|x| <=", 0.05) for q in ("energy", "charge")}
    if not quick:
        found.update({(1, "pbgrade", "energy"): ("|x| <=", 0.05), (10, "pbgrade", "energy"): ("|x| <=", 0.01)})
    return found


def rows(quick):
    """The group's figures: {key: (title, unit, goal)}. Every error is the mean |error| over the cut-off
    positions; the excess is issue 18's "no worse than the rectangle at any rate", judged on the exact values
    (the two ways of summing the same readings; the chip's gain and offset errors are the same in both)."""
    goal = goals(quick)
    found = {f"{rate}hz.{method}.{q}_error_pct": (f"mean |{q} error| at {rate}/s, {method}", "%",
                                                  goal.get((rate, method, q)))
             for rate in RATES_HZ for method in METHODS for q in ("energy", "charge")}
    found.update({f"{rate}hz.rectangle_excess_pct": (f"rectangle's mean |energy error| less pbgrade's at {rate}/s, "
                                                     f"exact values", "%", (">=", -NO_WORSE_PPM / 1e4))
                  for rate in RATES_HZ})
    return found


class Probe:
    """The chip's source: the world's output, remembering what the chip was given last."""

    def __init__(self, world):
        self.world = world
        self.v = self.i = 0.0

    def sense(self, now_us):
        self.v, self.i = self.world.sense(now_us)
        return self.v, self.i


def discharge(rate_hz, capacity_mah):
    """Sample a whole discharge: (t_us, measured v, i, exact v, i, truth, chip settings)."""
    rig = rig_for(rate_hz)
    period = 1_000_000 // rate_hz
    seed = rig["sim"]["seed"]
    clock = VirtualClock()
    world = World(clock, bank_from(unit(UNIT, capacity_mah), seed), CCLoad(rig["load"]["max_current_a"]))
    probe = Probe(world)
    i2c = SimI2C(clock)
    i2c.attach(SimINA226(clock, probe, address=rig["sensor"]["address"], shunt_ohms=rig["sensor"]["shunt_ohms"],
                         seed=seed))
    ina = make(i2c, rig["sensor"])
    codes, exact = array("q"), array("d")
    world.set_load_ma(config(rate_hz)["load_ma"])
    start = clock.now_us
    while True:
        reading_at = start + (len(codes) // 2 + 1) * period
        while reading_at - clock.now_us > WORLD_STEP_US:
            clock.advance(WORLD_STEP_US)
            world.sense(clock.now_us, reading=False)
        clock.advance(reading_at - clock.now_us)
        codes.extend((ina.bus_raw(), ina.current_raw()))
        exact.extend((probe.v, probe.i))
        if not world.bank.on:  # this reading saw the output off: the end of the discharge
            break
    codes = np.frombuffer(codes, dtype=np.int64).reshape(-1, 2)
    exact = np.frombuffer(exact).reshape(-1, 2)
    t_us = np.arange(len(codes), dtype=np.int64) * period
    return (t_us, codes[:, 0] * ina.bus_lsb_v, codes[:, 1] * ina.current_lsb_a, exact[:, 0], exact[:, 1],
            world.truth(), {"averages": rig["sensor"]["averages"], "conversion_us": rig["sensor"]["conversion_us"]})


def errors(rate_hz, capacity_mah):
    t_us, v, i, v_exact, i_exact, truth, adc = discharge(rate_hz, capacity_mah)
    period_h = t_us[1] / 3.6e9

    def pct(wh, mah):
        return (100 * (wh - truth["energy_wh"]) / truth["energy_wh"],
                100 * (mah - truth["charge_mah"]) / truth["charge_mah"])

    def trapezoid(volts, amps):
        integ = Integrator(int(t_us[1]))
        integ.load_on(-t_us[1])
        integ.add(t_us, volts, amps)
        return pct(integ.energy_wh, integ.charge_mah)

    def rectangle(volts, amps):
        return pct(float(volts @ amps) * period_h, float(amps.sum()) * period_h * 1000)

    figures = {}
    for method, (energy, charge) in zip(METHODS, (trapezoid(v, i), rectangle(v, i), trapezoid(v_exact, i_exact),
                                                  rectangle(v_exact, i_exact))):
        figures[f"{method}.energy_error_pct"] = energy
        figures[f"{method}.charge_error_pct"] = charge
    return figures, {"samples": len(t_us), "discharge_s": truth["virtual_s"], "truth": truth, "ina226": adc}


def run(capacity_mah, positions):
    """Each rate at `positions` cut-offs: the cell grown by a fraction of what it gives in a period each time
    (from the first run's length), so the unit switches off at evenly spread places in its last period."""
    figures, details = {}, {"unit": describe(UNIT, capacity_mah), "load_ma": config(1)["load_ma"],
                            "cut_positions": positions}
    for rate in RATES_HZ:
        first = errors(rate, capacity_mah)
        per_period_mah = capacity_mah / (first[1]["discharge_s"] * rate)
        runs = [first] + [errors(rate, capacity_mah + k / positions * per_period_mah) for k in range(1, positions)]
        for key in first[0]:
            figures[f"{rate}hz.{key}"] = float(np.mean([abs(f[key]) for f, _ in runs]))
        figures[f"{rate}hz.rectangle_excess_pct"] = (figures[f"{rate}hz.integration_rectangle.energy_error_pct"]
                                                     - figures[f"{rate}hz.integration.energy_error_pct"])
        details[f"{rate}hz"] = [{**d, "errors_pct": f} for f, d in runs]
    return figures, details
