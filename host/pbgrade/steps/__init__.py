"""The step types a method can run, one module each: the settings its method
file may give it (SCHEMA), what it asks of the rig (`plan`: the device's
CONFIG and RAMP), what it measured (`measure`, from the step's Evaluation
alone, so a re-grade from the journal gets the same numbers as the live run)
and the quantities it measures, as a grade words them (QUANTITIES).

Measurements are plain numbers (None: not measured); behaviours are
sentences for the record: what the unit did that is worth knowing but is not
a failure (a unit switching itself off without load).
"""
from ..i18n import N_, _
from . import discharge, load_regulation, mass, no_load, over_current, recharge, rest, shared, short_circuit
from .discharge import FULL_DISCHARGE
from .shared import OBSERVE, OFF_V, PERIOD_US, Outcome, Plan  # with FULL_DISCHARGE: what the runner uses

TYPES = {"no_load": no_load, "rest": rest, "load_regulation": load_regulation, "over_current": over_current,
         "short_circuit": short_circuit, "discharge": discharge, "recharge": recharge, "mass": mass}
QUANTITIES = {name: quantity for kind in TYPES.values() for name, quantity in kind.QUANTITIES.items()}
# every sentence a step may say about the unit (its behaviours), for wording.retold
SAYINGS = shared.SAYINGS + tuple(saying for kind in TYPES.values() for saying in getattr(kind, "SAYINGS", ()))
# What people read for a step type: its test item as GB/T 35590-2017 and the grading standards name it
# (../shared/reference/standards.md: 输出电压, 过流保护, 短路保护), not the method file's key
TITLES = {"no_load": N_("no-load output voltage"), "rest": N_("rest without load"),
          "load_regulation": N_("load regulation and ripple"),
          "over_current": N_("over-current protection"), "short_circuit": N_("short-circuit protection"),
          "discharge": N_("discharge"), "recharge": N_("recharge"), "mass": N_("mass against the label's energy")}


def title(step_type):
    """The step type's test item, in the language in use."""
    return _(TITLES[step_type])


def plan(step, label, options):
    """The device settings for a step, from the label and the step's settings."""
    return TYPES[step.type].plan(step, label, options)


def measure(step, evaluation, plan_, label):
    """The step's measurements (named with its prefix) and behaviours; a step the rig
    could not run measured nothing, and says why."""
    if plan_.skip:
        outcome = Outcome(dict.fromkeys(measured_by(step)), [plan_.skip])
    else:
        outcome = TYPES[step.type].measure(step, evaluation, plan_, label)
    if step.name:
        outcome.measurements = {f"{step.name}_{k}": v for k, v in outcome.measurements.items()}
    return outcome


def measured_by(step) -> tuple:
    """What a step can measure (named with its prefix), so a profile asking for something else is refused
    before the test. A record lists them in this order, whatever PYTHONHASHSEED: each step type declares
    them in the order records listed them when this was a set (under PYTHONHASHSEED=0)."""
    names = TYPES[step.type].measures(step.settings)
    return tuple(f"{step.name}_{n}" if step.name else n for n in names)
