"""`pbgrade history` and `pbgrade stats`: past runs from the run database, one line each, and what a
quality engineer asks of a batch (yield, spread, Cpk against the profile's limits, histograms).

A verdict keeps its kind everywhere (profile.KINDS): a pass/fail grade, a tier grade with whether it
passed, or a screen's finding (CONSISTENT, NOT CONSISTENT, NEEDS A FULL TEST), which is not a pass or a
fail and so never counts in a yield. The filtering happens in the database (store.RunFilter): the central
one when a station has one (every station's and kit's runs, each with its station), else the station's own
SQLite file; the arithmetic is in stats.py.
"""
import argparse
import json
import math
import os
import sys
from collections import Counter
from dataclasses import dataclass, fields
from datetime import datetime

from . import paths, settings
from .label import Label
from .profile import KINDS, NEEDS_FULL_TEST, Profile, load_profile
from .rebuild import index_runs
from .record import grade_outcome
from .steps import QUANTITIES
from .store import DatabaseUnreachable, RunFilter, Store, utc_time
from .stats import cpk, histogram, summarize, wilson_interval

BAR = "█"
BAR_WIDTH = 40
# decimals of a quantity's values by its unit (steps' Quantity.unit; "": a count, whose mean and spread take 2
# more); a fraction ("%") shows as a percentage
DECIMALS = {"%": 1, "V": 3, "A": 2, "mV": 1, "s": 2, "mAh": 0, "Wh": 2, "": 0}

HISTORY_JSON = """--json prints one JSON document instead of the table: {"runs": [RUN, ...]}, oldest first; RUN:
{"run_id", "started_at" (UTC, ISO 8601), "station", "channel" (the rig's), "model", "serial", "method",
"profile", "kind" ("pass-fail", "tiers" or "screen"), "grade" (the verdict as graded: PASS, B, CONSISTENT,
NEEDS A FULL TEST, ABORTED), "passed" (true or false; null for a screen, whose finding neither passes nor
fails), "status", "quantities": {QUANTITY: value or null}}, the quantities being those the runs' profiles
graded, in the record's units (a ratio as a fraction: 0.97)."""
STATS_JSON = """--json prints one JSON document instead of the text: {"runs", "first", "last" (UTC start times),
"profile" (whose limits), "graded_with" ([profiles]), "verdicts": [{"kind", "runs", "grades": {GRADE: count},
"passed", "yield", "wilson_95": [low, high]} per kind; passed, yield and wilson_95 null for a screen],
"quantities": [{"quantity", "name", "unit" ("%": a fraction), "graded" (the profile grades it), "n", "mean",
"stdev", "min", "max", "lower", "upper" (the limits of the lowest passing grade, null where none),
"limits_vary" (a label sets the limit and the labels differ), "cpk" (null where it cannot be computed),
"cpk_note" (why not), "histogram": [{"low", "high", "count"}]}]}; values in the record's units."""


class HistoryError(ValueError):
    """A filter or a batch the operator can fix, as one line."""


def add_commands(subparsers):
    filters = argparse.ArgumentParser(add_help=False)
    for option, what in (("--model", "model"), ("--serial", "serial number"), ("--station", "station"),
                         ("--method", "test method")):
        filters.add_argument(option, help=f"this {what} only, any case; * matches anything (quote it)")
    filters.add_argument("--grade", help="this verdict only, as graded, any case: e.g. PASS, B, CONSISTENT, "
                                         "'NEEDS A FULL TEST'")
    filters.add_argument("--kind", choices=KINDS, help="this kind of verdict only: a pass/fail grade, a tier "
                                                       "grade or a screen's finding")
    verdict = filters.add_mutually_exclusive_group()
    verdict.add_argument("--passed", action="store_const", const=True,
                         help="passed runs only (pass/fail and tier verdicts: a screen's finding is neither; "
                              "pick those with --grade)")
    verdict.add_argument("--failed", dest="passed", action="store_const", const=False,
                         help="failed runs only (pass/fail and tier verdicts, as --passed)")
    filters.add_argument("--since", help="from this day or time on (ISO, e.g. 2025-03-01 or 2025-03-01T14:00; "
                                         "local time unless it names a zone)")
    filters.add_argument("--until", help="up to this day (all of it) or time, as --since")
    filters.add_argument("--limit", type=int, help="only the latest N of the matching runs")
    filters.add_argument("--latest-per-unit", action="store_true",
                         help="a unit tested again counts once, with its latest matching run (by serial)")
    # not filters, but both commands take them
    filters.add_argument("--local", action="store_true",
                         help="this station's own runs (its runs.sqlite), not the central database's")
    filters.add_argument("--json", action="store_true", help="one JSON document on stdout (its shape: below)")

    history = subparsers.add_parser("history", parents=[filters], help="list past runs, one line each",
                                    epilog=HISTORY_JSON)
    history.set_defaults(func=cmd_history)
    stats = subparsers.add_parser("stats", parents=[filters], epilog=STATS_JSON,
                                  help="yield, spread, Cpk and histograms of a batch of runs")
    stats.add_argument("--profile", help="take the limits, and the quantities judged, from this profile "
                                         "(default: the one the runs were graded with)")
    stats.add_argument("--all-quantities", action="store_true",
                       help="also every other quantity the runs measured, not only those the profile grades")
    stats.set_defaults(func=cmd_stats)


def cmd_history(args):
    store, matching = open_store(args.local), _filter(args)
    quantities = [name for name in QUANTITIES if name in store.graded_quantities(matching)] if args.json else []
    rows = store.runs(matching, quantities)
    if args.json:
        print(json.dumps({"runs": [_run_json(row, quantities) for row in rows]}, indent=1))
    if not rows:
        print("pbgrade: no run matches", file=sys.stderr)
    if args.json or not rows:
        return 0
    header = ("date", "run", "station", "model", "serial", "method", "verdict", "capacity", "efficiency")
    cells = [(_local(row["started_at"]), row["run_id"], row["station"], row["model"] or "-", row["serial"] or "-",
              row["method"] or "-", row["grade"] + grade_outcome(row["grade"], row["passed"], row["kind"]),
              _percent(row["capacity_ratio"]), _percent(row["efficiency"])) for row in rows]
    lines = _aligned(header, cells, right={7, 8})
    print(lines[0])
    paint = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    for line, row in zip(lines[1:], rows):
        print(f"\033[31m{line}\033[0m" if paint and _against(row) else line)
    return 0


def _against(row) -> bool:
    """A verdict against the unit: a fail, or a screen's finding that it is not what its label says (one
    that could not decide is not against it)."""
    return not row["passed"] and row["grade"] != NEEDS_FULL_TEST


def _run_json(row, quantities) -> dict:
    keys = ("run_id", "started_at", "station", "channel", "model", "serial", "method", "profile", "kind", "grade")
    return {**{key: row[key] for key in keys}, "passed": None if row["kind"] == "screen" else row["passed"],
            "status": row["status"], "quantities": {name: row[name] for name in quantities}}


@dataclass(frozen=True)
class Batch:
    """A batch of runs as `pbgrade stats` and the supervisor's page judge it."""
    rows: list[dict]  # the runs, oldest first
    graded_with: list[str]  # the profiles they were graded with
    profile: Profile  # whose limits judge them
    quantities: list  # [BatchQuantity]
    verdicts: list[dict]  # per kind of verdict (_verdicts)


def judged(store: Store, matching: RunFilter, profile_name=None, all_quantities=False) -> Batch:
    """The matching runs' verdicts, and their quantities against the profile's limits (default: the one they
    were graded with; HistoryError if none match, or if they were graded with several and none is named)."""
    graded_with = sorted({row["profile"] for row in store.rows(["profile"], matching)})
    if not graded_with:
        raise HistoryError("no run matches these filters: see them with `pbgrade history` and the same filters")
    if profile_name is None and len(graded_with) > 1:
        raise HistoryError(f"these runs were graded with different profiles ({', '.join(graded_with)}): narrow "
                           f"them (e.g. --method) or pass --profile NAME for the limits to judge them against")
    profile = load_profile(profile_name or graded_with[0])
    limited = list(dict.fromkeys(limit.quantity for grade in profile.grades for limit in grade.limits))
    others = [name for name in QUANTITIES if name not in limited]
    quantities = limited + (store.measured_quantities(others, matching) if all_quantities else [])
    rows = store.runs(matching, quantities)
    labels = [_label(row["label"]) for row in rows]
    batch = [BatchQuantity(name, name in limited, [row[name] for row in rows if row[name] is not None],
                    _pass_limits(profile, name, labels)) for name in quantities]
    verdicts = [_verdicts(kind, [row for row in rows if row["kind"] == kind], profile)
                for kind in KINDS if any(row["kind"] == kind for row in rows)]
    return Batch(rows, graded_with, profile, batch, verdicts)


def cmd_stats(args):
    found = judged(open_store(args.local), _filter(args), args.profile, args.all_quantities)
    rows, graded_with, profile, batch, verdicts = (found.rows, found.graded_with, found.profile, found.quantities,
                                                   found.verdicts)
    if args.json:
        print(json.dumps({"runs": len(rows), "first": rows[0]["started_at"], "last": rows[-1]["started_at"],
                          "profile": profile.name, "graded_with": graded_with, "verdicts": verdicts,
                          "quantities": [quantity.as_json() for quantity in batch]}, indent=1))
        return 0
    print(f"runs     {len(rows)}, {_local(rows[0]['started_at'])} to {_local(rows[-1]['started_at'])}")
    print(f"limits   profile {profile.name}" + (f" (the runs were graded with {', '.join(graded_with)})"
                                                  if graded_with != [profile.name] else ""))
    for verdict in verdicts:
        print(_verdict_line(verdict))
    print()
    for line in _aligned(("", "n", "mean", "s", "min", "max", "limit", "Cpk"),
                         [quantity.cells() for quantity in batch], right={1, 2, 3, 4, 5, 7}):
        print(line)
    if any(QUANTITIES[quantity.name].unit == "%" for quantity in batch):
        print("  % : a ratio to the label (capacity, voltage, current), efficiency of the cells' rated energy")
    for quantity in batch:
        if quantity.values:
            print(f"\n{quantity.name}: {QUANTITIES[quantity.name].name} (n {len(quantity.values)})")
            print("\n".join(quantity.histogram_lines()))
    return 0


def _verdicts(kind, rows, profile: Profile) -> dict:
    """How the runs of one kind of verdict were graded: each grade's count, and for a pass/fail or tier
    grade the yield with its 95 % interval; a screen's findings are counts only, not a pass rate."""
    rank = {name: k for k, name in enumerate([grade.name for grade in profile.grades] + [profile.fallback])}
    counts = Counter(row["grade"] for row in rows)
    grades = {name: counts[name] for name in sorted(counts, key=lambda name: (rank.get(name, len(rank)), name))}
    summary = {"kind": kind, "runs": len(rows), "grades": grades, "passed": None, "yield": None, "wilson_95": None}
    if kind != "screen":
        passed = sum(row["passed"] for row in rows)
        summary.update({"passed": passed, "yield": passed / len(rows),
                        "wilson_95": list(wilson_interval(passed, len(rows)))})
    return summary


def _verdict_line(verdict) -> str:
    counts = ", ".join(f"{grade} {count}" for grade, count in verdict["grades"].items())
    if verdict["kind"] == "screen":
        return f"screen   {verdict['runs']} screened: {counts}; a screen's findings, not a pass rate"
    low, high = verdict["wilson_95"]
    return (f"yield    {verdict['passed']} of {verdict['runs']} passed: {_percent(verdict['yield'])} (95 % Wilson "
            f"interval {_percent(low)} to {_percent(high)}), as graded when tested ({verdict['kind']}: {counts})")


def open_store(local: bool) -> Store:
    """The central database's store when one is set (every station's runs), else this station's own file."""
    url, where = settings.central_database()
    if url and not local:
        try:
            return Store(url)
        except DatabaseUnreachable as e:
            raise HistoryError(f"central database unreachable ({e}; set by {where}): --local reads this "
                               f"station's own runs") from None
    path = paths.run_db()
    if not (path.is_file() or (paths.data_dir() / "runs").is_dir()):
        raise HistoryError(f"no run database at {path}: run a test first, or point PBGRADE_DATA at the data")
    store = Store(path)
    index_runs(store)  # runs whose host stopped between their record and their row
    return store


def _filter(args) -> RunFilter:
    if args.limit is not None and args.limit < 1:
        raise HistoryError(f"--limit {args.limit}: give a number of runs, 1 or more")
    return RunFilter(
        model=args.model, serial=args.serial, station=args.station, method=args.method, grade=args.grade,
        kind=args.kind, passed=args.passed, since=args.since and _utc(args.since, "--since"),
        before=args.until and _utc(args.until, "--until", end=True), limit=args.limit,
        latest_per_unit=args.latest_per_unit)


def _utc(text: str, option: str, end: bool = False) -> str:
    try:
        return utc_time(text, end)
    except ValueError:
        raise HistoryError(f"{option} {text}: not an ISO day or time: give e.g. 2025-03-01 or "
                           f"2025-03-01T14:00") from None


def _local(started_at: str) -> str:
    return datetime.fromisoformat(started_at).astimezone().strftime("%Y-%m-%d %H:%M")


def _percent(value, decimals=1) -> str:
    return "-" if value is None else f"{value * 100:.{decimals}f} %"


def _label(recorded: dict) -> Label:
    return Label(**{field.name: recorded.get(field.name) for field in fields(Label)})


@dataclass(frozen=True)
class Units:
    """How a quantity's values read: a fraction as a percentage, anything else in its own unit."""
    scale: float
    unit: str  # as written after the number
    decimals: int
    mean_decimals: int  # of a mean; a standard deviation takes one more

    @classmethod
    def of(cls, quantity: str):
        unit = QUANTITIES[quantity].unit
        decimals = DECIMALS.get(unit, 2)
        return cls(100.0 if unit == "%" else 1.0, unit, decimals, decimals + 2 * (unit == ""))

    def __call__(self, value, decimals=None) -> str:
        if value is None:
            return "-"
        shown = f"{value * self.scale:.{self.decimals if decimals is None else decimals}f}"
        return f"{shown} {self.unit}" if self.unit else shown


@dataclass(frozen=True)
class PassLimits:
    """What a run must meet on one quantity to pass."""
    lower: float | None = None
    upper: float | None = None
    varies: bool = False  # a label sets the limit (a declared efficiency) and the runs' labels differ

    @property
    def marks(self) -> tuple[float, ...]:
        return () if self.varies else tuple(m for m in (self.lower, self.upper) if m is not None)

    def text(self, units: Units) -> str:
        if self.varies:
            return "varies by label"
        if self.lower is not None and self.upper is not None:
            return f"{units(self.lower)} to {units(self.upper)}"
        if self.lower is not None:
            return f"≥ {units(self.lower)}"
        return "no limit" if self.upper is None else f"≤ {units(self.upper)}"


def _pass_limits(profile: Profile, quantity: str, labels: list[Label]) -> PassLimits:
    """The limits of the lowest passing grade (for tiers, C: the line between pass and fail)."""
    passing = [grade for grade in profile.grades if grade.passed]
    lower, upper = [], []
    for limit in passing[-1].limits if passing else ():
        if limit.quantity == quantity:
            thresholds = {limit.threshold(label)[0] for label in labels}
            if len(thresholds) > 1:
                return PassLimits(varies=True)
            (lower if limit.bound == "min" else upper).append(thresholds.pop())
    return PassLimits(max(lower, default=None), min(upper, default=None))


@dataclass(frozen=True)
class BatchQuantity:
    """One quantity across the batch: its measured values against the profile's limits."""
    name: str
    graded: bool  # the profile grades it (else: shown on request, against no limit)
    values: list[float]
    limits: PassLimits

    @property
    def capability(self) -> tuple[float | None, str | None]:
        """(Cpk, None), or (None, why there is none)."""
        summary = summarize(self.values)
        if not summary.n:
            return None, "not measured"
        if self.limits.varies:
            return None, "filter by --model"
        if not self.limits.marks:
            return None, "no limit"
        if summary.n < 2:
            return None, "needs 2 runs"
        if summary.stdev == 0:
            return None, "no spread"
        return cpk(summary.mean, summary.stdev, self.limits.lower, self.limits.upper), None

    def cells(self) -> tuple[str, ...]:
        summary, units = summarize(self.values), Units.of(self.name)
        index, why = self.capability
        return (self.name, str(summary.n), units(summary.mean, units.mean_decimals),
                units(summary.stdev, units.mean_decimals + 1), units(summary.low),
                units(summary.high), self.limits.text(units), why or f"{index:.2f}")

    def as_json(self) -> dict:
        summary, (index, why) = summarize(self.values), self.capability
        quantity = QUANTITIES[self.name]
        bins = histogram(self.values, self.limits.marks) if self.values else []
        return {"quantity": self.name, "name": quantity.name, "unit": quantity.unit, "graded": self.graded,
                "n": summary.n, "mean": summary.mean, "stdev": summary.stdev, "min": summary.low,
                "max": summary.high, "lower": self.limits.lower, "upper": self.limits.upper,
                "limits_vary": self.limits.varies, "cpk": index, "cpk_note": why,
                "histogram": [{"low": b.low, "high": b.high, "count": b.count} for b in bins]}

    def histogram_lines(self) -> list[str]:
        """One line per bin with a bar of its count; a rule across at each limit (at the bin edge nearest
        it: exactly on it for the lower limit, on which the bins are laid)."""
        marks, units = self.limits.marks, Units.of(self.name)
        bins = histogram(self.values, marks)
        width = bins[0].high - bins[0].low
        decimals = max(0, -math.floor(round(math.log10(width * units.scale), 9)))  # enough to tell edges apart
        edges = [(f"{b.low * units.scale:.{decimals}f}", f"{b.high * units.scale:.{decimals}f}") for b in bins]
        pad = max(len(text) for pair in edges for text in pair)
        most = max(b.count for b in bins)
        unit = f" {units.unit}" if units.unit else ""
        lines = [f"  {low:>{pad}} – {high:>{pad}}{unit}  {_bar(b.count, most)}" for b, (low, high) in zip(bins, edges)]
        for mark in sorted(marks, reverse=True):  # from the top, so an insertion does not move the next place
            place = next((k for k, b in enumerate(bins) if b.low >= mark - width / 2), len(bins))
            lines.insert(place, f"  {'─' * (2 * pad + 5)} limit {units(mark)}")
        return lines


def _bar(count: int, most: int) -> str:
    """A bar scaled to the fullest bin, and the count; never an empty bar for a bin that holds a run."""
    return f"{BAR * max(1, round(count / most * BAR_WIDTH))} {count}" if count else ""


def _aligned(header, rows, right=frozenset()) -> list[str]:
    """Plain columns two spaces apart, the header first; columns in `right` (numbers) right-aligned."""
    widths = [max(len(row[k]) for row in (header, *rows)) for k in range(len(header))]
    return ["  ".join(cell.rjust(w) if k in right else cell.ljust(w) for k, (cell, w) in enumerate(zip(row, widths)))
            .rstrip() for row in (header, *rows)]
