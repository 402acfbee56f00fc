"""The firmware: its sampling loop under micropython with the simulated chip
(time and heap per sample, the heap limited to an RP2040's 192 KB), and the
largest sample rate the simulated rig sustains in real time over the pty."""
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from pbgrade.evaluate import Evaluation
from pbgrade.link import collect, command, open_rig
from pbgrade.paths import FIRMWARE, SIM
from pbgrade.rig import load_rig
from pbgrade.simrig import HEAP_KB, SimRig, compiled_modules, micropython_exe

from .sim import config, curve, describe, rig_for, unit

MP_LOOP = Path(__file__).with_name("mp_loop.py")
SENSOR_MAX_HZ = 1_000_000 // (2 * 140)  # the INA226's shortest conversions, one shunt and one bus: 3571/s
PACE = 1.1  # a real-time run may take this much longer than its length and still count as keeping pace


def sampling_loop(name, capacity_mah, rate_hz=10):
    """A full discharge of a catalogue unit on rigs/sim.toml, as the host would configure it."""
    with tempfile.TemporaryDirectory(prefix="pbgrade-bench-") as work:
        args = []
        for what, data in (("rig", load_rig("sim")), ("dut", unit(name, capacity_mah)),
                           ("config", config(rate_hz, name))):
            path = Path(work) / f"{what}.json"
            path.write_text(json.dumps(data))
            args.append(str(path))
        env = dict(os.environ, MICROPYPATH=os.pathsep.join([str(compiled_modules()), ".frozen"]))
        proc = subprocess.run([micropython_exe(), "-X", f"heapsize={HEAP_KB}k", str(MP_LOOP), *args],
                              capture_output=True, text=True, env=env, cwd=work, check=False)
    if proc.returncode:
        raise RuntimeError(f"the sampling loop failed under micropython: {proc.stdout}{proc.stderr}".strip())
    out = json.loads(proc.stdout)
    firmware_bytes = out["loop_alloc_bytes"] - out["sim_alloc_bytes"]
    figures = {"loop_us_per_sample": out["loop_us"] / out["samples"],
               "heap_bytes_per_sample": firmware_bytes / out["metered_samples"]}
    details = {"unit": describe(name, capacity_mah), "rate_hz": rate_hz, "heap_limit": f"{HEAP_KB}k", **out,
               "simulator_heap_bytes_per_sample": out["sim_alloc_bytes"] / out["metered_samples"]}
    return figures, details


def trial(rate_hz, seconds, speed):
    """Run the simulated rig at rate_hz for `seconds` of its time, at `speed` x real
    time (0: as fast as it goes): what arrived, and how long it took."""
    rig = rig_for(rate_hz)
    rig["sim"]["speed"] = speed
    cfg = config(rate_hz)
    slots = round(seconds * 1e6 / cfg["period_us"])
    with tempfile.TemporaryDirectory(prefix="pbgrade-bench-") as work, \
            SimRig(rig, curve(1), work, work) as rig_sim:
        with open_rig(rig_sim.port) as (link, device):
            evaluation = Evaluation(cfg, device=(device.identity, device.calibration))
            command(link, evaluation, "CONFIG", **cfg)
            command(link, evaluation, "RUN_FOR", slots=slots)
            command(link, evaluation, "START")
            start = time.monotonic()
            collect(link, evaluation, lambda: evaluation.finished)
            wall = time.monotonic() - start
    integrity = evaluation.integrity()
    lost = slots - evaluation.samples_received + integrity["frames_corrupt"] + integrity["slots_skipped_by_device"]
    return {"rate_hz": rate_hz, "speed": speed, "slots": slots, "received": evaluation.samples_received,
            "lost": lost, "wall_s": wall, "virtual_s": seconds}


def max_rate(rates, seconds):
    """The highest of the rates (ascending) up to which each one runs in real time with
    no sample lost. The simulated device cannot fall behind its own virtual clock, so
    falling behind shows as the run taking longer than its length (PACE x)."""
    trials, best = [], None
    for rate in rates:
        t = trial(rate, seconds, speed=1)
        t["ok"] = not t["lost"] and t["wall_s"] <= PACE * seconds
        trials.append(t)
        if not t["ok"]:
            break
        best = rate
    return best, trials


def run(name, capacity_mah, rates, seconds):
    figures, loop = sampling_loop(name, capacity_mah)
    figures["max_rate_hz"], trials = max_rate(rates, seconds)
    flat_out = trial(SENSOR_MAX_HZ, 4 * seconds, speed=0)
    if flat_out["lost"]:
        raise RuntimeError(f"samples lost over the pty: {flat_out}")
    figures["pty_samples_per_s"] = flat_out["received"] / flat_out["wall_s"]
    return figures, {"sampling_loop": loop, "max_rate_trials": trials, "sensor_max_hz": SENSOR_MAX_HZ,
                     "flat_out": flat_out}
