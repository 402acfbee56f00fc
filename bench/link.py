"""A lossy link that loses no sample: honest-10000 graded through fault:// (drop, corrupt and dup each
at RATE per byte, both directions) for every seed of a sweep, by the full and the discharge method,
against the same unit over a clean link. A seed is exact when its energy equals the clean run's to the
last bit and it lost no sample (issue 21's "done when"); the figures count them. At 1 % each way (issue
18's goal; a run there takes minutes) the first NOISY_SEEDS seeds; at 10 % each way, beyond what the link
survives, one seed must end in the one "link too noisy" line.

    python -m bench --only link [--quick]   # quick: one seed, the discharge method only
"""
import tempfile
import time
from pathlib import Path

from pbgrade.faults import each_way
from pbgrade.label import load_label
from pbgrade.link import RigError
from pbgrade.method import load_method
from pbgrade.paths import DUTS
from pbgrade.profile import load_profile
from pbgrade.rig import load_rig
from pbgrade.runner import Options, run_test
from pbgrade.simdut import load_dut
from pbgrade.simrig import SimRig

UNIT = "honest-10000"
RATES = (1e-3, 3e-3)
NOISY, NOISY_SEEDS = 1e-2, 3
BEYOND = 1e-1
TOO_NOISY = "link too noisy on "
METHODS = ("full", "discharge")


def graded(method_name, query=None):
    """One run of UNIT, clean (query None) or through fault://PORT?query: what the sweep compares."""
    label = DUTS / f"{UNIT}.label.toml"
    method = load_method(method_name)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        started = time.monotonic()
        with SimRig(load_rig("sim"), load_dut(UNIT), work / "sim", work / "flash") as sim:
            port = sim.port if query is None else f"fault://{sim.port}?{query}"
            try:
                record = run_test(port, load_label(label), label, method, load_profile(method.profile), sim.rig,
                                  Options(), work / "data")
            except RigError as e:
                return {"error": str(e), "wall_s": time.monotonic() - started}
        return {"energy_wh": record["energy_wh"], "samples_lost": record["samples_lost"],
                "frames_corrupt": record["integrity"]["decoder"]["frames_corrupt"], "grade": record["grade"],
                "wall_s": time.monotonic() - started}


def sweeps(seeds):
    """(rate, seeds) of each sweep: every seed at RATES, the first NOISY_SEEDS at NOISY; a quick sweep (fewer
    seeds than that) leaves NOISY out, and BEYOND with it (see beyond): a run at 1 % takes minutes."""
    return [(rate, seeds) for rate in RATES] + ([(NOISY, NOISY_SEEDS)] if beyond(seeds) else [])


def beyond(seeds):
    return seeds >= NOISY_SEEDS


def run(seeds, methods=METHODS):
    """(figures, details): per method and rate, the seeds that gave the clean energy exactly with 0 lost."""
    figures, details = {}, {"unit": UNIT, "seeds": seeds, "faults": each_way(RATES[0], 1), "runs": {}}
    for method in methods:
        clean = graded(method)
        details["runs"][f"{method}.clean"] = clean
        figures[f"{method}.clean_wall_s"] = clean["wall_s"]
        for rate, rate_seeds in sweeps(seeds):
            runs = [{"seed": seed, **graded(method, each_way(rate, seed))} for seed in range(1, rate_seeds + 1)]
            details["runs"][f"{method}.{rate:g}"] = runs
            key = f"{method}.{rate:g}"
            figures[f"{key}.exact_seeds"] = sum(r.get("energy_wh") == clean["energy_wh"] and r["samples_lost"] == 0
                                                for r in runs)
            figures[f"{key}.samples_lost_max"] = max(r.get("samples_lost", 0) for r in runs)
            figures[f"{key}.failed_runs"] = sum("error" in r for r in runs)
            figures[f"{key}.wall_s_mean"] = sum(r["wall_s"] for r in runs) / len(runs)
        if beyond(seeds):
            too_noisy = {"seed": 1, **graded(method, each_way(BEYOND, 1))}
            details["runs"][f"{method}.{BEYOND:g}"] = [too_noisy]
            figures[f"{method}.{BEYOND:g}.too_noisy"] = int(too_noisy.get("error", "").startswith(TOO_NOISY))
            figures[f"{method}.{BEYOND:g}.wall_s"] = too_noisy["wall_s"]
    return figures, details


def rows(seeds, methods=METHODS):
    """The group's figures with their titles and goals (bench/__main__.py)."""
    out = {}
    for method in methods:
        out[f"{method}.clean_wall_s"] = (f"{UNIT} by {method}, clean link: wall time", "s", None)
        for rate, rate_seeds in sweeps(seeds):
            key, at = f"{method}.{rate:g}", f"{rate * 100:g} % per byte each way, {method}"
            out[f"{key}.exact_seeds"] = (f"seeds of {rate_seeds} with the clean energy exactly, 0 lost, {at}", "",
                                         ("==", rate_seeds))
            out[f"{key}.samples_lost_max"] = (f"most samples lost in one seed, {at}", "", ("==", 0))
            out[f"{key}.failed_runs"] = (f"runs that ended in an error, {at}", "", ("==", 0))
            out[f"{key}.wall_s_mean"] = (f"mean wall time of a run, {at}", "s", None)
        if not beyond(seeds):
            continue
        at = f"{BEYOND * 100:g} % per byte each way, {method}"
        out[f"{method}.{BEYOND:g}.too_noisy"] = (f"ended in the one 'link too noisy' line (1 yes, 0 no), {at}", "",
                                                 ("==", 1))
        out[f"{method}.{BEYOND:g}.wall_s"] = (f"wall time to that line, {at}", "s", None)
    return out
