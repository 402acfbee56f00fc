"""A record's words in the language in use: the display names of what it names by internal key (step types,
settings, end events, grades, statuses), and its verdict's reasons re-told from its checks.

A record stays in English whatever the language (it is data, and a re-grade must give the same one); the
report and the verdict line translate here, when they show it. The quantities' names and reasons come from
steps' QUANTITIES and profile.explain: one template each for both languages.
"""
import itertools
import math
import re
from functools import cache

from .i18n import N_, _
from .label import Label
from .profile import NEEDS_FULL_TEST, explain
from .record import ABORTED, ABORTED_BY_OPERATOR, COMPLETE, RIG_STOPS, STOPPED_BY_RIG, UNFINISHED, outcome
from . import steps
from .steps import QUANTITIES, SAYINGS

# a step's settings as its method file names them: (name, unit as printed, scale); fractions of the rated current
SETTINGS = {"seconds": (N_("duration"), " s", 1), "light_fraction": (N_("light load"), " % I", 100),
            "current_fraction": (N_("discharge current"), " % I", 100), "max_fraction": (N_("highest current"), " % I", 100),
            "step_fraction": (N_("current step"), " % I", 100), "step_s": (N_("time per current step"), " s", 1),
            "observe_s": (N_("observed for"), " s", 1), "short_ms": (N_("short-circuit duration"), " ms", 1),
            "load": (N_("load held constant"), "", 1), "taper_ma": (N_("full below"), " mA", 1),
            "taper_s": (N_("full after"), " s", 1), "max_s": (N_("longest charge"), " s", 1)}
LOADS = {"current": N_("current"), "power": N_("power"), "resistance": N_("resistance")}
# what ended a step (protocol.json's events that end one), and "none"
END_EVENTS = {"end_voltage": N_("the output fell to the end voltage"), "current_collapse": N_("the output collapsed"),
              "stopped": N_("stopped by the host"), "duration": N_("its set time was up"),
              "limit_voltage": N_("the rig's voltage limit"), "limit_current": N_("the rig's current limit"),
              "limit_reverse": N_("reverse current"), "limit_power": N_("the rig's power limit"),
              "limit_temperature": N_("the rig's temperature limit"), "sensor_fault": N_("a sensor fault"),
              "charge_done": N_("the unit was charged full"), "charge_timeout": N_("the charge's time was up"),
              "none": N_("nothing (the run ended before)")}
GRADES = {"PASS": N_("PASS"), "FAIL": N_("FAIL"), "CONSISTENT": N_("CONSISTENT"),
          "NOT CONSISTENT": N_("NOT CONSISTENT"), NEEDS_FULL_TEST: N_("NEEDS A FULL TEST"), ABORTED: N_("ABORTED")}
STATUSES = {COMPLETE: N_("complete"), UNFINISHED: N_("aborted"), ABORTED_BY_OPERATOR: N_("aborted by operator"),
            STOPPED_BY_RIG: N_("stopped by the rig")}


def shown(table, key):
    """key's display name from one of the tables above, translated; a key the table lacks as it is."""
    return _(table[key]) if key in table else str(key)


def quantity_name(key):
    """A measurement's display name; a named step's ("light_min_voltage_v") says which step."""
    if key in QUANTITIES:
        return _(QUANTITIES[key].name)
    for base, quantity in QUANTITIES.items():
        if key.endswith(f"_{base}"):
            return f"{_(quantity.name)} ({key[:-len(base) - 1]})"
    return key


def setting(key, value):
    """A step's setting as `name value unit`."""
    name, unit, scale = SETTINGS.get(key, (key, "", 1))
    if key == "load":
        return f"{_(name)}: {shown(LOADS, value)}"
    if key == "seconds" and not value:  # a discharge with no set time: it runs to the unit's end
        return _("runs until the unit stops or reaches its end voltage")
    return f"{_(name)} {value * scale:g}{unit}"


def grade(record):
    """The grade as a word of the language, and " (PASS)" after a grade that does not say it itself (B)."""
    passed = outcome(record).strip(" ()")
    return shown(GRADES, record["grade"]) + (f" ({shown(GRADES, passed)})" if passed else "")


def retold(sentence):
    """A step's sentence about the unit (a behaviour, as the record keeps it in English) in the language in use:
    the template that says it (steps.SAYINGS), translated, its values re-told in turn; as kept if none does."""
    for template, pattern in _sayings():
        found = pattern.fullmatch(sentence)
        if found:
            return _(template).format(**{name: retold(value) for name, value in found.groupdict().items()})
    return sentence


@cache
def _sayings():
    """Each template with the pattern that reads its values back out of the English it printed."""
    def pattern(template):
        pieces = re.split(r"{(\w+)}", template)
        return re.compile("".join(f"(?P<{piece}>.+?)" if odd else re.escape(piece)
                                  for odd, piece in zip(itertools.cycle((False, True)), pieces)))
    return tuple((template, pattern(template)) for template in SAYINGS)


def headline(verdict) -> int:
    """Which of a recorded verdict's reasons a verdict band shows: the first, which decided a fail, a lower
    grade or a screen's doubt (a limit missed or not measured); for a unit that held every limit of the best
    grade (all its reasons are limits held), the limit it came closest to failing (by its margin relative to
    the threshold), which tells an operator more than the profile's first limit."""
    by_reason = {c["reason"]: c for c in verdict["checks"]}
    decisive = [by_reason.get(reason) for reason in verdict["reasons"]]
    if not all(c is not None and c["ok"] and c["value"] is not None for c in decisive):
        return 0

    def margin(k):
        c = decisive[k]
        gap = c["value"] - c["threshold"] if c["bound"] == "min" else c["threshold"] - c["value"]
        return gap / abs(c["threshold"]) if c["threshold"] else math.inf
    return min(range(len(decisive)), key=margin)


def reasons(record):
    """The verdict's reasons in the language in use: each check's re-told from the check; the stop of an
    aborted run from its English reason's figures (the record keeps no others); one that is neither, as kept."""
    label = Label(**{k: record["label"][k] for k in Label.__dataclass_fields__})
    by_reason = {c["reason"]: c for c in record["verdict"]["checks"]}
    told = []
    for reason in record["verdict"]["reasons"]:
        check = by_reason.get(reason)
        if check is not None:
            told.append(explain(check["grade"], check["quantity"], check["bound"], check["threshold"],
                                check["value"], check.get("from_label"), label, _))
        else:
            told.append(_stop(reason, record) or reason)
    return told


_WHERE = r"(?:in step (?P<step>\d+) of (?P<steps>\d+) \((?P<type>\w+)\)|before the first step)"
_BY_OPERATOR = re.compile(rf"stopped by the operator after (?P<minutes>[\d.]+) min of test time, {_WHERE}:")
_BY_RIG = re.compile(rf"the rig switched the load off {_WHERE}:")


def _stop(reason, record):
    """record.py's reason for a run stopped before its end, in the language in use; None: not one."""
    operator, rig = _BY_OPERATOR.match(reason), _BY_RIG.match(reason)
    found = operator or rig
    if found is None:
        return None
    where = (_("before the first step") if found["step"] is None else
             _("in step {step} of {steps} ({type})").format(step=found["step"], steps=found["steps"],
                                                            type=steps.title(found["type"])))
    if operator:
        return _("stopped by the operator after {minutes} min of test time, {where}: an aborted run is never "
                 "passed; on what it measured until then it grades {grade}").format(
            minutes=found["minutes"], where=where, grade=_graded(record))
    cause = next((_(text) for text in RIG_STOPS.values() if text in reason), "")
    return _("the rig switched the load off {where}: {cause}; the steps after it were not run, and an unfinished "
             "run is never passed (on what it measured it grades {grade}): fix the cause, clear the rig "
             "(`pbgrade clear`), test again").format(where=where, cause=cause, grade=_graded(record))


def _graded(record):
    """What an aborted run grades on what it measured: the grade its English reason names."""
    named = re.search(r"grades (.+?)(?:\)|$)", record["verdict"]["reasons"][0])
    return shown(GRADES, named[1]) if named else "—"
