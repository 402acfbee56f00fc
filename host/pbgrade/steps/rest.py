"""Rest: the unit left without load (after the no-load reading, before the discharge),
watched for whether it switches itself off."""
from .discharge import SHORT_DISCHARGE
from .shared import OBSERVE, Outcome, Plan, Schema, SWITCHED_OFF_RESTING, switched_off

SCHEMA = Schema({"seconds": (1, 24 * 3600, None)})
QUANTITIES = {}


def measures(settings):
    """Nothing it measures; but records list a timed discharge's quantities (as null) for a method with a
    rest, as they did before the step types had a module each: a slip of the old lookup, which fell
    through to the discharge's for any step that measured nothing. Kept until it is changed on purpose:
    records made before and after compare byte for byte."""
    return SHORT_DISCHARGE


def plan(step, label, options):
    return Plan(dict(OBSERVE), seconds=step.settings["seconds"])


def measure(step, evaluation, plan_, label):
    t, v, _ = evaluation.samples()
    return Outcome({}, switched_off(t, v, SWITCHED_OFF_RESTING))
