"""What every step type shares: its settings' shape, its Plan and Outcome, and
the device settings a step starts from."""
from dataclasses import dataclass, field

import numpy as np

from ..i18n import N_

# what a step says the unit did (Outcome.behaviours), as templates marked for translation: the record keeps them
# in English, wording.retold tells them again in the language in use; SAYINGS: each step module's
EXTERNAL_LOAD = N_("not tested: the host sets an external load, and cannot follow the device's current steps sample "
                   "by sample; a cc or dac load can")
SWITCHED_OFF_WITHOUT_LOAD = N_("the unit switched its output off after {seconds} s without load (many units do this "
                               "to save their cell; not a failure)")
SWITCHED_OFF_RESTING = N_("the unit switched its output off after {seconds} s while resting without load (many units "
                          "do this to save their cell; not a failure)")
SAYINGS = (EXTERNAL_LOAD, SWITCHED_OFF_WITHOUT_LOAD, SWITCHED_OFF_RESTING)

PERIOD_US = 100_000  # 10 samples/s unless the run's options say otherwise
OFF_V = 1.0  # below this the output is off
OBSERVE = {"period_us": PERIOD_US, "load_ma": 0, "end_mv": 0, "collapse_ma": 0, "hold_ms": 1000,
           "flush_ms": 1000}  # load off, nothing ends the run but its time or STOP


@dataclass(frozen=True)
class Schema:
    """The settings a method file may give a step of this type, so a bad one is refused before the test."""
    numbers: dict  # setting -> (low, high, default; None: required)
    choices: dict = field(default_factory=dict)  # text setting -> its values, the first the default
    named: bool = False  # may run more than once in a method, told apart by `name`


@dataclass
class Plan:
    config: dict
    ramp: dict | None = None
    seconds: float = 0.0  # 0: until the device ends the run
    short: dict | None = None
    load_mode: dict | None = None  # LOAD_MODE body: constant power or resistance instead of CONFIG's current
    charge: dict | None = None  # CHARGE body: the run charges the unit through the rig's charger instead
    skip: str = ""  # why the step cannot run on this rig (it is recorded, not run)
    mass: dict | None = None  # a mass step's: typed {"grams", "source"}, or the scale's set-up (steps/mass.py)
    weigh: dict | None = None  # WEIGH body: the step weighs the unit on the rig's scale before it starts


@dataclass
class Outcome:
    measurements: dict = field(default_factory=dict)
    behaviours: list = field(default_factory=list)


def rated_ma(label):
    return round(label.rated_output_a * 1000)


def skipped_on_external_load(options):
    """A skipped Plan for a step that steps its load sample by sample, on a rig whose load the host sets;
    None where the device drives the load itself."""
    if not options.external_load:
        return None
    return Plan(dict(OBSERVE), skip=EXTERNAL_LOAD)


def trip_time_ms(evaluation, sampled_s):
    """(trip time, its resolution) in ms: the device's EVENT trip (protocol 4; SPEC.md: value bits 0..23
    the microseconds from the stress to the cut, bits 24..30 the resolution in 16 us), timed at the
    sensor's trip rate; else sampled_s, the time from the stress to the first sample that saw the cut,
    known to one sample period (a journal of protocol 3)."""
    trip = next((e for e in evaluation.events if e["name"] == "trip"), None)
    if trip is None:
        return sampled_s * 1000, evaluation.period_us / 1000
    return (trip["value"] & 0xFFFFFF) / 1000, (trip["value"] >> 24) * 16 / 1000


def switched_off(t, v, sentence):
    """The sentence (SWITCHED_OFF...) if the output was up and then went off for good during the step."""
    up = v > OFF_V
    if up.any() and not up[-1]:
        return [sentence.format(seconds=f"{t[np.flatnonzero(up)[-1] + 1]:.0f}")]
    return []
