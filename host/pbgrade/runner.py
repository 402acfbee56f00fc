"""One graded test over a link to any rig: a method's steps run one after
the other on the unit, then the record is built and kept.

Every byte received is journaled before it is interpreted, so the result can
always be rebuilt (replay.regrade) and a crash loses nothing received.
"""
import dataclasses
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import runlock, scale, steps, traceability, wire
from .evaluate import Evaluation
from .journal import Journal, read_meta
from .label import Label, load_label
from .link import IDLE_CONFIG, LinkLost, RigError, collect, command, external_load, identify, open_rig
from .method import load_method
from .profile import load_profile
from .record import (ABORTED_BY_OPERATOR, COMPLETE, RIG_STOPS, STOPPED_BY_RIG, UNFINISHED, build_record,
                     default_station)
from .reorder import MODULO
from .replay import check_resumable, replay_all, step_evaluation
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
    mass: dict | None = None  # the unit's mass as typed: {"grams", "source": "typed"} (steps/mass.py)
    scale: dict | None = None  # the rig's scale as set up here (scale.py), if it has one; set by the runner

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
    inputs = _inputs(label, label_path, method, profile)
    run_dir = data_root / "runs" / run_id
    run_dir.mkdir(parents=True)
    with runlock.held(run_dir):
        journal = Journal(run_dir, meta, inputs)
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
    if options.mass is None and "scale" in rig and any(step.type == "mass" for step in method.steps):
        options.scale = scale.ready(rig)  # refused before any current flows if the rig's scale is not set up
    return [steps.plan(step, label, options) for step in method.steps]


def resume_test(run_dir, meta, method, plans, label, profile, port=None, progress=lambda step, ev: None,
                announce=lambda run_id: None):
    """Go on with a run whose host stopped (a crash, SIGKILL, a power cut, a lost link): the
    journal gives back every step so far, the device re-sends what it sent
    meanwhile (as far as it still keeps it), and the steps left run as usual.
    meta, method, plans: the run's (replay.find_run, check_resumable, plans_from_meta); announce(run_id):
    called once the device answered. Only one host drives a run (runlock)."""
    with runlock.held(run_dir):
        check_resumable(read_meta(run_dir))  # another host may have ended it since the caller looked
        journal = Journal(run_dir)
        evaluations = replay_all(run_dir, plans)
        return _run_steps(port or meta["port"], external_load(meta["rig"], as_left=True), journal, evaluations,
                          method, plans, label, profile, meta, progress, announce)


class Aborted(KeyboardInterrupt):
    """The operator stopped the test (Ctrl-C, or SIGTERM): the load is off and the run
    saved as aborted. A KeyboardInterrupt still, carrying the saved record."""

    def __init__(self, record):
        super().__init__(record["verdict"]["reasons"][0])
        self.record = record


class OtherRig(RigError):
    """The device on a resumed run's port is not where the run left it: another rig, a restarted one, or one
    running another test. Nothing was sent that acts, and the run stays resumable."""


def _run_steps(port, load, journal, evaluations, method, plans, label, profile, meta, progress,
               announce=lambda run_id: None):
    """Run the steps not yet in evaluations (the identify step's first: a new run has none yet), grade,
    record. A step that a resumed run was in goes on first: the device carried on with it while the host
    was away (_check_resumed_device says it did). meta: the run's, as its journal keeps it.

    Ctrl-C stops the test: the load is switched off and the run graded on
    what there is, from the journal (which has the interrupted step as far as
    it got), saved as aborted, never passed; then Aborted goes on up. A step
    the device ended on one of its limits ends the test likewise (the device
    refuses the next until its fault is cleared), but for the last step,
    whose end is graded as it is. A link lost once the device answered (LinkLost) sends no STOP and
    keeps no status: the device goes on on its own, the journal has what came, and resume completes it."""
    status, rig, resumed, answered = UNFINISHED, meta["rig"], bool(evaluations), False
    try:
        with open_rig(port, journal.received, load, evaluations[0] if evaluations else None, rig) as (link, device):
            rerun = resumed and _check_resumed_device(link, journal, evaluations, meta["run_id"])
            answered = True
            announce(meta["run_id"])
            evaluations = evaluations or [device]
            lost = False
            try:
                status = _steps_left(link, journal, evaluations, method, plans, progress, rerun)
            except LinkLost:
                lost = True
                raise
            finally:
                if not lost:
                    _stop(link, evaluations[-1])
    except KeyboardInterrupt:
        status = ABORTED_BY_OPERATOR
    except LinkLost as e:
        if not (answered or resumed):
            raise
        status = None
        raise LinkLost(f"{e}; what it sent is kept: once the link is back, `pbgrade resume {meta['run_id']}` "
                       f"goes on with the run") from None
    except RigError:
        if resumed and not answered:
            status = None  # it never reached the run's device: the run is as it was, resumable
        raise
    finally:
        if status is not None:
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


def _stop(link, evaluation):
    try:
        command(link, evaluation, "STOP")  # load off
    except RigError:
        pass  # the device ends the discharge on its own (protocol/SPEC.md: a silent host)


def _steps_left(link, journal, evaluations, method, plans, progress, rerun=False):
    """Run the steps after those in evaluations, appending theirs; the run's status once they are done.
    rerun: the step a resumed run was in never started on the device: it runs from its CONFIG."""
    current = evaluations[-1]
    if len(evaluations) > 1 and not current.finished:
        step, plan = method.steps[len(evaluations) - 2], plans[len(evaluations) - 2]
        if rerun:
            _start_step(link, step, plan, current, progress)
        else:
            with _external_load(link, plan):  # a lost host's link switched it off; the device's step went on
                link.send("STATUS_REQ")  # its reply shows how far the device got; what is missing is asked for
                _collect_step(link, step, current, progress)
    for step, plan in list(zip(method.steps, plans))[len(evaluations) - 1:]:
        if _stopped_by_rig(evaluations[-1]):
            return STOPPED_BY_RIG
        journal.begin(step.type)
        evaluation = step_evaluation(plan, evaluations[0], evaluations[-1].order.expected)
        evaluations.append(evaluation)
        _start_step(link, step, plan, evaluation, progress)
    return COMPLETE


def _stopped_by_rig(evaluation):
    end = evaluation.end_event
    return end is not None and end["name"] in RIG_STOPS


def _start_step(link, step, plan, evaluation, progress):
    """Configure and start a step on the device, then collect it to its end."""
    if plan.skip:
        return
    command(link, evaluation, "CONFIG", **plan.config)
    if plan.load_mode:
        command(link, evaluation, "LOAD_MODE", **plan.load_mode)
    if plan.ramp:
        command(link, evaluation, "RAMP", **plan.ramp)
    if plan.short:
        command(link, evaluation, "SHORT", **plan.short)
    if plan.charge:
        command(link, evaluation, "CHARGE", **plan.charge)
    if plan.weigh:
        command(link, evaluation, "WEIGH", **plan.weigh)
    if plan.seconds:
        command(link, evaluation, "RUN_FOR", slots=round(plan.seconds * 1e6 / plan.config["period_us"]))
    with _external_load(link, plan):
        command(link, evaluation, "START")
        _collect_step(link, step, evaluation, progress)


@contextmanager
def _external_load(link, plan):
    """The rig's external load (if the host sets one) set as the step draws and switched on while the step
    runs: the device connects it through its series switch at START and cuts it at any limit; then off."""
    if link.load and plan.config["load_ma"]:
        mode = plan.load_mode or {"mode": "CC", "value": plan.config["load_ma"]}
        link.load.set_target(mode["mode"], mode["value"] / 1000)  # A, W or Ohm
        link.load.on()
    yield
    if link.load:
        link.load.off()


def _collect_step(link, step, evaluation, progress):
    """Collect a started step to its end. A device that says it is not running, with every frame before
    that saying in, while the step has not ended (restarted, or ended by another host), is not waited on:
    its status replies alone would keep the link from ever falling silent."""
    collect(link, evaluation, lambda: evaluation.finished or _not_running(evaluation.status),
            lambda ev: progress(step, ev))
    if not evaluation.finished:
        raise RigError(f"the rig on {link.port} no longer runs this step (it is {_state(evaluation.status)}) and "
                       f"keeps nothing of its end: it restarted, or another host ended the step; the journal keeps "
                       f"what was received (`pbgrade regrade` grades it)")


def _not_running(status):
    return status is not None and status.state != wire.State.RUNNING


def _state(status):
    return wire.State(status.state).name.lower()


IDENTITY_CHECKED = ("proto", "fw_major", "fw_minor", "fw_patch", "sensor", "address", "shunt_uohm", "settings_hash",
                    "board", "rig", "board_id")  # what makes a rig that rig; not its temperatures


def _check_resumed_device(link, journal, evaluations, run_id):
    """Before a resumed run sends anything that acts: the device on the port is the run's (its identity as
    the journal has it), it did not restart (its frame count goes on from the journal's), and it is where
    the run left it. OtherRig if not. True if the step the run was in never started on the device (the
    host stopped between opening the step's journal and START): it then runs from its CONFIG.
    Its answers are journaled only once it is the run's device."""
    held = []
    link.on_bytes = held.append
    device = Evaluation(IDLE_CONFIG)
    identify(link, device, expect_fault=True)
    theirs, ours = device.identity, evaluations[0].identity
    differ = [f"{field} {getattr(theirs, field)!r}, the run's {getattr(ours, field)!r}"
              for field in IDENTITY_CHECKED if getattr(theirs, field) != getattr(ours, field)]
    if differ:
        raise OtherRig(f"the rig on {link.port} is not the one run {run_id} ran on ({'; '.join(differ)}): "
                       f"give that rig's port with --port")
    current = evaluations[-1]
    if (device.order.expected - current.order.expected) % MODULO >= MODULO // 2:
        raise OtherRig(f"the rig on {link.port} restarted since run {run_id}'s host stopped (it numbers its "
                       f"frames from the start again): what it measured meanwhile is gone, so the run cannot go "
                       f"on; `pbgrade regrade {run_id}` grades what was received")
    step_open = len(evaluations) > 1 and not current.finished
    if not step_open and device.status.state == wire.State.RUNNING:
        raise OtherRig(f"the rig on {link.port} runs another test: let it end, then resume run {run_id}")
    for chunk in held:
        journal.received(chunk)
    link.on_bytes = journal.received
    if not step_open or current.started:
        return False
    current.status = None  # the frames the device sent since are asked for; its status after them says whether
    link.send("STATUS_REQ")  # our START reached it (its ACK may be among them)
    collect(link, current, lambda: current.status is not None)
    if current.started:
        return False
    if current.status.state == wire.State.RUNNING:
        raise OtherRig(f"the rig on {link.port} runs a test this run never started: let it end, then resume "
                       f"run {run_id}")
    return True
