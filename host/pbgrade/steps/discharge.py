"""Discharge: the load the label promises, to the end (capacity, energy, efficiency:
what the profiles grade) or for a set time (only what minutes can tell)."""
import numpy as np

from ..i18n import N_
from ..label import Label
from .quantity import Quantity, plain, shown, voltage_ratio
from .shared import OFF_V, Outcome, Plan, Schema, rated_ma

# a discharge's load: current_fraction of the rated current, or the power or resistance that draws it at the
# rated voltage (a phone charging draws near-constant power; a resistor is what the cheapest testers hold)
LOADS = ("current", "power", "resistance")
SCHEMA = Schema({"current_fraction": (0.1, 1.0, 1.0), "seconds": (1, 24 * 3600, 0)}, choices={"load": LOADS},
                named=True)


def _capacity_ratio(value, threshold, label, translate):
    value_shown, limit = shown(value, threshold, " %", 0, 100)
    return translate(N_("delivered {delivered} mAh of the {rated} mAh on the label: {ratio}")).format(
        delivered=f"{value * label.rated_capacity_mah:,.0f}", rated=f"{label.rated_capacity_mah:,.0f}",
        ratio=value_shown), limit


def _efficiency(value, threshold, label, translate):
    value_shown, limit = shown(value, threshold, " %", 0, 100)
    return translate(N_("delivered {delivered} Wh of the {rated} Wh its cells are rated for: {ratio} efficient")).format(
        delivered=f"{value * label.rated_energy_wh:.1f}", rated=f"{label.rated_energy_wh:.1f}", ratio=value_shown), limit


QUANTITIES = {
    "capacity_mah": Quantity(N_("output capacity"), plain(N_("delivered {value}"), " mAh", 0), "mAh"),
    "energy_wh": Quantity(N_("output energy"), plain(N_("delivered {value}"), " Wh", 1), "Wh"),
    "efficiency": Quantity(N_("conversion efficiency"), _efficiency, "%"),
    "capacity_ratio": Quantity(N_("output capacity against rated capacity"), _capacity_ratio, "%"),
    "min_voltage_v": Quantity(N_("lowest output voltage under load"),
                              plain(N_("output fell to {value} under load"), " V", 2), "V"),
    "max_voltage_v": Quantity(N_("highest output voltage under load"),
                              plain(N_("output rose to {value} under load"), " V", 2), "V"),
    "mean_voltage_v": Quantity(N_("mean output voltage under load"),
                               plain(N_("output averaged {value} under load"), " V", 2), "V"),
    "voltage_ratio_min": Quantity(N_("lowest output voltage under load against rated"),
                                  voltage_ratio(N_("output fell to {value} under load")), "%"),
    "voltage_ratio_max": Quantity(N_("highest output voltage under load against rated"),
                                  voltage_ratio(N_("output rose to {value} under load")), "%"),
    "duration_s": Quantity(N_("discharge time"), plain(N_("the discharge lasted {value}"), " min", 0, 1 / 60), "s"),
    "samples_lost": Quantity(N_("samples lost"), plain(N_("{value} samples were lost"), "", 0)),
    "interruptions": Quantity(N_("output interruptions"),
                              plain(N_("the output dropped out {value} times under load"), "", 0)),
    "longest_interruption_s": Quantity(N_("longest output interruption"),
                                       plain(N_("its longest dropout lasted {value}"), " s", 1), "s"),
    "stopped_by_itself": Quantity(N_("over-discharge protection acted"),
                                  plain(N_("the unit cut its output itself: {value} (1 yes, 0 no)"), "", 0)),
    "collapsed": Quantity(N_("output collapsed at rated current"),
                          plain(N_("the output collapsed under the rated current: {value} (1 yes, 0 no)"), "", 0)),
    "voltage_slope_v_per_min": Quantity(N_("output voltage trend"),
                                        plain(N_("the output moved {value} per minute at rated current"), " V", 3),
                                        "V"),
    "short_energy_wh": Quantity(N_("energy in the short discharge"),
                                plain(N_("delivered {value} in the short discharge"), " Wh", 2), "Wh"),
}
STILL_ON = N_("the output was still at {volts} V when the test ended below its end-of-discharge voltage: the unit's "
              "own over-discharge cut-off was not reached")
COLLAPSED = N_("the output collapsed after {seconds} s at the rated current")
SAYINGS = (STILL_ON, COLLAPSED)  # what it says the unit did (shared.SAYINGS)
# what a discharge to the end measures, and what a timed one does
FULL_DISCHARGE = ("capacity_mah", "energy_wh", "efficiency", "capacity_ratio", "min_voltage_v", "max_voltage_v",
                  "mean_voltage_v", "voltage_ratio_min", "voltage_ratio_max", "duration_s", "samples_lost",
                  "interruptions", "longest_interruption_s", "stopped_by_itself")
SHORT_DISCHARGE = ("min_voltage_v", "mean_voltage_v", "voltage_ratio_min", "voltage_ratio_max", "interruptions",
                   "collapsed", "voltage_slope_v_per_min", "short_energy_wh")


def measures(settings):
    return SHORT_DISCHARGE if settings["seconds"] else FULL_DISCHARGE


def plan(step, label, options):
    s = step.settings
    config = options.config(label)
    config["load_ma"] = round(rated_ma(label) * s["current_fraction"])
    config["collapse_ma"] = config["load_ma"] // 2
    return Plan(config, seconds=s["seconds"], load_mode=_load_mode(s, label))


def _load_mode(settings, label):
    """The constant power (mW) or resistance (mOhm) that draws current_fraction of the rated current at the
    rated voltage; None for a constant current (CONFIG's)."""
    amperes = label.rated_output_a * settings["current_fraction"]
    if settings["load"] == "power":
        return {"mode": "CP", "value": round(label.rated_output_v * amperes * 1000)}
    if settings["load"] == "resistance":
        return {"mode": "CR", "value": round(label.rated_output_v / amperes * 1000)}
    return None


def measurements_from(integrator, voltage_stats, label: Label) -> dict:
    """What a discharge to the end measured, from its Integrator and VoltageStats (all but stopped_by_itself).

    The voltage ratios use the sustained minimum and maximum (not the mean):
    a ±5 % band is about where the output goes, not where it averages.
    """
    low, high = voltage_stats.sustained_min_v, voltage_stats.sustained_max_v

    def of_rated(volts):
        return None if volts is None else volts / label.rated_output_v

    return {
        "capacity_mah": integrator.charge_mah,
        "energy_wh": integrator.energy_wh,
        "efficiency": integrator.energy_wh / label.rated_energy_wh,
        "capacity_ratio": integrator.charge_mah / label.rated_capacity_mah,
        "min_voltage_v": low,
        "max_voltage_v": high,
        "mean_voltage_v": voltage_stats.mean_v,
        "voltage_ratio_min": of_rated(low),
        "voltage_ratio_max": of_rated(high),
        "duration_s": integrator.duration_s,
        "samples_lost": integrator.samples_lost,
        "interruptions": voltage_stats.interruptions,
        "longest_interruption_s": voltage_stats.longest_interruption_s,
    }


def measure(step, evaluation, plan_, label):
    t_end = evaluation.end_event
    if not plan_.seconds:  # to the end: the full set the profiles grade
        m = measurements_from(evaluation.integrator, evaluation.voltage, label)
        last_v = evaluation.last[1] if evaluation.last else 0.0
        m["stopped_by_itself"] = int(last_v < OFF_V)
        cut_by_test = t_end is not None and t_end["name"] == "end_voltage"
        words = [] if last_v < OFF_V or not cut_by_test else [STILL_ON.format(volts=f"{last_v:.2f}")]
        return Outcome(m, words)
    # a short discharge: never a capacity, only what minutes can tell
    t, v, i = evaluation.samples()
    loaded = (i >= plan_.config["collapse_ma"] / 1000) & (v > OFF_V)
    collapsed = int(t_end is not None and t_end["t_s"] < plan_.seconds)
    m = {"short_energy_wh": evaluation.integrator.energy_wh, "collapsed": collapsed,
         "min_voltage_v": evaluation.voltage.sustained_min_v, "mean_voltage_v": evaluation.voltage.mean_v,
         "voltage_ratio_min": None, "voltage_ratio_max": None, "voltage_slope_v_per_min": None,
         "interruptions": evaluation.voltage.interruptions}
    if evaluation.voltage.sustained_min_v is not None:
        m["voltage_ratio_min"] = evaluation.voltage.sustained_min_v / label.rated_output_v
        m["voltage_ratio_max"] = evaluation.voltage.sustained_max_v / label.rated_output_v
    if loaded.sum() >= 10:
        m["voltage_slope_v_per_min"] = float(np.polyfit(t[loaded] / 60, v[loaded], 1)[0])
    words = [COLLAPSED.format(seconds=f"{t_end['t_s']:.0f}")] if collapsed else []
    return Outcome(m, words)
