"""The agreement study: how often the quick check's verdict agrees with the full method's, on a population of
simulated units drawn with realistic spreads (`pbgrade agreement`), or on stored pairs of quick and full runs of
the same serial (`--from-db`). A fast test is worth what its agreement with the lab test is worth.

Each simulated unit runs both methods through the same code a real run takes (the simulated rig, the
firmware under micropython, `pbgrade run`), several units at a time. The quick verdict is counted positive
when it flags the unit (NOT CONSISTENT or NEEDS A FULL TEST), the full verdict when it FAILs. Intervals are
Wilson score intervals at 95 % (they stay inside 0-1 and behave at counts near 0 or n, unlike Wald's)."""
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from . import paths
from .i18n import _
from .simdut import load_dut
from .store import RunFilter, Store

Z95 = 1.959964
QUICK = ("CONSISTENT", "NEEDS A FULL TEST", "NOT CONSISTENT")
FULL = ("PASS", "FAIL")
QUICK_LIMIT_S = 180  # the quick check's test time, at most
BASE = "honest-10000"  # every drawn unit is this model with its spreads applied
# cell capacities on the labels drawn: pocket units (their full discharge is short in virtual time too)
LABEL_CELLS_MAH = (2600, 3350, 5000)
KINDS = {  # kind -> share of the population; "low efficiency": an honest label on a converter under GB/T's 80 %
    "honest": 0.32, "low efficiency": 0.08, "under-capacity": 0.30, "under-capacity, ballast": 0.08,
    "sagging output": 0.08, "weak protection": 0.07, "intermittent contact": 0.07}
PEAKS = (0.84, 0.88, 0.92)  # converters' peak efficiency; a low-efficiency unit's is drawn from 0.70-0.78
CELL_V = 3.7  # the drawn labels' nominal cell voltage
SHORTFALLS = (0.85, 0.75, 0.6, 0.5, 0.33, 0.25)  # cell capacity inside / on the label, under-capacity units


class AgreementError(ValueError):
    """A study that cannot run or a database without pairs; the message says what to do."""


def wilson(k, n):
    """The 95 % Wilson score interval of a proportion k/n; (None, None) for n = 0."""
    if n == 0:
        return None, None
    p = k / n
    centre = (p + Z95 ** 2 / (2 * n)) / (1 + Z95 ** 2 / n)
    half = Z95 / (1 + Z95 ** 2 / n) * math.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def draw_population(n, seed):
    """n units: (serial, kind, model, label, mass_g, truth). Honest cells: 200-265 Wh/kg (an older 18650 to a
    current 21700, profiles/quick.toml), 65-80 % of the unit's mass, so honest units carry 130-212 Wh/kg of
    label energy per kg, as sold ones do (docs/agreement.md: 156-209); converters of several efficiencies."""
    rng = np.random.default_rng(seed)
    base = load_dut(BASE)["model"]
    kinds = rng.choice(list(KINDS), size=n, p=list(KINDS.values()))
    return [_unit(rng, base, number, str(kind)) for number, kind in enumerate(kinds, 1)]


def _unit(rng, base, number, kind):
    model = {section: dict(fields) for section, fields in base.items()}
    label_mah = float(rng.choice(LABEL_CELLS_MAH))
    share = 1.0 if not kind.startswith("under-capacity") else float(rng.choice(SHORTFALLS))
    share *= rng.uniform(1.0, 1.06)  # cells hold at least their nominal capacity (their datasheets' minimum)
    peak = float(rng.uniform(0.70, 0.78) if kind == "low efficiency" else rng.choice(PEAKS))
    model["converter"]["efficiency"] = [[w, round(e * peak / 0.90, 3)] for w, e in base["converter"]["efficiency"]]
    model["cell"]["capacity_mah"] = round(label_mah * share)
    # the pack's resistance, protection FETs included: 40 mOhm for a 10 Ah pack, more for fewer cells in parallel
    model["cell"]["internal_r_ohm"] = round(0.04 * math.sqrt(10000 / max(model["cell"]["capacity_mah"], 500)), 3)
    if kind == "sagging output":
        model["output"]["droop_ohm"] = round(float(rng.uniform(0.15, 0.3)), 3)
    if kind == "weak protection":
        model["protection"]["ocp_a"] = round(float(rng.uniform(1.6, 2.0)), 2)
    if kind == "intermittent contact":
        model["contact"] = {"dropout_every_s": round(float(rng.uniform(300, 900))),
                            "dropout_s": round(float(rng.uniform(0.2, 0.5)), 2)}
    density, mass_share = rng.uniform(200, 265), rng.uniform(0.65, 0.80)
    cells_wh = label_mah * CELL_V / 1000 * (1.0 if kind.endswith("ballast") else min(share, 1.0))
    mass = round(cells_wh / density * 1000 / mass_share)
    # the maker's rated output capacity at 5 V for its own converter: a unit delivers about 0.97 x its peak
    # efficiency of its cell energy at the rated current (honest-10000: 32.36 of 37 Wh at 0.90), rated with
    # about 7 % margin (0.9 x peak) and rounded down to 100 mAh, as honest makers do
    rated = math.floor(label_mah * CELL_V * peak * 0.9 / 5 / 100) * 100
    label = {"model": f"STUDY-{kind.upper().replace(' ', '-').replace(',', '')}", "manufacturer": "pbgrade study",
             "serial": f"STUDY-{number:04d}", "cell_capacity_mah": label_mah, "cell_voltage_v": CELL_V,
             "rated_capacity_mah": rated, "rated_output_v": 5.0, "rated_output_a": 2.1}
    return {"serial": label["serial"], "kind": kind, "model": model, "label": label, "mass_g": mass,
            "truth": {"capacity_share": round(share, 3), "ballast": kind.endswith("ballast"),
                      "peak_efficiency": peak}}


def _toml(tables):
    """A model or label as TOML: sections of numbers, strings and lists of pairs."""
    lines = []
    for section, fields in tables.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in fields.items()]
    return "\n".join(lines) + "\n"


def _written(unit, folder):
    """A drawn unit's model and label files, for `pbgrade run`."""
    stem = folder / unit["serial"]
    model, label = stem.with_suffix(".toml"), stem.with_suffix(".label.toml")
    model.write_text(_toml({"dut": {"kind": "model"}, **unit["model"]}))
    label.write_text(_toml({"label": unit["label"]}))
    return model, label


def _run(unit, files, method, folder, data):
    """One method on one drawn unit (files: _written's) through `pbgrade run`, the quick one with the unit's
    mass typed; its record."""
    model, label = files
    out = folder / f"{unit['serial']}-{method}.json"
    weighed = ["--mass-g", unit["mass_g"]] if method == "quick" else []
    args = ["run", "--rig", "sim", "--sim-dut", model, "--label", label, "--method", method, "--json", out, *weighed]
    proc = subprocess.run([sys.executable, "-m", "pbgrade.cli", *map(str, args)], capture_output=True, text=True,
                          env=dict(os.environ, PBGRADE_DATA=str(data)))
    if not out.exists():
        raise AgreementError(f"{unit['serial']} ({method}) did not run: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.read_text())


def simulate(units, jobs):
    """Every unit's quick and full verdict, several units at a time (each run its own simulated rig)."""
    with tempfile.TemporaryDirectory(prefix="pbgrade-agreement-") as work:
        folder, data = Path(work), Path(work) / "data"

        def both(unit):
            files = _written(unit, folder)
            quick, full = (_run(unit, files, method, folder, data) for method in ("quick", "full"))
            return {"serial": unit["serial"], "kind": unit["kind"], "truth": unit["truth"], "mass_g": unit["mass_g"],
                    "label_wh_per_kg": round(unit["label"]["cell_capacity_mah"] * CELL_V / unit["mass_g"], 1),
                    "quick": quick["grade"], "quick_decided_by": quick["verdict"]["decided_by"],
                    "quick_test_s": quick["integrity"]["span_s"], "full": full["grade"],
                    "full_decided_by": full["verdict"]["decided_by"]}

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            return list(pool.map(both, units))


def pairs_from_db(store):
    """The latest quick and the latest full run of every serial that has both, from a run database."""
    latest = {}
    for run in store.runs(RunFilter()):
        if run["serial"] and run["method"] in ("quick", "full"):
            latest.setdefault(run["serial"], {})[run["method"]] = run
    return [{"serial": serial, "kind": None, "truth": None, "quick": runs["quick"]["grade"],
             "full": runs["full"]["grade"]}
            for serial, runs in sorted(latest.items()) if {"quick", "full"} <= set(runs)
            and runs["quick"]["grade"] in QUICK and runs["full"]["grade"] in FULL]


def analyse(pairs):
    """The confusion matrix of quick against full, sensitivity and specificity with their Wilson intervals,
    and, where the truth of each unit is known (simulated), the study's goals."""
    matrix = {full: {quick: sum(p["full"] == full and p["quick"] == quick for p in pairs) for quick in QUICK}
              for full in FULL}
    failed, passed = sum(matrix["FAIL"].values()), sum(matrix["PASS"].values())
    flagged_fail = failed - matrix["FAIL"]["CONSISTENT"]
    result = {"units": len(pairs), "matrix": matrix, "interval": "Wilson score, 95 %",
              "sensitivity": _share(flagged_fail, failed), "specificity": _share(matrix["PASS"]["CONSISTENT"], passed)}
    if pairs and all(p["truth"] for p in pairs):
        result["goals"] = _goals(pairs)
        result["kinds"] = {kind: {"units": len(group), "full_fail": sum(p["full"] == "FAIL" for p in group),
                                  "quick_flagged": sum(p["quick"] != "CONSISTENT" for p in group)}
                           for kind in KINDS if (group := [p for p in pairs if p["kind"] == kind])}
    return result


def _share(k, n):
    low, high = wilson(k, n)
    return {"k": k, "n": n, "value": k / n if n else None, "low": low, "high": high}


def _goals(pairs):
    short = [p for p in pairs if p["truth"]["capacity_share"] < 0.8 and not p["truth"]["ballast"]]
    honest = [p for p in pairs if p["kind"] == "honest"]
    missed = [p["serial"] for p in short if p["quick"] == "CONSISTENT"]
    flagged = sum(p["quick"] != "CONSISTENT" for p in honest)
    longest = max(p["quick_test_s"] for p in pairs)
    return {"short_over_20_percent_flagged": {"units": len(short), "missed": missed, "met": not missed},
            "honest_flagged": {**_share(flagged, len(honest)), "met": flagged <= 0.05 * len(honest)},
            "quick_test_s_max": {"seconds": longest, "met": longest <= QUICK_LIMIT_S}}


def markdown(result, how):
    """The report: the matrix, sensitivity, specificity and the goals, with how it was made."""
    def share(s):
        if s["value"] is None:
            return "n/a (no units)"
        return f"{s['value']:.1%} ({s['k']}/{s['n']}; 95 % Wilson {s['low']:.1%} to {s['high']:.1%})"
    lines = ["# Agreement of the quick check with the full method", "", how, "",
             "| full \\ quick | " + " | ".join(QUICK) + " |", "|---|" + "---|" * len(QUICK)]
    lines += [f"| {full} | " + " | ".join(str(result["matrix"][full][q]) for q in QUICK) + " |" for full in FULL]
    lines += ["", f"- units: {result['units']}",
              f"- sensitivity (a unit the full method fails is flagged by the quick check): {share(result['sensitivity'])}",
              f"- specificity (a unit the full method passes is CONSISTENT): {share(result['specificity'])}"]
    goals = result.get("goals")
    if goals:
        short, honest, time_ = (goals[k] for k in ("short_over_20_percent_flagged", "honest_flagged",
                                                   "quick_test_s_max"))
        lines += ["", "## Goals", "",
                  f"- every unit short of its label by more than 20 % and without ballast flagged: "
                  f"{'met' if short['met'] else 'NOT met'} ({short['units']} units, missed: "
                  f"{', '.join(short['missed']) or 'none'})",
                  f"- at most 5 % of honest units flagged: {'met' if honest['met'] else 'NOT met'}, {share(honest)}",
                  f"- the quick check within {QUICK_LIMIT_S} s of test time: {'met' if time_['met'] else 'NOT met'} "
                  f"(longest {time_['seconds']:.0f} s)",
                  "", "## By kind of unit", "", "| kind | units | full method FAIL | quick check flags |", "|---|--:|--:|--:|"]
        lines += [f"| {kind} | {k['units']} | {k['full_fail']} | {k['quick_flagged']} |"
                  for kind, k in result["kinds"].items()]
    return "\n".join(lines) + "\n"


def add_commands(sub):
    p = sub.add_parser("agreement", help="how often the quick check agrees with the full method (simulated units, "
                                         "or stored pairs with --from-db)")
    p.add_argument("--units", type=int, default=300, help="simulated units to draw (default: 300)")
    p.add_argument("--seed", type=int, default=20, help="the population's seed (default: 20)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="units tested at a time (default: cores)")
    p.add_argument("--from-db", action="store_true",
                   help="analyse the run database's pairs of quick and full runs of the same serial instead")
    p.add_argument("--out", type=Path, help="write the report to OUT.md and OUT.json")
    p.set_defaults(func=cmd_agreement)


def cmd_agreement(args):
    if args.from_db:
        pairs = pairs_from_db(Store(paths.run_db()))
        if not pairs:
            raise AgreementError(_("the run database has no serial with both a quick and a full run: test units "
                                   "with both methods (`pbgrade run --serial SN --method quick`, then full)"))
        how = f"{len(pairs)} serials with a quick and a full run in {paths.run_db()} (the latest of each)."
    else:
        if not 1 <= args.units <= 100_000 or not 1 <= args.jobs <= 64:
            raise AgreementError(_("--units takes 1 to 100000 units and --jobs 1 to 64: e.g. --units 300 --jobs 2"))
        units = draw_population(args.units, args.seed)
        started = time.monotonic()
        pairs = simulate(units, args.jobs)
        how = (f"{args.units} simulated units drawn with seed {args.seed} (`pbgrade agreement --units {args.units} "
               f"--seed {args.seed} --jobs {args.jobs}`), each tested with the quick method (its mass typed) and the "
               f"full method, {args.jobs} at a time: {time.monotonic() - started:.0f} s of wall time.")
    result = analyse(pairs)
    report = markdown(result, how)
    if args.out:
        args.out.with_suffix(".md").write_text(report)
        args.out.with_suffix(".json").write_text(json.dumps({**result, "pairs": pairs}, indent=1))
    print(report, end="")
    return 0
