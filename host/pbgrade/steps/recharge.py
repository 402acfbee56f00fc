"""Recharge: the unit charged through the rig's charging path ([charger] relay, [input_sensor]), to full or
to the rig's time limit: the energy and charge put in at its input, which makes charge efficiency (the
following discharge's energy out over this energy in) and the standard's best-of-three cycles possible
(GB/T 35590-2017: three charge/discharge cycles, the largest capacity counts; methods/cycles.toml)."""
from ..i18n import N_
from ..rig import RigFileError
from .discharge import delivered
from .quantity import Quantity, plain, shown
from .shared import OBSERVE, Outcome, Plan, Schema

# taper_ma for taper_s: the input current below which the unit counts as full (a unit that stops charging
# draws ~0); max_s: the longest charge, 0 for the rig's [charger] max_charge_s (the device's own bound)
SCHEMA = Schema({"taper_ma": (1, 3000, 50), "taper_s": (1, 600, 30), "max_s": (0, 48 * 3600, 0)}, named=True)


def _efficiency(value, threshold, label, translate):
    value_shown, limit = shown(value, threshold, " %", 0, 100)
    return translate(N_("the discharge after it gave back {ratio} of the energy put in")).format(
        ratio=value_shown), limit


QUANTITIES = {
    "energy_in_wh": Quantity(N_("charging energy"), plain(N_("took {value} at its input"), " Wh", 2), "Wh"),
    "charge_in_mah": Quantity(N_("charging charge"), plain(N_("took {value} at its input"), " mAh", 0), "mAh"),
    "charge_duration_s": Quantity(N_("charging time"), plain(N_("the charge lasted {value}"), " min", 0, 1 / 60),
                                  "s"),
    "charged_full": Quantity(N_("charged to full"),
                             plain(N_("the unit stopped charging by itself: {value} (1 yes, 0 timed out)"), "", 0)),
    "charge_efficiency": Quantity(N_("charge efficiency"), _efficiency, "%"),
}
ENDS = {"charge_done": 1, "charge_timeout": 0}  # the device's end of a charge -> charged_full


def measures(settings):
    return tuple(QUANTITIES)


def plan(step, label, options):
    """The charge's CONFIG (nothing loaded, nothing ends it but the charge's own ends) and CHARGE body; a rig
    without a charging path refuses the method before the test."""
    charger = options.charger
    if charger is None:
        raise RigFileError("the method's recharge step needs a rig with a charging path ([charger] and "
                           "[input_sensor], as rigs/sim-charge.toml has): use such a rig or another method")
    s = step.settings
    max_s = s["max_s"] or charger["max_charge_s"]
    if max_s > charger["max_charge_s"]:
        raise RigFileError(f"the recharge step's max_s = {max_s} is over the rig's [charger] max_charge_s "
                           f"({charger['max_charge_s']}): lower it")
    config = {**OBSERVE, "period_us": round(1e6 / options.rate_hz), "flush_ms": options.flush_ms}
    return Plan(config, charge={"taper_ma": s["taper_ma"], "taper_s": s["taper_s"], "max_s": max_s})


def measure(step, evaluation, plan_, label):
    """What went in; charge_efficiency is the record's (with_charge_efficiency), once the discharge after it
    is measured."""
    end = evaluation.end_event
    integrator = evaluation.integrator
    return Outcome({"energy_in_wh": integrator.energy_wh, "charge_in_mah": integrator.charge_mah,
                    "charge_duration_s": integrator.duration_s,
                    "charged_full": None if end is None else ENDS.get(end["name"]), "charge_efficiency": None})


def with_charge_efficiency(method, measurements):
    """Each recharge's charge efficiency: the energy out of the discharge to the end that follows it over
    the energy it put in (the graded discharge's counted from full, as the record grades it)."""
    charged = None  # the last recharge's prefix
    for step in method.steps:
        prefix = f"{step.name}_" if step.name else ""
        if step.type == "recharge":
            charged = prefix
        elif step.type == "discharge" and not step.settings["seconds"] and charged is not None:
            energy_in, energy_out = measurements[f"{charged}energy_in_wh"], measurements[f"{prefix}energy_wh"]
            if energy_in and energy_out is not None:
                measurements[f"{charged}charge_efficiency"] = energy_out / energy_in
            charged = None


def best_of_cycles(method, measurements, label):
    """GB/T 35590-2017's best of three: where two or more of the method's discharges to the end each follow a
    recharge (a cycle), the capacity, energy and their ratios that grade the unit are the largest cycle's (the
    voltages stay the last discharge's). Returns the record's account, {"best_cycle": its number from 1,
    "cycle_capacities_mah": each cycle's}, or {} for a method without cycles."""
    cycles, charged = [], False
    for step in method.steps:
        if step.type == "recharge":
            charged = True
        elif step.type == "discharge" and not step.settings["seconds"]:
            if charged:
                cycles.append(f"{step.name}_" if step.name else "")
            charged = False
    if len(cycles) < 2:
        return {}
    capacities = [measurements[f"{prefix}capacity_mah"] for prefix in cycles]
    measured = [c for c in capacities if c is not None]
    if not measured:
        return {}
    best = capacities.index(max(measured))
    prefix = cycles[best]
    measurements.update(delivered(capacities[best], measurements[f"{prefix}energy_wh"], label))
    return {"best_cycle": best + 1, "cycle_capacities_mah": capacities}
