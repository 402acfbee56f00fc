"""Two benchmark results side by side: each figure old -> new with the ratio
new / old, and the regressions: a figure worse by more than 10 %, or a goal
met before and missed now.

    python -m bench --compare OLD.json [NEW.json]   # NEW: what `python -m bench` last wrote
    python -m bench.compare OLD.json NEW.json

Better is higher or lower as the figure's goal says, else as its unit does
(samples/s higher; s, us, MB, B lower; errors in % the nearer 0, where a
change under ERROR_FLOOR percentage points is no regression). Speeds
compare across commits only when measured on the same machine under the
same load: the header shows where each file was measured. Exits 1 when
something regressed.
"""
import argparse
import json
import sys
from pathlib import Path

from .table import fmt, render

THRESHOLD = 0.10  # worse by more than this fraction of the old value: a regression
ERROR_FLOOR = 0.001  # percentage points (10 ppm): an error that grew by less is the same error
HIGHER_UNITS = {"samples/s"}
LOWER_UNITS = {"s", "us", "MB", "B"}
BY_KEY = {"ingest.ratio_vs_picowatt": "higher", "memory.long_to_short": "lower"}  # unit "x" says neither


def better(key, figure):
    """How a figure improves: "higher", "lower", "nearer0" (errors), ("exactly", limit), or None (unknown)."""
    goal = figure.get("goal")
    if goal:
        op, limit = goal
        return {">=": "higher", "<=": "lower", "|x| <=": "nearer0", "==": ("exactly", limit)}.get(op)
    if key in BY_KEY:
        return BY_KEY[key]
    unit = figure.get("unit")
    if unit in HIGHER_UNITS:
        return "higher"
    if unit in LOWER_UNITS:
        return "lower"
    if unit == "%":
        return "nearer0"
    return None


def worse_by(way, old, new):
    """How much worse new is than old, as a fraction of old (negative: better); None if it cannot say."""
    if isinstance(way, tuple):  # ("exactly", limit): the distance from the limit
        old, new = abs(old - way[1]), abs(new - way[1])
        if old == 0:
            return 0.0 if new == 0 else float("inf")
        return (new - old) / old
    if way == "nearer0":
        old, new = abs(old), abs(new)
    if way is None:
        return None
    if old == 0:
        return 0.0 if new == old else (float("inf") if (new > old) == (way != "higher") else float("-inf"))
    change = (new - old) / abs(old)
    return -change if way == "higher" else change


def compare(old, new, threshold=THRESHOLD):
    """One row per figure of either file: key, title, unit, old, new, ratio, mark, regression."""
    rows = []
    o, n = old["figures"], new["figures"]
    for key in list(n) + [k for k in o if k not in n]:
        a, b = o.get(key), n.get(key)
        f = b or a
        row = {"key": key, "title": f["title"], "unit": f["unit"], "old": a and a["value"], "new": b and b["value"],
               "ratio": None, "mark": "", "regression": False}
        rows.append(row)
        if a is None or b is None:
            row["mark"] = "new figure" if a is None else "gone"
            continue
        if row["old"] is None or row["new"] is None:
            row["mark"] = "not measured"
            continue
        if row["old"]:
            row["ratio"] = row["new"] / row["old"]
        way = better(key, b)
        worse = worse_by(way, row["old"], row["new"])
        if way == "nearer0" and abs(abs(row["new"]) - abs(row["old"])) < ERROR_FLOOR:
            worse = 0.0
        if a["met"] and b["met"] is False:
            row["mark"], row["regression"] = "REGRESSION: goal missed", True
        elif worse is not None and worse > threshold:
            row["mark"], row["regression"] = f"REGRESSION: {_pct(worse)} worse", True
        elif worse is not None and worse < -threshold:
            row["mark"] = f"{_pct(-worse)} better"
        if a["met"] is False and b["met"]:
            row["mark"] = (row["mark"] + ", " if row["mark"] else "") + "goal met now"
    return rows


def _pct(x):
    return "a lot" if x == float("inf") else f"{100 * x:.0f} %"


def where(result):
    m = result.get("machine", {})
    dirty = " with local changes" if m.get("git_dirty") else ""
    return (f"{m.get('git_commit', '?')[:12]}{dirty}, {m.get('date', '?')[:16]}, {result.get('mode', '?')} run, "
            f"{m.get('cpu', '?')} x {m.get('cores', '?')}")


def report(old, new, threshold=THRESHOLD):
    """The comparison as text, and the rows that regressed."""
    rows = compare(old, new, threshold)
    lines = [f"old: {where(old)}", f"new: {where(new)}"]
    if old.get("mode") != new.get("mode"):
        lines.append("note: a quick and a full run: their workloads differ, so do their figures")
    om, nm = old.get("machine", {}), new.get("machine", {})
    if (om.get("cpu"), om.get("cores")) != (nm.get("cpu"), nm.get("cores")):
        lines.append("note: measured on different machines: speeds do not compare")
    table = [("figure", "old", "new", "new/old", "")]
    table += [(r["title"], fmt(r["old"], missing="-"), fmt(r["new"], missing="-"),
               "-" if r["ratio"] is None else f"{r['ratio']:.3f}", r["mark"]) for r in rows]
    lines.append("")
    lines.append(render(table, False, {1, 2, 3}))
    bad = [r for r in rows if r["regression"]]
    lines.append("")
    lines.append(f"{len(bad)} regression(s) over {100 * threshold:.0f} %: " + ", ".join(r["key"] for r in bad)
                 if bad else f"no regression over {100 * threshold:.0f} %")
    return "\n".join(lines), bad


def load(path):
    return json.loads(Path(path).read_text())


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.splitlines()[0])
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    args = p.parse_args(argv)
    return run(args.old, args.new)


def run(old_path, new_path):
    text, bad = report(load(old_path), load(new_path))
    print(text)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
