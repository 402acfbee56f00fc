"""Whole graded runs on the simulated rig (`pbgrade run`'s path: firmware under
micropython on a pty, host runner, journal): the wall time of a full 20000 mAh
discharge, and the host's peak memory over a short and a long run.

Each run is a child process, `python -m bench.simulator SPEC`, so its peak
RSS is that run's host alone (VmHWM: ru_maxrss would carry the parent's peak
across exec).
"""
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pbgrade.label import load_label
from pbgrade.method import load_method
from pbgrade.paths import ROOT
from pbgrade.profile import load_profile
from pbgrade.rig import load_rig
from pbgrade.runner import Options, run_test
from pbgrade.simrig import SimRig

from .sim import UNIT, curve, describe, label_path, rig_for, unit


def graded_run(rig, dut, name, rate_hz):
    """One discharge, graded, in a child process, with the label of catalogue unit `name`: its figures."""
    spec = {"rig": rig, "dut": dut, "label": str(label_path(name)), "rate_hz": rate_hz}
    proc = subprocess.run([sys.executable, "-m", "bench.simulator", json.dumps(spec)], capture_output=True,
                          text=True, cwd=ROOT, check=False)
    if proc.returncode:
        raise RuntimeError(f"simulated run failed: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def wall_time(name, capacity_mah):
    run = graded_run(load_rig("sim"), unit(name, capacity_mah), name, 10)
    details = {"unit": describe(name, capacity_mah), **run}
    return {"wall_s": run["wall_s"]}, details


def memory(hours, rate_hz=100):
    """Peak host RSS of runs of hours[0] and hours[1] at rate_hz."""
    short, long = (graded_run(rig_for(rate_hz), curve(h), UNIT, rate_hz) for h in hours)
    figures = {"peak_rss_short_mb": short["peak_rss_mb"], "peak_rss_long_mb": long["peak_rss_mb"],
               "long_to_short": long["peak_rss_mb"] / short["peak_rss_mb"]}
    return figures, {"hours": hours, "rate_hz": rate_hz, "short": short, "long": long}


def peak_rss_mb():
    """This process's peak resident set size so far."""
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024


def _child(spec):
    label = load_label(spec["label"])
    method = load_method("discharge")
    with tempfile.TemporaryDirectory(prefix="pbgrade-bench-") as work:
        before = peak_rss_mb()
        start = time.perf_counter()
        with SimRig(spec["rig"], spec["dut"], Path(work) / "sim", Path(work) / "flash") as sim:
            record = run_test(sim.port, label, spec["label"], method, load_profile(method.profile), spec["rig"],
                              Options(rate_hz=spec["rate_hz"]), Path(work) / "data")
        wall = time.perf_counter() - start
    host, device = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return {"wall_s": wall, "samples": record["samples_received"], "samples_lost": record["samples_lost"],
            "duration_s": record["duration_s"], "capacity_mah": record["capacity_mah"], "truth": sim.truth,
            "host_cpu_s": host.ru_utime + host.ru_stime, "simulator_cpu_s": device.ru_utime + device.ru_stime,
            "peak_rss_before_run_mb": before, "peak_rss_mb": peak_rss_mb()}


if __name__ == "__main__":
    print(json.dumps(_child(json.loads(sys.argv[1]))))
