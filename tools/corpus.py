"""A corpus of runs on the simulated rig, and every output pbgrade makes of it:
to show that a change of the code's layout changes none of its outputs.

    python tools/corpus.py make DATA            # runs the corpus into DATA (a pbgrade data folder)
    python tools/corpus.py render DATA OUT      # regrade, report, exports, history, stats of DATA into OUT

Render with the code before and after a change (each checkout's own
`python tools/corpus.py render`, which runs that checkout's pbgrade) and
compare the two OUT folders with `diff -r`: records, result tables,
reports, sample and summary CSVs, history and stats must be byte-identical.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DUTS = ROOT / "rigs" / "sim" / "duts"

# (rig, channel, method, simulated unit, extra arguments): every method, every simulated sensor, an
# external load, a channel of a board with several, units that pass and fail in each way, a lossy link
RUNS = [
    ("sim", 1, "full", "honest-10000", []),
    ("sim", 1, "quick", "honest-10000", []),
    ("sim", 1, "quick", "fake-20000", []),
    ("sim", 1, "eol", "sagging-output", []),
    ("sim", 1, "eol", "ocp-below-rated", []),
    ("sim", 1, "discharge", "low-efficiency", ["--rate", "1"]),
    ("sim", 1, "full", "intermittent-contact", []),
    ("sim", 1, "full", "low-load-off", []),
    ("sim", 1, "discharge", "fake-third", ["--profile", "tiers"]),
    ("sim-ina219", 1, "quick", "honest-10000", []),
    ("sim-ina228", 1, "discharge", "sagging", []),
    ("sim-ina260", 1, "eol", "honest-10000", []),
    ("sim-ina3221", 1, "quick", "fake-tiny", []),
    ("sim-scpi", 1, "eol", "honest-10000", []),
    ("sim-3ch", 2, "eol", "honest-10000", []),
]


def pbgrade(data, *args, stdout=None, check=True):
    # matplotlib names an SVG's clip paths at random unless given a salt
    rc = Path(data) / "matplotlibrc"
    rc.write_text("svg.hashsalt: pbgrade-corpus\n")
    env = {**os.environ, "PBGRADE_DATA": str(data), "PYTHONPATH": str(ROOT / "host"), "NO_COLOR": "1",
           "TZ": "UTC", "MATPLOTLIBRC": str(rc), "PYTHONHASHSEED": "0"}  # a record lists set members
    return subprocess.run([sys.executable, "-m", "pbgrade.cli", *args], env=env, cwd=ROOT, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, check=check)


def make(data):
    for rig, channel, method, dut, extra in RUNS:
        label = DUTS / f"{dut}.label.toml"
        done = pbgrade(data, "run", "--rig", rig, "--channel", str(channel), "--method", method, "--sim-dut", dut,
                       "--label", str(label), *extra, stdout=subprocess.DEVNULL, check=False)
        print(f"{rig} ch{channel} {method} {dut}: exit {done.returncode}", file=sys.stderr)
        if done.returncode not in (0, 1):
            raise SystemExit(done.stderr)
    label = str(DUTS / "honest-10000.label.toml")
    env = {**os.environ, "PBGRADE_DATA": str(data), "PYTHONPATH": str(ROOT / "host")}
    sim = subprocess.Popen([sys.executable, "-m", "pbgrade.cli", "sim"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                           text=True)
    try:  # a lossy link; then a run the operator stops (Ctrl-C) in its discharge
        port = sim.stdout.readline().strip()
        pbgrade(data, "run", "--port", f"fault://{port}?drop=1e-4&corrupt=1e-4&dup=1e-4&seed=3", "--label", label,
                "--method", "quick", stdout=subprocess.DEVNULL)
    finally:
        sim.terminate()
        sim.wait()
    stopped = subprocess.Popen([sys.executable, "-m", "pbgrade.cli", "run", "--speed", "50", "--label", label],
                               env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(12)
    stopped.send_signal(signal.SIGINT)
    print(f"stopped by operator: exit {stopped.wait()}", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "pbgrade.cli", "station", "--rig", "sim-3ch", "--label", label,
                    "--sim-duts", "honest-10000,sagging-output,ocp-below-rated"], input="S1\nS2\nS3\n", text=True,
                   env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def render(data, out):
    out.mkdir(parents=True, exist_ok=True)
    for run_dir in sorted((data / "runs").iterdir()):
        run = run_dir.name
        with open(out / f"{run}.table.txt", "w") as table:
            pbgrade(data, "regrade", str(run_dir), "--json", str(out / f"{run}.record.json"), stdout=table,
                    check=False)
        pbgrade(data, "report", str(run_dir), "--out", str(out / f"{run}.html"))
        pbgrade(data, "export", str(run_dir), "--samples", str(out / f"{run}.samples.csv"))
    pbgrade(data, "export", "--summary", str(out / "summary.csv"))
    for name, args in [("history", ["history"]), ("stats-full", ["stats", "--method", "full"]),
                       ("stats-quick", ["stats", "--method", "quick"]), ("stats-eol", ["stats", "--method", "eol"])]:
        with open(out / f"{name}.txt", "w") as text:
            done = pbgrade(data, *args, stdout=text, check=False)
            text.write(f"exit {done.returncode}\n{done.stderr}")


if __name__ == "__main__":
    what, *folders = sys.argv[1:]
    {"make": make, "render": render}[what](*map(Path, folders))
