"""No load: the output voltage with nothing drawn, and whether the unit switches itself off."""
from ..i18n import N_
from .quantity import Quantity, plain, voltage_ratio
from .shared import OBSERVE, OFF_V, Outcome, Plan, Schema, SWITCHED_OFF_WITHOUT_LOAD, switched_off

SCHEMA = Schema({"seconds": (1, 3600, None)})
QUANTITIES = {
    "no_load_voltage_ratio": Quantity(N_("no-load output voltage against rated"),
                                      voltage_ratio(N_("output read {value} without load")), "%"),
    "no_load_voltage_v": Quantity(N_("no-load output voltage"),
                                  plain(N_("without load the output read {value}"), " V", 2), "V"),
}


def measures(settings):
    return tuple(QUANTITIES)


def plan(step, label, options):
    return Plan(dict(OBSERVE), seconds=step.settings["seconds"])


def measure(step, evaluation, plan_, label):
    t, v, _ = evaluation.samples()
    up = v[v > OFF_V]
    volts = float(up.mean()) if up.size else None
    return Outcome({"no_load_voltage_v": volts,
                    "no_load_voltage_ratio": None if volts is None else volts / label.rated_output_v},
                   switched_off(t, v, SWITCHED_OFF_WITHOUT_LOAD))
