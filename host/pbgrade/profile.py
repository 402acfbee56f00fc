"""Grading profiles: thresholds are data, each with its source, so no guess passes for a standard's number.
What can be graded, its wording and its unit, is the step types' (steps.QUANTITIES)."""
import math
from dataclasses import dataclass

from . import paths
from .i18n import N_
from .label import NUMBER_FIELDS, Label
from .steps import QUANTITIES
from .tomlcheck import Fields, read_headed

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
    if_measured: bool = False  # evidence a run may not take (a mass nobody weighed): unmeasured, it decides nothing

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
    from_label: str | None  # the label field that, when declared, gave the threshold
    reason: str  # in English, as the record keeps it; explain() words it in the language in use


@dataclass(frozen=True)
class Verdict:
    grade: str
    passed: bool
    decided_by: list[str]  # criterion ids
    reasons: list[str]  # one line each, same order as decided_by
    checks: list[Check]  # every limit of every grade


# -- grading -----------------------------------------------------------------------------------------

def grade(profile: Profile, measurements: dict, label: Label) -> Verdict:
    """Award the first grade whose limits all hold, else the fallback, and say what decided it.

    Awarded the best grade: all its limits decided. Awarded a lower grade: the
    limits of the next better grade that failed. Fallback: every failing limit
    of the lowest grade.
    """
    checks_by_grade = [[_check(g.name, limit, measurements, label) for limit in g.limits
                        if not (limit.if_measured and measurements.get(limit.quantity) is None)]
                       for g in profile.grades]
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
    threshold, _declared = limit.threshold(label)
    ok = value is not None and (value >= threshold if limit.bound == "min" else value <= threshold)
    return Check(grade_name, limit.id, limit.quantity, limit.bound, threshold, value, ok, limit.source,
                 limit.from_label, explain(grade_name, limit.quantity, limit.bound, threshold, value, limit.from_label,
                                           label))


def explain(grade_name, quantity, bound, threshold, value, from_label, label: Label, translate=str) -> str:
    """Why a limit held or not, in one line: in English for the record (translate=str), or re-told from a
    record's check in the language in use (translate=i18n._), from the same templates."""
    name = translate(QUANTITIES[quantity].name)
    grade_word = translate(grade_name)
    if value is None:
        return translate(N_("{quantity} was not measured, so {grade} cannot be awarded")).format(
            quantity=name, grade=grade_word)
    measured, shown_threshold = QUANTITIES[quantity].explain(value, threshold, label, translate)
    need = (N_("{measured}; {grade} needs at least {threshold}") if bound == "min" else
            N_("{measured}; {grade} allows at most {threshold}"))
    origin = "" if from_label is None else translate(
        N_(" (as declared on the label)") if getattr(label, from_label) is not None else
        N_(" (the label declares no {quantity})")).format(quantity=name)
    return translate(need).format(measured=measured, grade=grade_word, threshold=shown_threshold) + origin


# -- loading -----------------------------------------------------------------------------------------

_PROFILE_FIELDS = {
    "name": 'name the profile, e.g. name = "tiers"',
    "title": 'give a one-line title, e.g. title = "Project grades A-F"',
    "kind": f'say which kind it is, one of {", ".join(KINDS)}',
    "provenance": "say where the thresholds come from and which numbers are secondary",
    "fallback": 'name the grade given when no grade holds, e.g. fallback = "FAIL"',
}
_LIMIT_FIELDS = ("id", "quantity", "min", "max", "from_label", "source", "if_measured")


def builtin_profiles() -> list[str]:
    """The profiles --profile takes by name: the user's and the shipped."""
    return paths.names("profiles")


def load_profile(name_or_path) -> Profile:
    """A profile by name (e.g. "tiers": the user's, else the shipped one), or a profile file by path."""
    path = paths.named(name_or_path, "profiles", "profile", ProfileError)
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


def _threshold(fields, bound, quantity, value) -> float:
    """A number, or text with its unit ("4.75 V", "95 %"): a unit that is not the quantity's is refused."""
    if not isinstance(value, str):
        return fields.get(bound, "number", f"write the threshold as a number, e.g. {bound} = 0.95")
    unit = QUANTITIES[quantity].unit
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
    if_measured = fields.get("if_measured", "bool", "write if_measured = true or leave it out", required=False)
    return Limit(limit_id, quantity, bounds[0], default, from_label, source, bool(if_measured))
