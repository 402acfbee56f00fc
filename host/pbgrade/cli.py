"""pbgrade command line: run a graded test, start the simulated rig, re-grade.

Every failure the operator can fix ends as one line on stderr, exit code 2.
"""
import argparse
import json
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from . import paths
from .calibrate import CalibrationError, calibrate
from .journal import read_meta
from .label import LabelError, load_label
from .profile import ProfileError, builtin_profiles, load_profile
from .record import Store
from .rig import RigFileError, load_rig
from .runner import Options, RigError, regrade, run_test
from .simdut import DutError, dut_path, load_dut, matching_label
from .simrig import SimError, SimRig

DEFAULT_DUT = "honest-10000"
CALIBRATION_DUT = "calibration-source"
USER_ERRORS = (LabelError, ProfileError, RigFileError, DutError, RigError, SimError, CalibrationError)


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except USER_ERRORS as e:
        print(f"pbgrade: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\npbgrade: stopped by operator; load switched off, run saved as aborted", file=sys.stderr)
        return 130


def _parser():
    p = argparse.ArgumentParser(prog="pbgrade", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run one graded discharge test")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--rig", default="sim", help="rig file or name in rigs/ (default: sim)")
    where.add_argument("--port", help="serial device or pyserial URL of a running rig")
    run.add_argument("--label", help="label file (TOML); a simulated catalogue unit brings its own")
    run.add_argument("--sim-dut", default=DEFAULT_DUT,
                     help=f"simulated power bank: catalogue name or CSV/TOML file (default: {DEFAULT_DUT})")
    run.add_argument("--profile", default="gbt35590",
                     help=f"grading profile: {', '.join(builtin_profiles())} or a file (default: gbt35590)")
    run.add_argument("--rate", type=float, default=10.0, help="samples per second (default: 10)")
    run.add_argument("--end-voltage", type=float,
                     help="end of discharge below this output voltage (default: 80%% of rated)")
    run.add_argument("--json", type=Path, help="also write the result record to this file")
    run.add_argument("--speed", type=float, default=0,
                     help="simulated rig only: run at N x real time to watch it (default: as fast as possible)")
    run.set_defaults(func=cmd_run)

    sim = sub.add_parser("sim", help="start only the simulated rig and print its serial port")
    sim.add_argument("--rig", default="sim")
    sim.add_argument("--sim-dut", default=DEFAULT_DUT)
    sim.add_argument("--speed", type=float, default=0, help="N x real time (default: as fast as possible)")
    sim.set_defaults(func=cmd_sim)

    cal = sub.add_parser("calibrate", help="two-point calibration against a reference meter")
    where = cal.add_mutually_exclusive_group()
    where.add_argument("--rig", default="sim", help="rig file or name in rigs/ (default: sim)")
    where.add_argument("--port", help="serial device or pyserial URL of a running rig")
    cal.add_argument("--sim-dut", default=CALIBRATION_DUT, help="the simulated source to calibrate against")
    cal.add_argument("--points", default="0.5,2.5", help="the two load currents in A (default: 0.5,2.5)")
    cal.add_argument("--seconds", type=float, default=10.0, help="seconds of samples per point (default: 10)")
    cal.set_defaults(func=cmd_calibrate)

    rg = sub.add_parser("regrade", help="rebuild a run's result from its journal")
    rg.add_argument("run", help="run id or run directory")
    rg.add_argument("--profile", help="grade with this profile instead of the run's")
    rg.add_argument("--json", type=Path)
    rg.set_defaults(func=cmd_regrade)
    return p


def cmd_run(args):
    rig = load_rig("sim" if args.port else args.rig)
    simulated = args.port is None and rig["rig"]["board"] == "sim"
    label_path = args.label
    if label_path is None:
        label_path = matching_label(dut_path(args.sim_dut)) if simulated else None
        if label_path is None:
            raise LabelError("no label given: pass --label LABEL.toml with the figures printed on the unit")
    label = load_label(label_path)
    if label.rated_output_a > rig["limits"]["max_current_a"]:
        raise RigError(f"the label's rated output of {label.rated_output_a:g} A is over this rig's "
                       f"{rig['limits']['max_current_a']:g} A current limit: test it on a rig with a larger range")
    profile = load_profile(args.profile)
    options = Options(rate_hz=args.rate, end_voltage_v=args.end_voltage)
    data_root = paths.data_dir()
    with ExitStack() as stack:
        sim = None if args.port else _start_sim(stack, rig, args.sim_dut, args.speed)
        port = args.port or sim.port
        live = Live(sys.stderr)
        print(f"pbgrade: {label.model or 'unit'} on {port}: discharge at {label.rated_output_a:g} A, "
              f"grading with {profile.name}", file=sys.stderr)
        try:
            record = run_test(port, label, label_path, profile, rig, options, data_root, live.update)
        except RigError as e:
            if sim and not sim.alive():
                raise SimError(f"the simulated rig stopped: {sim.log_tail(1)}") from e
            raise
        live.done()
    Store(data_root / "runs.sqlite").add(record)
    if args.json:
        args.json.write_text(json.dumps(record, indent=1))
    print(result_table(record))
    return 0 if record["passed"] else 1


def _start_sim(stack, rig, dut, speed=0):
    """Start the simulated rig for the length of `stack`; its flash persists per rig."""
    if rig["rig"]["board"] != "sim":
        raise RigError(f"rig {rig['rig']['name']} is real hardware: pass --port with its serial device")
    if speed < 0:
        raise SimError(f"--speed {speed:g}: give a positive factor, e.g. --speed 60 for a minute per second")
    if speed:
        rig = {**rig, "sim": {**rig["sim"], "speed": speed}}
    work = stack.enter_context(tempfile.TemporaryDirectory(prefix="pbgrade-sim-"))
    flash = paths.data_dir() / "sim-flash" / rig["rig"]["name"]
    return stack.enter_context(SimRig(rig, load_dut(dut), work, flash))


def cmd_calibrate(args):
    rig = load_rig("sim" if args.port else args.rig)
    try:
        points = [float(a) for a in args.points.split(",")]
    except ValueError:
        points = []
    if len(points) != 2 or points[0] == points[1] or min(points) <= 0:
        raise CalibrationError(f"--points {args.points!r}: give two different load currents in A, e.g. 0.5,2.5")
    if max(points) > rig["limits"]["max_current_a"]:
        raise CalibrationError(f"--points {args.points}: over the rig's {rig['limits']['max_current_a']:g} A limit")
    with ExitStack() as stack:
        sim = None if args.port else _start_sim(stack, rig, args.sim_dut)
        history = paths.data_dir() / "rigs" / rig["rig"]["name"] / "calibrations.json"
        result = calibrate(args.port or sim.port, points, args.seconds, _ask_number, history)
    print(f"calibrated {rig['rig']['name']} on {result['date']}: voltage gain {result['v_gain']:.5f} "
          f"offset {result['v_offset_v'] * 1000:+.2f} mV ({result['voltage_method']}), "
          f"current gain {result['i_gain']:.5f} offset {result['i_offset_a'] * 1000:+.2f} mA")
    return 0


def _ask_number(prompt):
    while True:
        try:
            answer = input(prompt).strip()
        except EOFError:
            raise CalibrationError("no reference reading given: run calibrate at a terminal, or pipe the "
                                   "meter's readings in, one number per line") from None
        try:
            return float(answer)
        except ValueError:
            print(f"{answer!r} is not a number: type the meter's reading, e.g. 4.987", file=sys.stderr)


def cmd_sim(args):
    rig = load_rig(args.rig)
    with ExitStack() as stack:
        sim = _start_sim(stack, rig, args.sim_dut, args.speed)
        print(sim.port, flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while sim.alive():
            time.sleep(0.5)
        raise SimError(f"the simulated rig stopped: {sim.log_tail()}")


def cmd_regrade(args):
    run_dir = Path(args.run)
    if not run_dir.is_dir():
        run_dir = paths.data_dir() / "runs" / args.run
    if not (run_dir / "meta.json").is_file():
        raise RigError(f"no journal for run {args.run!r}: give a run id from the database or a run directory")
    meta = read_meta(run_dir)
    label = load_label(meta["label_path"])
    record = regrade(run_dir, label, load_profile(args.profile or meta["profile"]))
    if args.json:
        args.json.write_text(json.dumps(record, indent=1))
    print(result_table(record))
    return 0 if record["passed"] else 1


class Live:
    """Progress while a test runs: one rewritten line on a terminal, a line
    per half hour of test time otherwise (logs, pipes, CI)."""

    def __init__(self, stream):
        self.stream = stream
        self.tty = stream.isatty()
        self._shown = 0.0
        self._text = ""

    def update(self, evaluation):
        if evaluation.last is None:
            return
        t, v, i = evaluation.last
        self._text = (f"{_hms(t)}  {v:6.3f} V  {i:6.3f} A  {evaluation.integrator.energy_wh:8.3f} Wh  "
                      f"{evaluation.integrator.charge_mah:8.1f} mAh")
        if self.tty and time.monotonic() - self._shown > 0.2:
            self.stream.write("\r" + self._text)
            self._shown = time.monotonic()
        elif not self.tty and t - self._shown >= 1800:
            self.stream.write(self._text + "\n")
            self._shown = t

    def done(self):
        self.stream.write(("\r" if self.tty else "") + self._text + "\n")


def _hms(seconds):
    s = int(seconds)
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}"


def result_table(r):
    label = r["label"]
    lines = [
        f"{'result':<22}{'measured':>14}{'label':>14}",
        f"{'capacity at output':<22}{r['capacity_mah']:>10.0f} mAh{label['rated_capacity_mah']:>10.0f} mAh",
        f"{'capacity ratio':<22}{r['capacity_ratio']:>12.1%}",
        f"{'energy':<22}{r['energy_wh']:>11.2f} Wh{label['cell_capacity_mah'] * label['cell_voltage_v'] / 1000:>11.2f} Wh",
        f"{'efficiency':<22}{r['efficiency']:>12.1%}",
        f"{'output voltage':<22}{_v(r['min_voltage_v']):>12} V{label['rated_output_v']:>12.2f} V  (sustained min)",
        f"{'mean voltage':<22}{_v(r['mean_voltage_v']):>12} V",
        f"{'duration':<22}{_hms(r['duration_s']):>14}",
        f"{'end of discharge':<22}{r['cutoff_reason']:>14}",
        f"{'samples':<22}{r['samples_received']:>14}  ({r['integrity']['samples_lost']} lost, "
        f"{r['integrity']['decoder']['frames_corrupt']} corrupt frames)",
        f"{'sensor':<22}{r['device']['sensor']:>14}  on {r['device']['board']}, "
        + (f"calibrated {r['calibration']['date'][:10]}" if r["calibration"]["calibrated"] else "never calibrated"),
    ]
    chip = r.get("chip_accumulators")
    if chip:
        lines.append(f"{'chip accumulators':<22}{chip['energy_wh']:>11.2f} Wh  (host integral "
                     f"{chip['host_minus_chip_energy']:+.3%} from the chip's own count)")
    lines += [
        "",
        f"grade: {r['grade']} ({'PASS' if r['passed'] else 'FAIL'}) by profile {r['profile']}, run {r['run_id']} [{r['status']}]",
    ]
    lines += [f"  - {reason}" for reason in r["verdict"]["reasons"]]
    return "\n".join(lines)


def _v(volts):
    return "-" if volts is None else f"{volts:.3f}"


if __name__ == "__main__":
    sys.exit(main())
