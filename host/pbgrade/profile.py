"""Grading profiles: thresholds are data, each with its source, so no guess passes for a standard's number."""
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .label import NUMBER_FIELDS, Label
from .tomlcheck import Fields, builtin_names, builtin_or_file, read_headed

BUILTIN_DIR = Path(__file__).with_name("profiles")
KINDS = ("pass-fail", "tiers", "screen")
NEEDS_FULL_TEST = "NEEDS A FULL TEST"  # a screen that could not measure what it needs


class ProfileError(ValueError):
    """A profile file problem, as one line naming the file, the field and the fix."""


@dataclass(frozen=True)
class Limit:
    id: str
    quantity: str
    bound: str  # "min": the value must be at least the threshold; "max": at most
    default: float
    from_label: str | None  # a label field that, when the label declares it, replaces the default
    source: str

    def threshold(self, label: Label) -> tuple[float, bool]:
        """The threshold for this unit, and whether its label supplied it."""
        declared = getattr(label, self.from_label) if self.from_label else None
        return (self.default, False) if declared is None else (declared, True)


@dataclass(frozen=True)
class Grade:
    name: str
    passed: bool
    limits: tuple[Limit, ...]


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    kind: str
    provenance: str
    fallback: str  # awarded, never passing, when no grade's limits all hold
    grades: tuple[Grade, ...]  # best first
    path: str


@dataclass(frozen=True)
class Check:
    grade: str
    id: str
    quantity: str
    bound: str
    threshold: float
    value: float | None
    ok: bool
    source: str
    reason: str


@dataclass(frozen=True)
class Verdict:
    grade: str
    passed: bool
    decided_by: list[str]  # criterion ids
    reasons: list[str]  # one line each, same order as decided_by
    checks: list[Check]  # every limit of every grade


# -- what can be graded, and how to say it to a consumer --------------------------------------------

@dataclass(frozen=True)
class Quantity:
    noun: str
    # (value, threshold, label) -> (what was measured, the threshold as shown)
    explain: Callable[[float, float, Label], tuple[str, str]]


def _shown(value, threshold, unit, decimals, scale=1.0) -> tuple[str, str]:
    """Value and threshold as printed, with enough decimals that a value on the wrong side of its
    threshold never prints equal to it ("100 %; needs at least 100 %")."""
    value, threshold = value * scale, threshold * scale
    while decimals < 4 and value != threshold and round(value, decimals) == round(threshold, decimals):
        decimals += 1
    return f"{value:,.{decimals}f}{unit}", f"{threshold:,.{decimals}f}{unit}"


def _capacity_ratio(value, threshold, label):
    shown, limit = _shown(value, threshold, " %", 0, 100)
    return (f"delivered {value * label.rated_capacity_mah:,.0f} mAh of the {label.rated_capacity_mah:,.0f} mAh "
            f"on the label: {shown}"), limit


def _efficiency(value, threshold, label):
    shown, limit = _shown(value, threshold, " %", 0, 100)
    return (f"delivered {value * label.rated_energy_wh:.1f} Wh of the {label.rated_energy_wh:.1f} Wh "
            f"its cells are rated for: {shown} efficient"), limit


def _voltage_ratio(verb, where="under load"):
    def explain(value, threshold, label):
        rated = label.rated_output_v
        shown, limit = _shown(value, threshold, " V", 2, rated)
        return f"output {verb} {'to ' if verb != 'read' else ''}{shown} {where}", \
            f"{limit} ({threshold * 100:g} % of the rated {rated:g} V)"
    return explain


def _plain(template, unit, decimals, scale=1.0):
    def explain(value, threshold, label):
        shown, limit = _shown(value, threshold, unit, decimals, scale)
        return template.format(shown), limit
    return explain


QUANTITIES = {
    "capacity_mah": Quantity("capacity at the output", _plain("delivered {}", " mAh", 0)),
    "energy_wh": Quantity("energy at the output", _plain("delivered {}", " Wh", 1)),
    "efficiency": Quantity("conversion efficiency", _efficiency),
    "capacity_ratio": Quantity("capacity at the output", _capacity_ratio),
    "min_voltage_v": Quantity("output voltage under load", _plain("output fell to {} under load", " V", 2)),
    "max_voltage_v": Quantity("output voltage under load", _plain("output rose to {} under load", " V", 2)),
    "mean_voltage_v": Quantity("output voltage under load", _plain("output averaged {} under load", " V", 2)),
    "voltage_ratio_min": Quantity("output voltage under load", _voltage_ratio("fell")),
    "voltage_ratio_max": Quantity("output voltage under load", _voltage_ratio("rose")),
    "duration_s": Quantity("discharge time", _plain("the discharge lasted {}", " min", 0, 1 / 60)),
    "samples_lost": Quantity("sample loss", _plain("{} samples were lost", "", 0)),
    "interruptions": Quantity("output interruptions", _plain("the output dropped out {} times under load", "", 0)),
    "longest_interruption_s": Quantity("output interruptions", _plain("its longest dropout lasted {}", " s", 1)),
    "stopped_by_itself": Quantity("over-discharge protection", _plain("the unit cut its output itself: {} (1 yes, 0 no)", "", 0)),
    "no_load_voltage_v": Quantity("output voltage without load", _plain("without load the output read {}", " V", 2)),
    "no_load_voltage_ratio": Quantity("output voltage without load", _voltage_ratio("read", "without load")),
    "light_load_voltage_v": Quantity("output voltage at light load", _plain("at light load the output read {}", " V", 2)),
    "loaded_voltage_v": Quantity("output voltage at rated current", _plain("at the rated current the output read {}", " V", 2)),
    "loaded_voltage_ratio": Quantity("output voltage at rated current", _voltage_ratio("read", "at the rated current")),
    "load_regulation": Quantity("load regulation", _plain("from light to rated load the output fell by {}", " %", 1, 100)),
    "ocp_trip_a": Quantity("over-current protection", _plain("over-current protection tripped at {}", " A", 2)),
    "ocp_trip_ratio": Quantity("over-current protection", _plain("over-current protection tripped at {} of the rated current", " %", 0, 100)),
    "ocp_trip_time_s": Quantity("over-current protection", _plain("over-current protection took {} to trip", " s", 1)),
    "ocp_below_rated": Quantity("over-current protection", _plain("protection tripped below the rated current: {} (1 yes, 0 no)", "", 0)),
    "ocp_recovered": Quantity("over-current protection", _plain("the output came back after the trip: {} (1 yes, 0 no)", "", 0)),
    "short_protected": Quantity("short-circuit protection", _plain("the unit cut a short circuit itself: {} (1 yes, 0 no)", "", 0)),
    "short_trip_time_s": Quantity("short-circuit protection", _plain("short-circuit protection acted within {}", " s", 1)),
    "short_recovered": Quantity("short-circuit protection", _plain("the output came back after the short: {} (1 yes, 0 no)", "", 0)),
    "short_energy_wh": Quantity("energy in the short discharge", _plain("delivered {} in the short discharge", " Wh", 2)),
    "collapsed": Quantity("output held at rated current", _plain("the output collapsed under the rated current: {} (1 yes, 0 no)", "", 0)),
    "ripple_mv_pp": Quantity("ripple and noise", _plain("ripple and noise at rated current read {} peak to peak", " mV", 1)),
    "noise_mv_rms": Quantity("ripple and noise", _plain("ripple and noise at rated current read {} RMS", " mV", 1)),
    "voltage_slope_v_per_min": Quantity("voltage trend", _plain("the output moved {} per minute at rated current", " V", 3)),
}


def measurements_from(integrator, voltage_stats, label: Label) -> dict:
    """Every quantity a profile can grade, from one run's Integrator and VoltageStats.

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


# -- grading -----------------------------------------------------------------------------------------

def grade(profile: Profile, measurements: dict, label: Label) -> Verdict:
    """Award the first grade whose limits all hold, else the fallback, and say what decided it.

    Awarded the best grade: all its limits decided. Awarded a lower grade: the
    limits of the next better grade that failed. Fallback: every failing limit
    of the lowest grade.
    """
    checks_by_grade = [[_check(g.name, limit, measurements, label) for limit in g.limits] for g in profile.grades]
    rank = next((r for r, checks in enumerate(checks_by_grade) if all(c.ok for c in checks)), None)
    unmeasured = [c for c in checks_by_grade[0] if c.value is None]
    if profile.kind == "screen" and unmeasured and not any(c.value is not None and not c.ok for c in checks_by_grade[0]):
        # nothing contradicts the label, but something it needs was not seen: say so, claim nothing
        return Verdict(NEEDS_FULL_TEST, False, [c.id for c in unmeasured], [c.reason for c in unmeasured],
                       [c for checks in checks_by_grade for c in checks])
    if rank is None:
        awarded, passed = profile.fallback, False
        # a screen is decided by what contradicts the label; what it did not see decides nothing
        decisive = [c for c in checks_by_grade[-1] if not c.ok and (profile.kind != "screen" or c.value is not None)]
    else:
        awarded, passed = profile.grades[rank].name, profile.grades[rank].passed
        decisive = checks_by_grade[0] if rank == 0 else [c for c in checks_by_grade[rank - 1] if not c.ok]
    return Verdict(awarded, passed, [c.id for c in decisive], [c.reason for c in decisive],
                   [c for checks in checks_by_grade for c in checks])


def _check(grade_name: str, limit: Limit, measurements: dict, label: Label) -> Check:
    value = measurements.get(limit.quantity)
    threshold, declared = limit.threshold(label)
    ok = value is not None and (value >= threshold if limit.bound == "min" else value <= threshold)
    return Check(grade_name, limit.id, limit.quantity, limit.bound, threshold, value, ok, limit.source,
                 _reason(grade_name, limit, value, threshold, declared, label))


def _reason(grade_name, limit, value, threshold, declared, label) -> str:
    quantity = QUANTITIES[limit.quantity]
    if value is None:
        return f"{quantity.noun} was not measured, so {grade_name} cannot be awarded"
    measured, shown_threshold = quantity.explain(value, threshold, label)
    need = "needs at least" if limit.bound == "min" else "allows at most"
    origin = "" if limit.from_label is None else (
        " (as declared on the label)" if declared else f" (the label declares no {quantity.noun})")
    return f"{measured}; {grade_name} {need} {shown_threshold}{origin}"


# -- loading -----------------------------------------------------------------------------------------

_PROFILE_FIELDS = {
    "name": 'name the profile, e.g. name = "tiers"',
    "title": 'give a one-line title, e.g. title = "Project grades A-F"',
    "kind": f'say which kind it is, one of {", ".join(KINDS)}',
    "provenance": "say where the thresholds come from and which numbers are secondary",
    "fallback": 'name the grade given when no grade holds, e.g. fallback = "FAIL"',
}
_LIMIT_FIELDS = ("id", "quantity", "min", "max", "from_label", "source")


def builtin_profiles() -> list[str]:
    return builtin_names(BUILTIN_DIR)


def load_profile(name_or_path) -> Profile:
    """A built-in profile by name (e.g. "tiers"), or a profile file by path."""
    path = builtin_or_file(name_or_path, BUILTIN_DIR, "built-in profile", ProfileError)
    lines, top, head, texts = read_headed(path, ProfileError, "profile", "grade", _PROFILE_FIELDS)
    if texts["kind"] not in KINDS:
        head.fail("kind", f"= {texts['kind']!r} is not a known kind", f"use one of {', '.join(KINDS)}")
    tables = top.get("grade", "tables", "add [[grade]] tables, best grade first")
    if not tables:
        top.fail("grade", "is empty", "add [[grade]] tables, best grade first")
    limits_before = [0]
    for table in tables[:-1]:
        limits_before.append(limits_before[-1] + len(table.get("limit", [])))
    grades = tuple(_grade(path, lines, number, table, before)
                   for number, (table, before) in enumerate(zip(tables, limits_before), 1))
    names = [g.name for g in grades] + [texts["fallback"]]
    if len(set(names)) != len(names):
        top.fail("grade", f"names repeat ({', '.join(names)} with the fallback last)",
                 "give every grade its own name")
    if texts["kind"] == "pass-fail" and len(grades) != 1:
        head.fail("kind", f"is pass-fail but there are {len(grades)} grades",
                  'keep one grade, or use kind = "tiers"')
    return Profile(grades=grades, path=str(path), **texts)


def _grade(path, lines, number, table, limits_before) -> Grade:
    at = lines.header("grade", number)
    name = Fields(table, f"{path}: [[grade]] #{number}", ProfileError, lines, at).get(
        "name", "text", 'name the grade, e.g. name = "A"')
    fields = Fields(table, f"{path}: [[grade]] {name!r}", ProfileError, lines, at)
    fields.no_unknown(("name", "pass", "limit"))
    passed = fields.get("pass", "bool", "say whether this grade passes, e.g. pass = true")
    tables = fields.get("limit", "tables", "add its limits as [[grade.limit]] tables")
    if not tables:
        fields.fail("limit", "is empty", "add its limits as [[grade.limit]] tables")
    limits = tuple(_limit(path, name, number, table, lines, lines.header("grade.limit", limits_before + number))
                   for number, table in enumerate(tables, 1))
    ids = [limit.id for limit in limits]
    if len(set(ids)) != len(ids):
        fields.fail("limit", f"ids repeat ({', '.join(ids)})", "give every limit of a grade its own id")
    return Grade(name, passed, limits)


# the unit of each quantity, so a threshold written with a unit is checked against it
UNITS = {"capacity_mah": "mAh", "energy_wh": "Wh", "short_energy_wh": "Wh", "duration_s": "s",
         "longest_interruption_s": "s", "ocp_trip_time_s": "s", "short_trip_time_s": "s", "ocp_trip_a": "A", "voltage_slope_v_per_min": "V",
         "ripple_mv_pp": "mV", "noise_mv_rms": "mV"}
UNITS.update((q, "V") for q in ("min_voltage_v", "max_voltage_v", "mean_voltage_v", "no_load_voltage_v",
                                "light_load_voltage_v", "loaded_voltage_v"))
UNITS.update((q, "%") for q in ("efficiency", "capacity_ratio", "voltage_ratio_min", "voltage_ratio_max",
                                "no_load_voltage_ratio", "loaded_voltage_ratio", "load_regulation",
                                "ocp_trip_ratio"))


def _threshold(fields, bound, quantity, value) -> float:
    """A number, or text with its unit ("4.75 V", "95 %"): a unit that is not the quantity's is refused."""
    if not isinstance(value, str):
        return fields.get(bound, "number", f"write the threshold as a number, e.g. {bound} = 0.95")
    unit = UNITS.get(quantity, "")
    number, _, written = value.strip().partition(" ")
    try:
        x = float(number)
    except ValueError:
        fields.fail(bound, f"= {value!r} is not a number with a unit", f'write e.g. {bound} = 0.95 or "95 %"')
    if written != unit:
        fields.fail(bound, f"= {value!r} is in {written or 'no unit'}, but {quantity} is measured in "
                           f"{'a fraction or %' if unit == '%' else unit or 'plain counts'}",
                    f"write the threshold in {unit or 'plain numbers'}")
    return x / 100 if unit == "%" else x


def _limit(path, grade_name, number, table, lines, at) -> Limit:
    where = f"{path}: [[grade]] {grade_name!r} [[grade.limit]]"
    limit_id = Fields(table, f"{where} #{number}", ProfileError, lines, at).get(
        "id", "text", 'name the criterion, e.g. id = "capacity"')
    fields = Fields(table, f"{where} {limit_id!r}", ProfileError, lines, at)
    fields.no_unknown(_LIMIT_FIELDS)
    quantity = fields.get("quantity", "text", f"name what is graded, one of {', '.join(QUANTITIES)}")
    if quantity not in QUANTITIES:
        fields.fail("quantity", f"= {quantity!r} is not a measured quantity",
                    f"use one of {', '.join(QUANTITIES)}")
    bounds = [bound for bound in ("min", "max") if bound in table]
    if len(bounds) != 1:
        fields.fail("min or max", "is missing" if not bounds else "are both given",
                    "give exactly one threshold, min = ... or max = ...; a band takes two limits")
    default = _threshold(fields, bounds[0], quantity, table[bounds[0]])
    if not math.isfinite(default):
        fields.fail(bounds[0], f"= {default} is not a usable threshold",
                    f"write a finite number, e.g. {bounds[0]} = 0.95")
    from_label = fields.get("from_label", "text", f"name a label field, one of {', '.join(NUMBER_FIELDS)}",
                            required=False)
    if from_label is not None and from_label not in NUMBER_FIELDS:
        fields.fail("from_label", f"= {from_label!r} is not a numeric label field",
                    f"use one of {', '.join(NUMBER_FIELDS)}")
    source = fields.get("source", "text",
                        'say where the threshold comes from, e.g. source = "GB/T 35590-2017 ..."')
    if not source.strip():
        fields.fail("source", "is empty", "say where the threshold comes from")
    return Limit(limit_id, quantity, bounds[0], default, from_label, source)
