"""`pbgrade history` and `pbgrade stats`: past runs from the run database, one line each, and what a
quality engineer asks of a batch (yield, spread, Cpk against the profile's limits, histograms).

The filtering happens in SQLite (record.RunFilter); the arithmetic is in stats.py.
"""
import argparse
import math
import os
import sys
from dataclasses import dataclass, fields
from datetime import datetime

from . import paths
from .label import Label
from .profile import Profile, load_profile
from .store import RunFilter, Store, utc_time
from .stats import cpk, histogram, summarize, wilson_interval

# what a batch is judged on, each a fraction: of the label's capacity, of the cells' rated energy,
# of the rated output voltage; the profiles set their limits on these same quantities
BATCH_QUANTITIES = (("capacity_ratio", "capacity ratio"), ("efficiency", "efficiency"),
                    ("voltage_ratio_min", "min voltage under load"))
BAR = "█"
BAR_WIDTH = 40


class HistoryError(ValueError):
    """A filter or a batch the operator can fix, as one line."""


def add_commands(subparsers):
    filters = argparse.ArgumentParser(add_help=False)
    for option, what in (("--model", "model"), ("--serial", "serial number"), ("--station", "station"),
                         ("--method", "test method")):
        filters.add_argument(option, help=f"this {what} only, any case; * matches anything (quote it)")
    filters.add_argument("--grade", help="this grade only, e.g. PASS, B, CONSISTENT")
    verdict = filters.add_mutually_exclusive_group()
    verdict.add_argument("--passed", action="store_const", const=True, help="passed runs only")
    verdict.add_argument("--failed", dest="passed", action="store_const", const=False, help="failed runs only")
    filters.add_argument("--since", help="from this day or time on (ISO, e.g. 2025-03-01 or 2025-03-01T14:00; "
                                         "local time unless it names a zone)")
    filters.add_argument("--until", help="up to this day (all of it) or time, as --since")
    filters.add_argument("--limit", type=int, help="only the latest N of the matching runs")
    filters.add_argument("--latest-per-unit", action="store_true",
                         help="a unit tested again counts once, with its latest matching run (by serial)")

    history = subparsers.add_parser("history", parents=[filters], help="list past runs, one line each")
    history.set_defaults(func=cmd_history)
    stats = subparsers.add_parser("stats", parents=[filters],
                                  help="yield, spread, Cpk and histograms of a batch of runs")
    stats.add_argument("--profile", help="take the limits from this profile (default: the one the runs were "
                                         "graded with)")
    stats.set_defaults(func=cmd_stats)


def cmd_history(args):
    rows = _runs(args)
    if not rows:
        print("pbgrade: no run matches", file=sys.stderr)
        return 0
    header = ("date", "run", "station", "model", "serial", "method", "grade", "result", "capacity", "efficiency")
    cells = [(_local(row["started_at"]), row["run_id"], row["station"], row["model"] or "-", row["serial"] or "-",
              row["method"] or "-", row["grade"], "PASS" if row["passed"] else "FAIL",
              _percent(row["capacity_ratio"]), _percent(row["efficiency"])) for row in rows]
    lines = _aligned(header, cells, right={8, 9})
    print(lines[0])
    paint = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    for line, row in zip(lines[1:], rows):
        print(f"\033[31m{line}\033[0m" if paint and not row["passed"] else line)
    return 0


def cmd_stats(args):
    rows = _runs(args)
    if not rows:
        raise HistoryError("no run matches these filters: see them with `pbgrade history` and the same filters")
    graded_with = sorted({row["profile"] for row in rows})
    if args.profile is None and len(graded_with) > 1:
        raise HistoryError(f"these runs were graded with different profiles ({', '.join(graded_with)}): narrow "
                           f"them (e.g. --method) or pass --profile NAME for the limits to judge them against")
    profile = load_profile(args.profile or graded_with[0])
    passed = sum(row["passed"] for row in rows)
    low, high = wilson_interval(passed, len(rows))
    print(f"runs     {len(rows)}, {_local(rows[0]['started_at'])} to {_local(rows[-1]['started_at'])}")
    print(f"limits   profile {profile.name}" + (f" (the runs were graded with {', '.join(graded_with)})"
                                                  if graded_with != [profile.name] else ""))
    print(f"yield    {passed} of {len(rows)} passed: {_percent(passed / len(rows))} "
          f"(95 % Wilson interval {_percent(low)} to {_percent(high)}), as graded when tested")
    labels = [_label(row["label"]) for row in rows]
    batch = [(title, [row[key] for row in rows if row[key] is not None], _pass_limits(profile, key, labels))
             for key, title in BATCH_QUANTITIES]
    print()
    for line in _aligned(("", "n", "mean", "s", "min", "max", "limit", "Cpk"),
                         [_quantity_cells(title, values, limits) for title, values, limits in batch],
                         right={1, 2, 3, 4, 5, 7}):
        print(line)
    print("  each a fraction: of the label's capacity, of the cells' rated energy, of the rated output voltage")
    for title, values, limits in batch:
        if values:
            print(f"\n{title} (n {len(values)})")
            print("\n".join(_histogram_lines(values, limits)))
    return 0


def _runs(args) -> list[dict]:
    if args.limit is not None and args.limit < 1:
        raise HistoryError(f"--limit {args.limit}: give a number of runs, 1 or more")
    path = paths.run_db()
    if not path.is_file():
        raise HistoryError(f"no run database at {path}: run a test first, or point PBGRADE_DATA at the data")
    return Store(path).runs(RunFilter(
        model=args.model, serial=args.serial, station=args.station, method=args.method, grade=args.grade,
        passed=args.passed, since=args.since and _utc(args.since, "--since"),
        before=args.until and _utc(args.until, "--until", end=True), limit=args.limit,
        latest_per_unit=args.latest_per_unit))


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
class PassLimits:
    """What a run must meet on one quantity to pass."""
    lower: float | None = None
    upper: float | None = None
    varies: bool = False  # a label sets the limit (a declared efficiency) and the runs' labels differ

    @property
    def marks(self) -> tuple[float, ...]:
        return () if self.varies else tuple(m for m in (self.lower, self.upper) if m is not None)

    def __str__(self):
        if self.varies:
            return "varies by label"
        if self.lower is not None and self.upper is not None:
            return f"{_percent(self.lower)} to {_percent(self.upper)}"
        if self.lower is not None:
            return f"≥ {_percent(self.lower)}"
        return "no limit" if self.upper is None else f"≤ {_percent(self.upper)}"


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


def _quantity_cells(title, values, limits: PassLimits) -> tuple[str, ...]:
    summary = summarize(values)
    if not summary.n:
        return title, "0", "-", "-", "-", "-", str(limits), "not measured"
    if limits.varies:
        capability = "filter by --model"
    elif not limits.marks:
        capability = "no limit"
    elif summary.n < 2:
        capability = "needs 2 runs"
    elif summary.stdev == 0:
        capability = "no spread"
    else:
        capability = f"{cpk(summary.mean, summary.stdev, limits.lower, limits.upper):.2f}"
    return (title, str(summary.n), _percent(summary.mean), _percent(summary.stdev, 2), _percent(summary.low),
            _percent(summary.high), str(limits), capability)


def _histogram_lines(values, limits: PassLimits) -> list[str]:
    """One line per bin with a bar of its count; a rule across at each limit (at the bin edge nearest it:
    exactly on it for the lower limit, on which the bins are laid)."""
    marks = limits.marks
    bins = histogram(values, marks)
    width = bins[0].high - bins[0].low
    decimals = max(0, -math.floor(round(math.log10(width * 100), 9)))  # enough to tell the edges apart
    edges = [(f"{b.low * 100:.{decimals}f}", f"{b.high * 100:.{decimals}f}") for b in bins]
    pad = max(len(text) for pair in edges for text in pair)
    most = max(b.count for b in bins)
    lines = [f"  {low:>{pad}} – {high:>{pad}} %  {_bar(b.count, most)}" for b, (low, high) in zip(bins, edges)]
    for mark in sorted(marks, reverse=True):  # from the top, so an insertion does not move the next place
        place = next((k for k, b in enumerate(bins) if b.low >= mark - width / 2), len(bins))
        lines.insert(place, f"  {'─' * (2 * pad + 5)} limit {_percent(mark)}")
    return lines


def _bar(count: int, most: int) -> str:
    """A bar scaled to the fullest bin, and the count; never an empty bar for a bin that holds a run."""
    return f"{BAR * max(1, round(count / most * BAR_WIDTH))} {count}" if count else ""


def _aligned(header, rows, right=frozenset()) -> list[str]:
    """Plain columns two spaces apart, the header first; columns in `right` (numbers) right-aligned."""
    widths = [max(len(row[k]) for row in (header, *rows)) for k in range(len(header))]
    return ["  ".join(cell.rjust(w) if k in right else cell.ljust(w) for k, (cell, w) in enumerate(zip(row, widths)))
            .rstrip() for row in (header, *rows)]
