"""One graded test over a link to any rig: a method's steps run one after
the other on the unit, then the record is built and kept.

Every byte received is journaled before it is interpreted, so the result can
always be rebuilt (replay.regrade) and a crash loses nothing received.
"""
import dataclasses
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import steps, traceability
from .journal import Journal
from .label import Label, load_label
from .link import RigError, collect, command, external_load, open_rig
from .method import load_method
from .profile import load_profile
from .record import (ABORTED_BY_OPERATOR, COMPLETE, RIG_STOPS, STOPPED_BY_RIG, UNFINISHED, build_record,
                     default_station)
from .replay import replay_all, step_evaluation
from .versions import host_version


@dataclass
class Options:
    rate_hz: float = 10.0
    end_voltage_v: float | None = None  # default: 80 % of the rated output voltage
    hold_ms: int = 1000
    flush_ms: int = 1000
    max_current_ma: int = 0  # the rig's limit; set by the runner
    short_switch: bool = False  # the rig has a short-circuit switch; set by the runner
    external_load: bool = False  # the host sets the rig's load over SCPI; set by the runner
    charger: dict | None = None  # the rig's [charger], if it has a charging path; set by the runner

    def config(self, label: Label):
        load_ma = round(label.rated_output_a * 1000)
        end_v = self.end_voltage_v if self.end_voltage_v is not None else 0.8 * label.rated_output_v
        return {"period_us": round(1e6 / self.rate_hz), "load_ma": load_ma, "end_mv": round(end_v * 1000),
                "collapse_ma": load_ma // 2, "hold_ms": self.hold_ms, "flush_ms": self.flush_ms}


def run_test(port, label, label_path, method, profile, rig, options, data_root, progress=lambda step, ev: None,
             station=None, plans=None, trace=None, announce=lambda run_id: None):
    """Run a method's steps on one unit; return its record (also kept in the journal).

    station: where it was tested, for the record (default: this host and the rig); plans: the
    steps' plans, if the caller made them already (plans_for); trace: what the run was given
    (traceability.given); announce(run_id): called once the device answered, before the first step.
    Before anything is received the run's folder keeps its own copies of the label, method and profile
    (journal.INPUTS): a re-grade reads those, whatever becomes of the files later."""
    started = datetime.now(timezone.utc)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    plans = plans if plans is not None else plans_for(method, label, options, rig)
    meta = {"run_id": run_id, "started_at": started.isoformat(), "port": port,
            "method": str(Path(method.path).resolve()), "plans": [dataclasses.asdict(p) for p in plans],
            "label_path": str(Path(label_path).resolve()), "label": label.as_dict(),
            "profile": str(Path(profile.path).resolve()), "rig": rig, "station": station or default_station(rig),
            "host_version": host_version(),
            "trace": {**(trace or {}), "started_local": traceability.local_time(started)}}
    journal = Journal(data_root / "runs" / run_id, meta, _inputs(label, label_path, method, profile))
    load = external_load(rig)
    journal.begin("identify")
    return _run_steps(port, load, journal, [], method, plans, label, profile, meta, progress, announce)


def _inputs(label, label_path, method, profile):
    """The bytes of the files that decide this run, for its own copies: the label file's, or, where the
    label is not that file's as it is (a station's scanned serial), the label written out. A method or
    profile file edited since the test loaded it is refused: its copy would not be what runs."""
    for kind, loaded, reload in (("method", method, load_method), ("profile", profile, load_profile)):
        if reload(loaded.path) != loaded:
            raise RigError(f"the {kind} file {loaded.path} changed after this test loaded it: start the test "
                           f"again, so that it runs what the file says now")
    label_file = Path(label_path).read_bytes() if load_label(label_path) == label else label.as_toml().encode()
    return {"label": label_file, "method": Path(method.path).read_bytes(),
            "profile": Path(profile.path).read_bytes()}


def plans_for(method, label, options, rig):
    """Every step's plan on this rig: options completed first with its current limit and what it has."""
    options.max_current_ma = round(rig["limits"]["max_current_a"] * 1000)
    options.short_switch = "short_pin" in rig["load"]
    options.external_load = rig["load"]["kind"] == "scpi"
    options.charger = rig.get("charger")
    return [steps.plan(step, label, options) for step in method.steps]


def resume_test(run_dir, meta, method, plans, label, profile, port=None, progress=lambda step, ev: None,
                announce=lambda run_id: None):
    """Go on with a run whose host stopped (a crash, SIGKILL, a power cut): the
    journal gives back every step so far, the device re-sends what it sent
    meanwhile (as far as it still keeps it), and the steps left run as usual.
    meta, method, plans: the run's (replay.find_run, check_resumable, plans_from_meta); announce(run_id):
    called once the device answered."""
    journal = Journal(run_dir)
    evaluations = replay_all(run_dir, plans)
    return _run_steps(port or meta["port"], external_load(meta["rig"]), journal, evaluations, method, plans, label,
                      profile, meta, progress, announce)


class Aborted(KeyboardInterrupt):
    """The operator stopped the test (Ctrl-C): the load is off and the run
    saved as aborted. A KeyboardInterrupt still, carrying the saved record."""

    def __init__(self, record):
        super().__init__(record["verdict"]["reasons"][0])
        self.record = record


def _run_steps(port, load, journal, evaluations, method, plans, label, profile, meta, progress,
               announce=lambda run_id: None):
    """Run the steps not yet in evaluations (the identify step's first: a new run has none yet), grade,
    record. A step that a resumed run was in goes on first: the device carried on with it while the host
    was away. meta: the run's, as its journal keeps it.

    Ctrl-C stops the test: the load is switched off and the run graded on
    what there is, from the journal (which has the interrupted step as far as
    it got), saved as aborted, never passed; then Aborted goes on up. A step
    the device ended on one of its limits ends the test likewise (the device
    refuses the next until its fault is cleared), but for the last step,
    whose end is graded as it is."""
    status, rig = UNFINISHED, meta["rig"]
    try:
        with open_rig(port, journal.received, load, evaluations[0] if evaluations else None, rig) as (link, device):
            announce(meta["run_id"])
            evaluations = evaluations or [device]
            try:
                status = _steps_left(link, journal, evaluations, method, plans, progress)
            finally:
                try:
                    command(link, evaluations[-1], "STOP")  # load off
                except RigError:
                    pass  # the device ends the discharge on its own (protocol/SPEC.md: a silent host)
    except KeyboardInterrupt:
        status = ABORTED_BY_OPERATOR
    finally:
        journal.update_meta(status=status)
        journal.close()
    aborted = status == ABORTED_BY_OPERATOR
    if aborted:
        evaluations = replay_all(journal.dir, plans)
    record = build_record(evaluations, method, plans, label, profile, rig, meta["run_id"],
                          datetime.fromisoformat(meta["started_at"]), status, meta.get("station"),
                          meta.get("host_version"), trace=meta.get("trace"))
    journal.save_record(record)
    if aborted:
        raise Aborted(record)
    return record


def _steps_left(link, journal, evaluations, method, plans, progress):
    """Run the steps after those in evaluations, appending theirs; the run's status once they are done."""
    current = evaluations[-1]
    if len(evaluations) > 1 and not current.finished:
        link.send("STATUS_REQ")  # its reply shows how far the device got; what is missing is asked for
        step = method.steps[len(evaluations) - 2]
        collect(link, current, lambda: current.finished, lambda ev: progress(step, ev))
    for step, plan in list(zip(method.steps, plans))[len(evaluations) - 1:]:
        if _stopped_by_rig(evaluations[-1]):
            return STOPPED_BY_RIG
        journal.begin(step.type)
        evaluations.append(_run_step(link, step, plan, evaluations[0], evaluations[-1].order.expected, progress))
    return COMPLETE


def _stopped_by_rig(evaluation):
    end = evaluation.end_event
    return end is not None and end["name"] in RIG_STOPS


def _run_step(link, step, plan, device, first_seq, progress):
    evaluation = step_evaluation(plan, device, first_seq)
    if plan.skip:
        return evaluation
    command(link, evaluation, "CONFIG", **plan.config)
    if plan.load_mode:
        command(link, evaluation, "LOAD_MODE", **plan.load_mode)
    if plan.ramp:
        command(link, evaluation, "RAMP", **plan.ramp)
    if plan.short:
        command(link, evaluation, "SHORT", **plan.short)
    if plan.charge:
        command(link, evaluation, "CHARGE", **plan.charge)
    if plan.seconds:
        command(link, evaluation, "RUN_FOR", slots=round(plan.seconds * 1e6 / plan.config["period_us"]))
    if link.load and plan.config["load_ma"]:
        mode = plan.load_mode or {"mode": "CC", "value": plan.config["load_ma"]}
        link.load.set_target(mode["mode"], mode["value"] / 1000)  # A, W or Ohm; the device connects it at START
        link.load.on()
    command(link, evaluation, "START")
    collect(link, evaluation, lambda: evaluation.finished, lambda ev: progress(step, ev))
    if link.load:
        link.load.off()
    return evaluation
