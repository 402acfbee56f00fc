"""pbgrade command line: run a graded test, start the simulated rig, re-grade.

Every failure the operator can fix ends as one line on stderr, exit code 2.
"""
import argparse
import json
import signal
import sys
import time
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path

import argcomplete

from . import (agreement, completion, deploy, export, history, i18n, paths, ports, production_line, rebuild, report,
               scale, settings, shift, steps, sync, traceability, versions)
from .calibrate import CalibrationError, calibrate, history_path, latest_reference
from .journal import RunFolderError, keep_record, read_record
from .label import LabelError
from .link import RigError, command, open_rig
from .live import Live
from .manifest import JournalDamaged, RunFolderUnwritable
from .method import MethodError, builtin_methods, load_method
from .profile import ProfileError, builtin_profiles, load_profile
from .replay import RUN_HELP, check_resumable, find_run, plans_from_meta, regrade, run_inputs
from .resulttable import result_table
from .rig import RigFileError, channels, load_rig
from .runlock import RunLocked
from .runner import Aborted, Options, plans_for, resume_test, run_test
from .sigrok import SigrokError
from .simdut import DutError, dut_path, matching_label
from .simrig import SimError, add_sim_link_flag
from .store import Store, StoreError
from .testsetup import FlagError, check_json_path, check_options, checked_test, start_sim, tested_rig
from .web import supervisor
from .web.server import WebError

DEFAULT_DUT = "honest-10000"
CALIBRATION_DUT = "calibration-source"
COMMAND_MODULES = (agreement, history, report, export, production_line, deploy, ports, settings, completion, sync,
                   supervisor, rebuild, scale)  # each has add_commands(subparsers), its commands raising USER_ERRORS
RIG_HELP = ("the rig's file or name: its limits and load (default: the settings', else with --port the rig the "
            "device reports, else sim, which starts)")
PORT_HELP = "serial device or pyserial URL of a running rig (a real one, or `pbgrade sim`)"
CHANNEL_HELP = ("the rig's test channel, on a rig with several (default: the one the device on --port names, else 1); "
                "--port is that channel's port")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # both stop a test the same way: load off, run saved
LANG_HELP = "language of reports, verdict lines and the live view (default: the settings', else en)"
USER_ERRORS = (LabelError, ProfileError, MethodError, RigFileError, DutError, RigError, SimError, CalibrationError,
               history.HistoryError, report.ReportError, export.ExportError, shift.StationError,
               deploy.DeployError, settings.SettingsError, RunFolderError, StoreError, traceability.TraceError,
               SigrokError, sync.SyncError, WebError, JournalDamaged, FlagError, RunFolderUnwritable, RunLocked,
               agreement.AgreementError, scale.ScaleError)


def main(argv=None):
    parser = _parser()
    argcomplete.autocomplete(parser)  # answers the shell's completion request and exits; otherwise nothing
    args = parser.parse_args(argv)
    try:
        settings.fill(args)
        return args.func(args) or 0
    except USER_ERRORS as e:
        print(f"pbgrade: {e}", file=sys.stderr)
        return 2
    except Aborted:
        print("\npbgrade: stopped by operator; load switched off, run saved as aborted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\npbgrade: stopped by operator", file=sys.stderr)
        return 130


def _parser():
    p = argparse.ArgumentParser(prog="pbgrade", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=versions.summary(),
                   help="show the host's, the protocol's and the shipped firmware's versions")
    p.add_argument("--lang", choices=tuple(i18n.LANGUAGES), help=LANG_HELP)
    sub = p.add_subparsers(required=True, metavar="COMMAND", dest="command")

    run = sub.add_parser("run", help="run one graded discharge test")
    run.add_argument("--rig", help=RIG_HELP)
    run.add_argument("--port", help=PORT_HELP)
    run.add_argument("--channel", type=int, help=CHANNEL_HELP)
    run.add_argument("--label", help="label file (TOML); a simulated catalogue unit brings its own")
    run.add_argument("--sim-dut", default=DEFAULT_DUT,
                     help=f"simulated power bank: catalogue name or CSV/TOML file (default: {DEFAULT_DUT})")
    run.add_argument("--method", default="full",
                     help=f"test method: {', '.join(builtin_methods())} or a file (default: full); see `pbgrade methods`")
    run.add_argument("--profile",
                     help="grading profile: a name from `pbgrade profiles` or a file (default: the method's)")
    run.add_argument("--rate", type=float, default=10.0, help="samples per second (default: 10)")
    run.add_argument("--end-voltage", type=float,
                     help="end of discharge below this output voltage (default: 80%% of rated)")
    run.add_argument("--json", type=Path, help="also write the result record to this file")
    run.add_argument("--serial", help="the unit's serial number (replaces the label file's)")
    run.add_argument("--mass-g", help="the unit's mass in grams, for the quick check's mass against energy "
                                      "(default: the rig's scale weighs it, if it has one; else not weighed, not graded)")
    traceability.add_flags(run)
    run.add_argument("--speed", type=float, default=0,
                     help="simulated rig only: run at N x real time to watch it (default: as fast as possible)")
    add_sim_link_flag(run)
    run.set_defaults(func=cmd_run)

    sim = sub.add_parser("sim", help="start only the simulated rig and print its serial port (one line a channel)")
    sim.add_argument("--rig", help="the rig's file or name in rigs/ (default: the settings', else sim)")
    sim.add_argument("--sim-dut", default=DEFAULT_DUT)
    sim.add_argument("--speed", type=float, default=0, help="N x real time (default: as fast as possible)")
    add_sim_link_flag(sim)
    sim.set_defaults(func=cmd_sim)

    cal = sub.add_parser("calibrate", help="two-point calibration against a reference meter")
    cal.add_argument("--rig", help=RIG_HELP)
    cal.add_argument("--port", help=PORT_HELP)
    cal.add_argument("--channel", type=int, help=CHANNEL_HELP)
    cal.add_argument("--sim-dut", default=CALIBRATION_DUT, help="the simulated source to calibrate against")
    cal.add_argument("--points", default="0.5,2.5", help="the two load currents in A (default: 0.5,2.5)")
    cal.add_argument("--seconds", type=float, default=10.0, help="seconds of samples per point (default: 10)")
    cal.add_argument("--reference", help='the reference meter, make, model and serial, e.g. "Fluke 87V s/n 1234" '
                                         "(asked at a terminal if not given)")
    cal.add_argument("--due", help="the reference meter's own calibration due date, YYYY-MM-DD "
                                   "(asked at a terminal if not given)")
    add_sim_link_flag(cal)
    cal.set_defaults(func=cmd_calibrate)

    clear = sub.add_parser("clear", help="acknowledge a rig's fault once its cause is fixed")
    clear.add_argument("--port", required=True, help="serial device or pyserial URL of the rig")
    clear.set_defaults(func=cmd_clear)

    sub.add_parser("methods", help="list the test methods").set_defaults(func=cmd_methods)
    sub.add_parser("profiles", help="list the grading profiles").set_defaults(func=cmd_profiles)

    rs = sub.add_parser("resume", help="go on with a run whose host stopped (crash, kill, power cut)")
    rs.add_argument("run", help=RUN_HELP)
    rs.add_argument("--port", help="the rig's port, if it changed (default: the run's)")
    rs.add_argument("--json", type=Path)
    rs.set_defaults(func=cmd_resume)

    rg = sub.add_parser("regrade", help="rebuild a run's result from its journal and its own label, method and "
                                        "profile (kept in the run's folder)")
    rg.add_argument("run", help=RUN_HELP)
    rg.add_argument("--profile", help="grade with this profile (name or file) instead of the run's; the record "
                                      "says so")
    rg.add_argument("--label", help="grade against this label file instead of the run's; the record says so")
    rg.add_argument("--json", type=Path)
    rg.set_defaults(func=cmd_regrade)

    for module in COMMAND_MODULES:  # commands that live in modules of their own
        module.add_commands(sub)
    for command in sub.choices.values():  # --lang after the command too; there, given, it wins
        command.add_argument("--lang", choices=tuple(i18n.LANGUAGES), default=argparse.SUPPRESS, help=LANG_HELP)
    return p


def cmd_run(args):
    check_json_path(args.json)
    rig_file, rig = tested_rig(args.port, args.rig, args.channel)
    channel = rig["rig"].get("channel", 1)
    simulated = args.port is None and rig["rig"]["board"] == "sim"
    label_path = args.label
    if label_path is None:
        label_path = matching_label(dut_path(args.sim_dut)) if simulated else None
        if label_path is None:
            raise LabelError("no label given: pass --label LABEL.toml with the figures printed on the unit")
    label, method, profile = checked_test(rig, label_path, args.method, args.profile)
    label = replace(label, serial=args.serial or label.serial)
    trace = traceability.given(args.operator, args.note, traceability.typed_ambient(args.ambient_c), label.serial,
                               latest_reference(history_path(rig_file, channel)))
    options = Options(rate_hz=args.rate, end_voltage_v=args.end_voltage, mass=steps.mass.typed(args.mass_g))
    check_options(options, rig)
    data_root = paths.data_dir()
    Store(paths.run_db())  # a database that cannot take the record is refused before any current flows
    with ExitStack() as stack:
        sim = None if args.port else start_sim(stack, rig_file, args.sim_dut, args.speed, args.sim_link,
                                               outlive_host=True)
        if sim:  # the sim's rig names its own external load
            port, rig = sim.ports[channel - 1], channels(sim.rig)[channel - 1]
        else:
            port = args.port
        plans = plans_for(method, label, options, rig)
        print(f"pbgrade: {label.model or 'unit'} on {port}: method {method.name} at {label.rated_output_a:g} A, "
              f"graded by {profile.name}", file=sys.stderr)
        try:
            return _watch(Live(sys.stderr, label, method, plans),
                          lambda progress: run_test(port, label, label_path, method, profile, rig, options, data_root,
                                                    progress, plans=plans, trace=trace,
                                                    announce=lambda run_id: _announce(run_id, "started")),
                          args.json)
        except RigError as e:
            if sim and not sim.station_running():
                raise SimError(f"the simulated rig stopped: {sim.log_tail(1)}") from e
            raise


def _announce(run_id, how):
    """The run's id as soon as it has one, so that after a crash the operator knows what to resume."""
    print(f"pbgrade: run {run_id} {how} (resume with `pbgrade resume {run_id}`)", file=sys.stderr, flush=True)


def _watch(live, run, json_path):
    """Run a test (run(progress) gives its record) under the live view; keep the record and show it.

    The operator's Ctrl-C stops the test: the runner switches the load off
    and saves the run as aborted (Aborted); its record is kept here as any
    other, then main() says so in one line, exit 130."""
    with _interrupted_once():
        try:
            with live:
                record = run(live.update)
        except Aborted as stopped:
            _keep(stopped.record, json_path)
            raise
        return _keep(record, json_path)


@contextmanager
def _interrupted_once():
    """The first Ctrl-C or SIGTERM (a service manager's stop, a shutdown) interrupts (KeyboardInterrupt); any
    after it only says to wait, so it cannot cut short the saving of the stopped run (its record, its row in
    the database)."""
    def stop(signum, frame):
        for each in STOP_SIGNALS:
            signal.signal(each, wait)
        raise KeyboardInterrupt

    def wait(signum, frame):
        print("pbgrade: switching the load off and saving the run: one moment", file=sys.stderr)

    previous = {each: signal.signal(each, stop) for each in STOP_SIGNALS}
    try:
        yield
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)


def _keep(record, json_path):
    """Show the record kept in the run's folder, then list it in the database: a database that cannot take
    it (a full disk) is one line after the result, and the next `history` or `rebuild` lists it."""
    code = _report(record, json_path)
    store = Store(paths.run_db())
    store.add(record)
    sync.send_after_run(store)
    return code


def cmd_clear(args):
    with open_rig(args.port, expect_fault=True) as (link, device):
        was = "; ".join(device.texts) or "no fault"
        command(link, device, "CLEAR")
    print(f"pbgrade: cleared ({was}); the rig takes a new test")
    return 0


def cmd_methods(args):
    _one_line_each([load_method(name) for name in builtin_methods()])


def cmd_profiles(args):
    _one_line_each([load_profile(name) for name in builtin_profiles()])


def _one_line_each(items):
    width = max(len(item.name) for item in items) + 2
    for item in items:
        print(f"{item.name:<{width}}{item.title}")


def cmd_calibrate(args):
    rig_file, rig = tested_rig(args.port, args.rig, args.channel)
    channel = rig["rig"].get("channel", 1)
    try:
        points = [float(a) for a in args.points.split(",")]
    except ValueError:
        points = []
    if len(points) != 2 or points[0] == points[1] or min(points) <= 0:
        raise CalibrationError(f"--points {args.points!r}: give two different load currents in A, e.g. 0.5,2.5")
    if max(points) > rig["limits"]["max_current_a"]:
        raise CalibrationError(f"--points {args.points}: over the rig's {rig['limits']['max_current_a']:g} A limit")
    reference = args.reference or _ask_text("the reference meter (make, model, serial; Enter for none)? ")
    due = traceability.due_date(args.due or _ask_text("its calibration due date (YYYY-MM-DD; Enter for none)? "))
    with ExitStack() as stack:
        sim = None if args.port else start_sim(stack, rig_file, args.sim_dut, link=args.sim_link)
        result = calibrate(args.port or sim.ports[channel - 1], points, args.seconds, _ask_number,
                           history_path(rig_file, channel), reference, due)
    print(f"calibrated {rig['rig']['name']} on {result['date']}: voltage gain {result['v_gain']:.5f} "
          f"offset {result['v_offset_v'] * 1000:+.2f} mV ({result['voltage_method']}), "
          f"current gain {result['i_gain']:.5f} offset {result['i_offset_a'] * 1000:+.2f} mA; "
          f"against {reference or 'an unnamed reference'}" + (f", due {due}" if due else ", due date not given"))
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


def _ask_text(prompt):
    """A line typed at a terminal, None if empty; never asked when the input is piped (the meter's readings)."""
    if not sys.stdin.isatty():
        return None
    try:
        return input(prompt).strip() or None
    except EOFError:  # Ctrl-D: none given
        return None


def cmd_sim(args):
    rig = load_rig(args.rig or "sim")
    with ExitStack() as stack:
        sim = start_sim(stack, rig, args.sim_dut, args.speed, args.sim_link)
        print("\n".join(sim.ports), flush=True)
        for k, channel in enumerate(channels(sim.rig), 1):
            if channel["load"]["kind"] == "scpi":
                print(f"pbgrade: channel {k}'s external load answers at {channel['load']['resource']}",
                      file=sys.stderr)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        stack.enter_context(ports.registered(sim.rig["rig"]["name"], sim.ports))
        while sim.station_running():
            time.sleep(0.5)
        print(f"pbgrade: the simulated board's station ended; its REPL has {sim.port} until Ctrl-C: "
              f"{sim.log_tail(2)}", file=sys.stderr)
        while sim.alive():
            time.sleep(0.5)
        raise SimError(f"the simulated rig stopped: {sim.log_tail()}")


def cmd_regrade(args):
    check_json_path(args.json)
    run_dir, meta = find_run(args.run)
    record = regrade(run_dir, args.label, args.profile)
    if "journal_integrity" in record:
        print(f"pbgrade: run {record['run_id']}: {record['journal_integrity']}", file=sys.stderr)
    code = _report(record, args.json)
    saved = read_record(run_dir)
    if saved is None and "status" in meta and not (args.label or args.profile):
        saved = record  # its host stopped after the run ended, before its record: the regrade completes it
        keep_record(run_dir, record)
    if saved is not None:
        Store(paths.run_db()).add_missing([saved])  # the row its host may not have written
    return code


def cmd_resume(args):
    check_json_path(args.json)
    run_dir, meta = find_run(args.run)
    check_resumable(meta)
    label, method, profile = run_inputs(run_dir, meta)
    plans = plans_from_meta(meta)
    live = Live(sys.stderr, label, method, plans)
    return _watch(live, lambda progress: resume_test(
        run_dir, meta, method, plans, label, profile, args.port, progress,
        lambda run_id: _announce(run_id, f"resumed on {args.port or meta['port']}")), args.json)


def _report(record, json_path):
    if json_path:
        json_path.write_text(json.dumps(record, indent=1))
    print(result_table(record))
    return 0 if record["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
