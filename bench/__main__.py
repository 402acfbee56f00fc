"""pbgrade's benchmarks: speed, memory and accuracy of the whole chain, against their goals.

    python -m bench            # full: bench/results/latest.json and bench/RESULTS.md (`make bench`)
    python -m bench --quick    # the same figures on small workloads, in under a minute (`make bench-quick`)
    python -m bench --only simulator   # some groups only: printed, and written only to --out
    python -m bench --profile ingest   # one group under pyinstrument, to see where its time goes
    python -m bench --compare OLD.json [NEW.json]   # figures old -> new, regressions flagged (bench/compare.py)

Every figure is measured in this run; speeds are comparable as ratios within
one run, not across machines.
"""
import argparse
import json
import math
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from pbgrade.paths import ROOT
from pbgrade.simrig import micropython_exe

from . import accuracy, compare, firmware, ingest, link, panel, simulator
from .sim import describe
from .table import fmt, render

HERE = Path(__file__).resolve().parent
RESULTS_MD = HERE / "RESULTS.md"
HISTORY = "<!-- history: kept as written when this file is regenerated -->"


def hours(h):
    return f"{h:g} h" if h >= 1 else f"{h * 60:g} min"


class Workload:
    """What each benchmark runs: full size, or small enough for CI."""

    def __init__(self, quick):
        self.quick = quick
        self.ingest_hours = 1 / 6 if quick else 3
        self.accuracy_mah = 400 if quick else 2000  # honest-10000's cell: a 7- or 37-minute discharge
        self.unit = ("honest-10000", 200) if quick else ("pd-20000", None)  # the sampling loop, the simulator
        self.rates = (1000, firmware.SENSOR_MAX_HZ) if quick else (100, 200, 500, 1000, 2000, 3000,
                                                                  firmware.SENSOR_MAX_HZ)
        self.rate_seconds = 0.5 if quick else 2.0
        self.memory_hours = (0.05, 0.25) if quick else (1, 8)
        self.link_sweep = (1, ("discharge",)) if quick else (20, link.METHODS)  # seeds, methods
        self.panel_shift_h = 8.0  # a factory shift, in virtual hours of 12 channels flat out: ~25 min here (full only)

    def unit_name(self):
        return describe(*self.unit)

    def groups(self):
        """name -> (run it: (figures, details), {figure: (title, unit, goal)}); goal: (op, limit) or None."""
        short, long = map(hours, self.memory_hours)
        return {
            "ingest": (lambda: ingest.run(self.ingest_hours), {
                "samples_per_s": (f"host ingest, frames -> energy, 1 core ({hours(self.ingest_hours)} at 1 kHz)",
                                  "samples/s", (">=", 2e6)),
                "bytes_per_sample": ("bytes per sample on the wire, pbgrade", "B", None),
                "journal_samples_per_s": ("journal: written and hashed for its manifest, 256-byte reads",
                                          "samples/s", (">=", 1e5)),
                "journal_checkpoint_ms": ("journal checkpoint (fsync + manifest), every 5 s of a run", "ms", None),
                "picowatt_samples_per_s": ("picowatt decoder, as many of its frames", "samples/s", None),
                "ratio_vs_picowatt": ("pbgrade ingest / picowatt decode, per sample", "x", None),
                "picowatt_bytes_per_sample": ("bytes per sample on the wire, picowatt", "B", None)}),
            "accuracy": (lambda: accuracy.run(self.accuracy_mah, accuracy.cuts(self.quick)),
                         accuracy.rows(self.quick)),
            "firmware": (lambda: firmware.run(*self.unit, self.rates, self.rate_seconds), {
                "loop_us_per_sample": (f"sampling loop + simulated chip, {self.unit_name()} at 10/s", "us", None),
                "heap_bytes_per_sample": ("firmware heap allocated per sample, 192 KB heap", "B", ("==", 0)),
                "max_rate_hz": ("largest rate sustained over the pty, no loss", "samples/s", None),
                "pty_samples_per_s": ("simulated rig flat out over the pty", "samples/s", None)}),
            "simulator": (lambda: simulator.wall_time(*self.unit), {
                "wall_s": (f"simulated full discharge, {self.unit_name()} at 10/s", "s",
                           None if self.quick else ("<=", 10))}),
            "channels": (lambda: simulator.channels(*self.unit), {
                "wall_s_one": (f"simulated discharge, {self.unit_name()}, one channel of 3", "s", None),
                "wall_s_three": ("three at once on the three channels of one board", "s", None),
                "three_to_one": ("three channels at once / one alone (3 = no gain from testing together)", "x",
                                 None),
                "heap_kb_8": ("firmware heap for 8 channels (an RP2040 has ~190 KB)", "KB", ("<=", 130))}),
            "memory": (lambda: simulator.memory(self.memory_hours), {
                "peak_rss_short_mb": (f"host peak RSS, {short} at 100/s", "MB", None),
                "peak_rss_long_mb": (f"host peak RSS, {long} at 100/s", "MB", None),
                "long_to_short": (f"host peak RSS, {long} / {short} (flat)", "x", ("<=", 1.05))}),
            "link": (lambda: link.run(*self.link_sweep), link.rows(*self.link_sweep)),
            **({} if self.quick else {"panel": (lambda: panel.run(self.panel_shift_h, speed=0),
                                                panel.rows(self.panel_shift_h))}),
        }


def met(value, goal):
    if goal is None or value is None:
        return None
    op, limit = goal
    return {">=": value >= limit, "<=": value <= limit, "==": value == limit, "|x| <=": abs(value) <= limit}[op]


def figures_of(group, measured, rows):
    """The group's figures as the JSON keeps them: value, unit, goal and whether it is met."""
    out = {}
    for key, (title, unit, goal) in rows.items():
        value = measured[key]
        entry = {"title": title, "unit": unit, "goal": goal}
        if isinstance(value, dict):  # not measured: the reason says why
            entry.update(value=None, met=None, **value)
        else:
            entry.update(value=value, met=met(value, goal))
        out[f"{group}.{key}"] = entry
    return out


def machine():
    def run(*cmd):
        return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False).stdout.strip()

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 2**20, 1),
            "os": platform.platform(), "python": platform.python_version(), "numpy": np.__version__,
            "micropython": run(micropython_exe(), "-c", "import sys; print('%d.%d.%d' % sys.implementation.version[:3],"
                                                   " '(' + sys.version.split('; ')[1] + ')')"),
            "git_commit": run("git", "rev-parse", "HEAD"), "git_dirty": bool(run("git", "status", "--porcelain")),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def mark(entry):
    return {True: "ok", False: "MISSED", None: ""}[entry["met"]]


def tables(figures, markdown=False):
    """The figures with their goals; the accuracy ones as one row per rate."""
    main = [("figure", "value", "unit", "goal", "")]
    for key, f in figures.items():
        if not key.startswith("accuracy."):
            goal = f"{f['goal'][0]} {fmt(f['goal'][1])}" if f["goal"] else "-"
            main.append((f["title"], fmt(f["value"]), f["unit"], goal, mark(f)))
    if not any(key.startswith("accuracy.") for key in figures):  # a run of some groups only
        return render(main, markdown, {1})
    columns = [(f"{q}: {method}", f"{method}.{q}_error_pct") for q in ("energy", "charge")
               for method in accuracy.METHODS] + [("rectangle - pbgrade, exact", "rectangle_excess_pct")]
    rows, goals = [("rate/s", *(title for title, _ in columns))], set()
    for rate in accuracy.RATES_HZ:
        cells = []
        for title, key in columns:
            f = figures[f"accuracy.{rate}hz.{key}"]
            cells.append(f"{f['value']:{'+' if key.endswith('excess_pct') else ''}.4f} {mark(f)}".rstrip())
            if f["goal"]:
                goals.add(f"{title} at {rate}/s {f['goal'][0]} {fmt(f['goal'][1])}")
        rows.append((str(rate), *cells))
    caption = (f"mean |error| over the unit's cut-off positions in a period, against the simulator's exact truth, "
               f"%; goal: {', '.join(sorted(goals))}")
    return (render(main, markdown, {1}) + "\n\n" + caption + "\n\n"
            + render(rows, markdown, set(range(len(rows[0])))))


def results_md(result):
    """bench/RESULTS.md from the results, keeping its history section as written."""
    m = result["machine"]
    old = RESULTS_MD.read_text() if RESULTS_MD.exists() else ""
    history = old[old.index(HISTORY):] if HISTORY in old else HISTORY + "\n"
    d = result["details"]
    return f"""# Benchmark results

Measured by `make bench` on {m['date'][:10]} at commit `{m['git_commit'][:12]}`{' with local changes' if m['git_dirty'] else ''}:
{m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, {m['os']}; Python {m['python']}, numpy {m['numpy']},
MicroPython {m['micropython']}. The same figures, and more detail, are in
[results/latest.json](results/latest.json).

{tables(result['figures'], markdown=True)}

What the figures measure (bench/*.py say how):

- **Host ingest**: a {hours(d['ingest']['stream_hours'])} discharge at 1 kHz as the firmware frames it,
  replayed from memory through `wire.Deframer` and `Evaluation.feed` (COBS, CRC, samples,
  calibration, integration, voltage statistics) with the process pinned to one core. picowatt
  {d['ingest']['picowatt'].get('version', '')} (PyPI: a Pico 2 + INA228 meter) decodes as many of its own
  frames (20 records each, as its firmware sends them), built by its own encoder, with its own
  `Decoder` and `parse_data_frame`.
- **Accuracy**: {d['accuracy']['unit']} discharged at its rated current on the simulated INA226
  (seeded gain and offset errors, quantization, noise; each rate with the quietest averaging that
  fits its period) until it switches off, against the simulator's exact charge and energy.
  *pbgrade*: the host's integral over the readings, from the load's switch-on (protocol 4's edge
  samples); *rectangle*: each reading times the time since the previous one, the first since the
  load switched on (what hobby scripts do); *integration* and *integration_rectangle*: the same two
  over the exact values the chip was given, i.e. what sampling and summing add without the sensor.
  Each figure is the mean |error| over {d['accuracy']['cut_positions']} places in its last period where the unit
  switches off (one run's error depends on it: bench/accuracy.py says how); the simulated world is
  stepped every 10 ms between readings, so its truth is the same at every rate. *rectangle - pbgrade,
  exact*: how much larger the rectangle's mean error is than pbgrade's way of summing, on the exact
  values (the chip's own errors, common to both, left out): issue 18's "no worse than the rectangle".
- **Firmware**: `bench/mp_loop.py` runs the station's `tick` under `micropython -X heapsize=192k`, the firmware and the simulated board loaded as .mpy (as deploy puts them on a board)
  for a whole discharge on the simulated board; the heap is metered per 16 ticks with the
  simulated bus's own allocations (the chip model computes in floats) counted apart. The largest
  rate: the simulated rig at `--speed 1` on a pty to the host, for rates up to the INA226's own
  limit ({d['firmware']['sensor_max_hz']}/s), sustained when no sample is lost and it keeps pace with real
  time; flat out: the same at the top rate in virtual time.
- **Simulator** and **memory**: `pbgrade run`'s path (`run_test` on `SimRig`, journal on disk) in a
  child process, wall time from starting the rig to the record; peak RSS of that host process.
- **Link**: {d['link']['unit']} graded through `fault://` ({d['link']['faults']}, and the same at 0.3 %)
  for {d['link']['seeds']} seeds by each method: a seed is exact when its energy equals the clean run's
  bit for bit and no sample was lost (bench/link.py).
- **Panel** (`make bench` only): {d['panel']['channels']} simulated channels test {d['panel']['units']} eol
  units ({d['panel']['shift_h']:g} h of shift, {d['panel']['virtual_test_s_per_channel'] / 3600:.2f} h of test
  time per channel) flat out into a central PostgreSQL, the operator's panel served and read by an SSE client
  as a browser reads it; latency is from the host holding a tile's newest sample to the client parsing that
  tile (bench/panel.py).

{history}"""


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small workloads, for CI (under a minute)")
    p.add_argument("--out", type=Path, help="JSON results (default: bench/results/latest.json, or quick.json)")
    p.add_argument("--profile", metavar="GROUP", help="run one group under pyinstrument and print where time goes")
    p.add_argument("--only", metavar="GROUP", action="append",
                   help="run this group only (repeatable); the results go to --out if given, else only to the screen")
    p.add_argument("--compare", metavar="JSON", nargs="+", type=Path,
                   help="OLD [NEW]: compare two results files (NEW: what this command last wrote); runs nothing")
    args = p.parse_args(argv)
    default_out = HERE / "results" / ("quick.json" if args.quick else "latest.json")
    if args.compare:
        if len(args.compare) > 2:
            p.error("--compare takes OLD and at most one NEW")
        return compare.run(args.compare[0], args.compare[1] if len(args.compare) == 2 else args.out or default_out)
    groups = Workload(args.quick).groups()
    for name in [args.profile] if args.profile else args.only or ():
        if name not in groups:
            p.error(f"no group {name!r}: {', '.join(groups)}")
    if args.only:
        groups = {name: group for name, group in groups.items() if name in args.only}
    if args.profile:
        from pyinstrument import Profiler

        with Profiler() as profiler:
            groups[args.profile][0]()
        profiler.print()
        return 0
    result = {"mode": "quick" if args.quick else "full", "machine": machine(), "figures": {}, "details": {}}
    for name, (measure, rows) in groups.items():
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        measured, result["details"][name] = measure()
        result["figures"].update(figures_of(name, measured, rows))
    bad = [k for k, f in result["figures"].items() if f["value"] is not None and not math.isfinite(f["value"])]
    if bad:
        raise SystemExit(f"bench: not finite: {', '.join(bad)}")
    out = args.out or (None if args.only else default_out)  # a partial run leaves the full results alone
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n")
    if not args.quick and not args.only:
        RESULTS_MD.write_text(results_md(result))
    print(tables(result["figures"]))
    missed = [f["title"] for f in result["figures"].values() if f["met"] is False]
    print(f"\n{(out.relative_to(ROOT) if out.is_relative_to(ROOT) else out) if out else 'not written'}: "
          + (f"{len(missed)} goal(s) missed" if missed else "every goal met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
