"""Whole graded runs on the simulated rig (`pbgrade run`'s path: firmware under
micropython on a pty, host runner, journal): the wall time of a full 20000 mAh
discharge, of three at once on the three channels of one simulated board
(rigs/sim-3ch.toml) against one alone on it, the firmware's heap for 8
channels, and the host's peak memory over a short and a long run.

Each run is a child process, `python -m bench.simulator SPEC`, so its peak
RSS is that run's host alone (VmHWM: ru_maxrss would carry the parent's peak
across exec).
"""
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from pbgrade.label import load_label
from pbgrade.method import load_method
from pbgrade.paths import ROOT
from pbgrade.profile import load_profile
from pbgrade.rig import channels as rig_channels
from pbgrade.rig import load_rig
from pbgrade.runner import Options, run_test
from pbgrade.simrig import HEAP_KB, SimRig, compiled_modules, micropython_exe

from .sim import UNIT, curve, describe, label_path, rig_for, unit


def graded_run(rig, dut, name, rate_hz, channels=1):
    """A discharge, graded, in a child process, with the label of catalogue unit `name`, on the
    first `channels` channels of the rig at once: its figures."""
    spec = {"rig": rig, "dut": dut, "label": str(label_path(name)), "rate_hz": rate_hz, "channels": channels}
    proc = subprocess.run([sys.executable, "-m", "bench.simulator", json.dumps(spec)], capture_output=True,
                          text=True, cwd=ROOT, check=False)
    if proc.returncode:
        raise RuntimeError(f"simulated run failed: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def wall_time(name, capacity_mah):
    run = graded_run(load_rig("sim"), unit(name, capacity_mah), name, 10)
    details = {"unit": describe(name, capacity_mah), **run}
    return {"wall_s": run["wall_s"]}, details


def channels(name, capacity_mah):
    """Three units discharged at once on one simulated board's three channels, against one alone on it;
    the firmware's heap for 8 channels, as tests/mp/test_channels_mp.py measures it in a 192 KB heap (the
    firmware loaded as .mpy, as deploy puts it on a board)."""
    rig, dut = load_rig("sim-3ch"), unit(name, capacity_mah)
    one, three = (graded_run(rig, dut, name, 10, n) for n in (1, 3))
    tests = ROOT / "tests" / "mp"
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([str(compiled_modules()), str(tests)]))  # as on a board
    proc = subprocess.run([micropython_exe(), "-X", f"heapsize={HEAP_KB}k", str(tests / "test_channels_mp.py")],
                          capture_output=True, text=True, env=env, check=True)
    heap = int(re.search(r"firmware heap for 8 channels: (\d+) bytes", proc.stdout).group(1))
    figures = {"wall_s_one": one["wall_s"], "wall_s_three": three["wall_s"],
               "three_to_one": three["wall_s"] / one["wall_s"], "heap_kb_8": heap / 1024}
    return figures, {"unit": describe(name, capacity_mah), "one": one, "three": three}


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
            records = [None] * spec["channels"]

            def test(k):
                rig = rig_channels(sim.rig)[k]
                records[k] = run_test(sim.ports[k], label, spec["label"], method, load_profile(method.profile), rig,
                                      Options(rate_hz=spec["rate_hz"]), Path(work) / "data")

            threads = [threading.Thread(target=test, args=(k,)) for k in range(spec["channels"])]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        wall = time.perf_counter() - start
    record = records[0]
    host, device = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return {"wall_s": wall, "samples": sum(r["samples_received"] for r in records),
            "samples_lost": sum(r["samples_lost"] for r in records),
            "duration_s": record["duration_s"], "capacity_mah": record["capacity_mah"], "truth": sim.truth,
            "host_cpu_s": host.ru_utime + host.ru_stime, "simulator_cpu_s": device.ru_utime + device.ru_stime,
            "peak_rss_before_run_mb": before, "peak_rss_mb": peak_rss_mb()}


if __name__ == "__main__":
    print(json.dumps(_child(json.loads(sys.argv[1]))))
