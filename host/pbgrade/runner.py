"""One graded discharge test over a link to any rig: identify, configure,
discharge at the rated current to the end, grade, record.

Every byte received is journaled before it is interpreted, so the result can
always be rebuilt (`regrade`) and a crash loses nothing received.
"""
import dataclasses
import secrets
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import serial

from . import faults, paths, steps, wire  # noqa: F401 (faults registers the fault:// test transport with pyserial)
from .evaluate import Evaluation
from .journal import Journal, read_meta, read_received, step_files
from .label import Label
from .method import load_method
from .profile import grade
from .record import build_record
from .series import Step

TRIES = 3  # a command (or HELLO) is sent this often before the link is called broken
REPLY_TIMEOUT_S = 2.0
ASK_AFTER_S = 1.0  # missing frames are asked for again, and a quiet device asked for its status, this often
ASK_AFTER_FRAMES = 16  # ... or after this many newer frames: well before the device's kept 16 KB roll over
SILENCE_TIMEOUT_S = 15.0  # no frame for this long while running: the rig is gone


IDLE_CONFIG = {"period_us": steps.PERIOD_US, "end_mv": 0, "collapse_ma": 0}  # before a step configures anything


class RigError(RuntimeError):
    """The rig did something a test cannot continue from; the message says what to do."""


@dataclass
class Options:
    rate_hz: float = 10.0
    end_voltage_v: float | None = None  # default: 80 % of the rated output voltage
    hold_ms: int = 1000
    flush_ms: int = 1000
    max_current_ma: int = 0  # the rig's limit; set by the runner
    short_switch: bool = False  # the rig has a short-circuit switch; set by the runner
    external_load: bool = False  # the host sets the rig's load over SCPI; set by the runner

    def config(self, label: Label):
        load_ma = round(label.rated_output_a * 1000)
        end_v = self.end_voltage_v if self.end_voltage_v is not None else 0.8 * label.rated_output_v
        return {"period_us": round(1e6 / self.rate_hz), "load_ma": load_ma, "end_mv": round(end_v * 1000),
                "collapse_ma": load_ma // 2, "hold_ms": self.hold_ms, "flush_ms": self.flush_ms}


class Link:
    """Framed messages over a pyserial port: a device path or any pyserial URL;
    and the rig's external load, where the host sets it (scpi_load.ScpiLoad)."""

    def __init__(self, port, on_bytes, load=None):
        try:
            self.serial = serial.serial_for_url(port, baudrate=115200, timeout=0.05)
        except (serial.SerialException, OSError) as e:
            raise RigError(f"cannot open serial port {port}: {e}; check the cable and the port name") from None
        self.port = port
        self.on_bytes = on_bytes
        self.load = load
        self.deframer = wire.Deframer()
        self.seq = secrets.randbelow(0x10000)  # a restarted host does not reuse its predecessor's numbers
        self._pending = deque()

    def send(self, msg_type, seq=None, **body):
        """Send a message; a retry passes the seq of the first try."""
        if seq is None:
            seq = self.seq
            self.seq = (seq + 1) & 0xFFFF
        self._io(self.serial.write, wire.build(msg_type, seq, **body))
        return seq

    def frames(self):
        """Yield each received frame once; reads the port when none is pending.

        A consumer may stop early: the frames it did not take stay pending."""
        if not self._pending:
            chunk = self._io(self.serial.read, max(1, self.serial.in_waiting))
            if chunk:
                self.on_bytes(chunk)
                self._pending.extend(self.deframer.feed(chunk))
        while self._pending:
            yield self._pending.popleft()

    def _io(self, op, arg):
        try:
            return op(arg)
        except (serial.SerialException, OSError) as e:
            raise RigError(f"serial port {self.port} vanished ({e}): the rig keeps itself safe; "
                           f"reconnect and check the cable") from None

    def close(self):
        self.serial.close()
        if self.load is not None:
            try:
                self.load.close()  # input off, whatever the device did
            except Exception as e:  # noqa: BLE001 - whatever the instrument library raises, the operator must act
                raise RigError(f"the external load did not switch off ({e}): switch its input off by hand; the "
                               f"rig's series switch has already cut it") from None


def run_test(port, label, label_path, method, profile, rig, options, data_root, progress=lambda step, ev: None,
             station=None, plans=None):
    """Run a method's steps on one unit; return its record (also kept in the journal).

    station: where it was tested, for the record (default: this host and the rig); plans: the
    steps' plans, if the caller made them already (plans_for)."""
    started = datetime.now(timezone.utc)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    plans = plans if plans is not None else plans_for(method, label, options, rig)
    journal = Journal(data_root / "runs" / run_id, {
        "run_id": run_id, "started_at": started.isoformat(), "port": port, "method": method.path,
        "plans": [dataclasses.asdict(p) for p in plans], "label_path": str(label_path), "label": label.as_dict(),
        "profile": profile.path, "rig": rig, "station": station})
    link = Link(port, journal.received, external_load(rig))
    journal.begin("identify")
    device = Evaluation(IDLE_CONFIG)
    return _run_steps(link, journal, [device], method, plans, label, profile, rig, run_id, started, progress,
                      station)


def plans_for(method, label, options, rig):
    """Every step's plan on this rig: options completed first with its current limit and what it has."""
    options.max_current_ma = round(rig["limits"]["max_current_a"] * 1000)
    options.short_switch = "short_pin" in rig["load"]
    options.external_load = rig["load"]["kind"] == "scpi"
    return [steps.plan(step, label, options) for step in method.steps]


def resume_test(run_dir, meta, method, plans, label, profile, port=None, progress=lambda step, ev: None):
    """Go on with a run whose host stopped (a crash, SIGKILL, a power cut): the
    journal gives back every step so far, the device re-sends what it sent
    meanwhile (as far as it still keeps it), and the steps left run as usual.
    meta, method, plans: the run's (find_run, check_resumable, plans_from_meta)."""
    journal = Journal(run_dir)
    evaluations = _replay_all(run_dir, plans)
    link = Link(port or meta["port"], journal.received, external_load(meta["rig"]))
    return _run_steps(link, journal, evaluations, method, plans, label, profile, meta["rig"], meta["run_id"],
                      datetime.fromisoformat(meta["started_at"]), progress, meta.get("station"))


def check_resumable(meta):
    if "status" in meta:
        raise RigError(f"run {meta['run_id']} already ended ({meta['status']}): nothing to resume; "
                       f"`pbgrade regrade` rebuilds its result")


def find_run(run):
    """A run's journal directory, from its id or its path, and its meta; RigError if it has none."""
    run_dir = Path(run)
    if not run_dir.is_dir():
        run_dir = paths.data_dir() / "runs" / run
    if not (run_dir / "meta.json").is_file():
        raise RigError(f"no journal for run {run!r}: give a run id from the database or a run directory")
    return run_dir, read_meta(run_dir)


def plans_from_meta(meta):
    """A run's method and its steps' plans, as its journal's meta keeps them: the plans as the run made them."""
    return load_method(meta["method"]), [steps.Plan(**p) for p in meta["plans"]]


ABORTED_BY_OPERATOR = "aborted by operator"
STOPPED_BY_RIG = "stopped by the rig"
# EVENT codes 16 and up (protocol/SPEC.md): the device switched its load off on its own, and refuses to
# switch it on again until the operator clears the fault
RIG_STOPS = {"limit_voltage": "the output voltage went over the rig's limit",
             "limit_current": "the current went over the rig's limit",
             "limit_reverse": "current flowed back into the unit (check the wiring's polarity)",
             "limit_power": "the load's power went over the rig's limit",
             "limit_temperature": "a temperature went over the rig's limit",
             "sensor_fault": "the sensor stopped answering (check the I2C wiring)"}


class Aborted(KeyboardInterrupt):
    """The operator stopped the test (Ctrl-C): the load is off and the run
    saved as aborted. A KeyboardInterrupt still, carrying the saved record."""

    def __init__(self, record):
        super().__init__(record["verdict"]["reasons"][0])
        self.record = record


def _run_steps(link, journal, evaluations, method, plans, label, profile, rig, run_id, started, progress,
               station=None):
    """Run the steps not yet in evaluations (the first is the identify step), grade, record. A step
    that a resumed run was in goes on first: the device carried on with it while the host was away.

    Ctrl-C stops the test: the load is switched off and the run graded on
    what there is, from the journal (which has the interrupted step as far as
    it got), saved as aborted, never passed; then Aborted goes on up. A step
    the device ended on one of its limits ends the test likewise (the device
    refuses the next until its fault is cleared), but for the last step,
    whose end is graded as it is."""
    status = "aborted"
    device = evaluations[0]
    try:
        if device.identity is None:
            identify(link, device)
            check_channel(device.identity, rig, link.port)
        current = evaluations[-1]
        if len(evaluations) > 1 and not current.finished:
            link.send("STATUS_REQ")  # its reply shows how far the device got; what is missing is asked for
            step = method.steps[len(evaluations) - 2]
            collect(link, current, lambda: current.finished, lambda ev: progress(step, ev))
        for step, plan in list(zip(method.steps, plans))[len(evaluations) - 1:]:
            if _stopped_by_rig(evaluations[-1]):
                status = STOPPED_BY_RIG
                break
            journal.begin(step.type)
            evaluations.append(_run_step(link, step, plan, device, evaluations[-1].order.expected, progress))
        else:
            status = "complete"
    except KeyboardInterrupt:
        status = ABORTED_BY_OPERATOR
    finally:
        try:
            command(link, evaluations[-1], "STOP")  # load off
        except RigError:
            pass  # the device ends the discharge on its own (protocol/SPEC.md: a silent host)
        try:
            link.close()
        finally:
            journal.update_meta(status=status)
            journal.close()
    aborted = status == ABORTED_BY_OPERATOR
    if aborted:
        evaluations = _replay_all(journal.dir, plans)
    record = evaluate_record(evaluations, method, plans, label, profile, rig, run_id, started, status, station)
    journal.save_record(record)
    if aborted:
        raise Aborted(record)
    return record


def _stopped_by_rig(evaluation):
    end = evaluation.end_event
    return end is not None and end["name"] in RIG_STOPS


def _never_passed(record, evaluations, method, status):
    """A run stopped before its end: its grade says so, by whom and when; what it measured until then
    keeps its checks."""
    ran = len(evaluations) - 1
    minutes = sum(ev.last[0] for ev in evaluations[1:] if ev.last) / 60
    where = f"in step {ran} of {len(method.steps)} ({method.steps[ran - 1].type})" if ran else "before the first step"
    verdict = record["verdict"]
    if status == ABORTED_BY_OPERATOR:
        decided = "stopped_by_operator"
        reason = (f"stopped by the operator after {minutes:.1f} min of test time, {where}: an aborted run is "
                  f"never passed; on what it measured until then it grades {record['grade']}")
    else:
        decided = "stopped_by_rig"
        reason = (f"the rig switched the load off {where}: {RIG_STOPS[evaluations[-1].end_event['name']]}; the "
                  f"steps after it were not run, and an unfinished run is never passed (on what it measured it "
                  f"grades {record['grade']}): fix the cause, clear the rig (`pbgrade clear`), test again")
    verdict.update(decided_by=[decided, *verdict["decided_by"]], reasons=[reason, *verdict["reasons"]])
    record.update(grade="ABORTED", passed=False)


def _step_evaluation(plan, device, first_seq, on_samples=None):
    """A step's evaluation; it knows the device from the identify step and its frame numbers from the last.
    on_samples(t_us, v, i): as Evaluation takes it."""
    keep = bool(plan.seconds) and plan.seconds <= 3600  # short steps keep every sample for their analysis
    return Evaluation(plan.config, device=(device.identity, device.calibration), keep_trace=keep,
                      first_seq=first_seq, on_samples=on_samples)


def _run_step(link, step, plan, device, first_seq, progress):
    evaluation = _step_evaluation(plan, device, first_seq)
    if plan.skip:
        return evaluation
    command(link, evaluation, "CONFIG", **plan.config)
    if plan.load_mode:
        command(link, evaluation, "LOAD_MODE", **plan.load_mode)
    if plan.ramp:
        command(link, evaluation, "RAMP", **plan.ramp)
    if plan.short:
        command(link, evaluation, "SHORT", **plan.short)
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


def external_load(rig):
    """The rig's external load, opened and switched off; None for a load the device drives itself."""
    load = rig["load"]
    if load["kind"] != "scpi":
        return None
    from .scpi_load import ScpiLoad, ScpiLoadError
    try:
        return ScpiLoad(load["resource"], rig["limits"]["max_current_a"], backend="@py")
    except ScpiLoadError as e:
        raise RigError(str(e)) from None


def evaluate_record(evaluations, method, plans, label, profile, rig, run_id, started, status, station=None):
    """The record of a run from its steps' evaluations (live or re-read from the journal)."""
    for evaluation in evaluations:
        evaluation.close()
    device, results = evaluations[0], []
    # every quantity a record shows, None where this method did not measure it (a quick check: no capacity)
    measurements = dict.fromkeys(steps.FULL_DISCHARGE)
    measurements.update((name, None) for step in method.steps for name in steps.measured_by(step))
    main, drawn_before = None, 0.0
    for step, plan, evaluation in zip(method.steps, plans, evaluations[1:]):
        outcome = steps.measure(step, evaluation, plan, label)
        measurements.update(outcome.measurements)
        results.append({"type": step.type, "name": step.name, "settings": step.settings,
                        "measurements": outcome.measurements, "behaviours": outcome.behaviours,
                        "load_settling": _settling(evaluation, plan), "events": evaluation.events,
                        "integrity": evaluation.integrity()})
        if step.type == "discharge" and not step.name:
            main = evaluation
        elif main is None:
            drawn_before += evaluation.integrator.charge_mah
    if main is None:  # aborted before its discharge: grade what there is
        main = evaluations[-1]
    measurements["samples_lost"] = main.samples_lost
    verdict = grade(profile, measurements, label)
    ident = device.identity
    end = main.end_event
    record = build_record(measurements=measurements, integrator=main.integrator, label=label, profile=profile,
                          verdict=verdict, cutoff_reason=end["name"] if end else "none", rig=rig,
                          firmware_version=f"{ident.fw_major}.{ident.fw_minor}.{ident.fw_patch}" if ident else None,
                          started_at=started, run_id=run_id, decoder=main.integrity(), station=station)
    record.update(status=status, method=method.name, method_verdict=method.verdict, steps=results,
                  charge_before_discharge_mah=drawn_before,
                  config=main.config, events=main.events, device=_device(ident),
                  calibration=device.calibration_record(), chip_accumulators=main.chip_accumulators())
    if status in (ABORTED_BY_OPERATOR, STOPPED_BY_RIG):
        _never_passed(record, evaluations, method, status)
    return record


def _settling(evaluation, plan):
    """After each setpoint step of a step that draws current, how long the load took to hold
    within 1 % (EVENT 7), or that it never did."""
    if not plan.config.get("load_ma") or plan.skip:
        return None
    settled = [{"at_s": e["t_s"], "samples": e["value"], "seconds": e["value"] * evaluation.period_us / 1e6}
               for e in evaluation.events if e["name"] == "load_settled"]
    return settled or "the load never held within 1 % of its setpoint"


def regrade(run_dir, label, profile, on_samples=None):
    """Rebuild a run's record from its journal (optionally with another profile); on_samples: as replay()
    takes it, every sample from the same replay (the report's plots of a run that saved no record)."""
    meta = read_meta(run_dir)
    method, plans = plans_from_meta(meta)
    evaluations = _replay_all(run_dir, plans, on_samples)
    started = datetime.fromisoformat(meta["started_at"])
    return evaluate_record(evaluations, method, plans[:len(evaluations) - 1], label, profile, meta["rig"],
                           meta["run_id"], started, meta.get("status", "aborted"), meta.get("station"))


def replay(run_dir, on_samples):
    """Every sample of a run, from its journal as a re-grade reads it, to on_samples(step, t_s, v, i) a
    decoded batch at a time, step by step (series.Step; t_s from the step's start): for plots and
    exports. Only a step of an hour or less keeps its samples, as in a re-grade."""
    for evaluation in _replay_all(run_dir, [steps.Plan(**p) for p in read_meta(run_dir)["plans"]], on_samples):
        evaluation.close()  # the last step's last batch


def _replay_all(run_dir, plans, on_samples=None):
    """The evaluations of the steps in a journal, rebuilt from what was received.

    on_samples(step, t_s, v, i), if given, has each batch of samples as it is integrated. A step is
    closed once the next one is made, so the batches come in the steps' order; the last is left open,
    as a resumed run goes on with it: closing it hands on its last batch."""
    files = step_files(run_dir)
    device = Evaluation(IDLE_CONFIG)
    _replay(files[0], device)
    evaluations = [device]
    for number, (plan, path) in enumerate(zip(plans, files[1:]), start=1):
        step = Step(number, path.stem.split("-", 2)[2], plan.config["period_us"] / 1e6)
        evaluation = _step_evaluation(plan, device, evaluations[-1].order.expected, on_samples and (
            lambda t_us, v, i, step=step: on_samples(step, t_us / 1e6, v, i)))
        if number > 1:  # the step before hands on its last batch, now that this one has its first frame number
            evaluations[-1].close()
        _replay(path, evaluation)
        evaluations.append(evaluation)
    return evaluations


def _replay(path, evaluation):
    deframer = wire.Deframer()
    for chunk in read_received(path):
        for frame in deframer.feed(chunk):
            evaluation.feed(frame)


def _device(ident):
    if ident is None:
        return None
    return {"sensor": wire.SENSORS.get(ident.sensor, "none"), "address": ident.address,
            "shunt_ohms": ident.shunt_uohm / 1e6, "bus_lsb_v": ident.bus_lsb_v,
            "current_lsb_a": ident.current_lsb_a, "cal": ident.cal, "sensor_period_us": ident.sensor_period_us,
            "limits": {"max_voltage_v": ident.max_mv / 1000, "max_current_a": ident.max_ma / 1000},
            "board": ident.board}


def _wait_for(link, evaluation, want, timeout=REPLY_TIMEOUT_S):
    """Feed frames to the evaluation until `want(msg)` holds; None on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in link.frames():
            msg = evaluation.feed(frame)
            if msg is not None and want(msg):
                return msg
    return None


def identify(link, evaluation):
    for _ in range(TRIES):
        link.send("HELLO")
        # the answer is IDENTITY, TEXT if the device is in fault, then STATUS
        if _wait_for(link, evaluation, lambda m: m.type == "STATUS" and evaluation.identity):
            break
    else:
        raise RigError(f"no rig answers on {link.port}: check that the firmware runs and the port is right")
    if evaluation.identity.sensor == 0 or evaluation.status.state == 3:
        raise RigError("rig reports: " + ("; ".join(evaluation.texts) or "a fault")
                       + ("" if evaluation.identity.sensor == 0 else
                          "; fix the cause, then clear the fault: `pbgrade clear`"))
    if evaluation.identity.proto != wire.PROTO_VERSION:
        raise RigError(f"rig speaks protocol {evaluation.identity.proto}, this host {wire.PROTO_VERSION}: "
                       f"update the firmware or the host")


def check_channel(identity, rig, port):
    """The device behind port is the rig channel the test is for: a board with several
    channels names each one in IDENTITY ("rp2/ch2"), one with a single channel does not."""
    _, ch, number = identity.board.rpartition("/ch")
    got = int(number) if ch and number.isdigit() else 1
    want = rig["rig"].get("channel", 1)
    if got != want:
        raise RigError(f"{port} is channel {got} of the rig, not channel {want}: pass --channel {got}, "
                       f"or the port of channel {want}")


def command(link, evaluation, msg_type, **body):
    """Send a command until the device acknowledges it (a retry keeps its seq:
    the device answers a repeat without doing it twice)."""
    seq = None
    for _ in range(TRIES):
        seq = link.send(msg_type, seq, **body)
        ack = _wait_for(link, evaluation, lambda m: m.type == "ACK" and m.body.cmd_seq == seq)
        if ack is not None:
            break
    else:
        raise RigError(f"rig did not acknowledge {msg_type} in {TRIES} tries: check the cable and the port")
    if ack.body.result:
        raise RigError(f"rig refused {msg_type}: {wire.ACK_RESULTS.get(ack.body.result, ack.body.result)} "
                       f"({body}); check the label's rated current against the rig's limits")


def collect(link, evaluation, done, progress=lambda evaluation: None):
    """Feed frames to the evaluation until done(); RigError if the rig falls silent.

    Frames missing from the sequence are asked for again at once (the device
    keeps only its recent 16 KB), and again every ASK_AFTER_S while they are
    missing (or ASK_AFTER_FRAMES); a device that goes quiet is asked for its
    status, whose reply shows any frames lost at the tail (the end of a step
    itself, say)."""
    last_frame = asked_at = time.monotonic()
    asked = set()
    since_asked = 0
    while not done():
        got = False
        for frame in link.frames():
            got = True
            since_asked += 1
            evaluation.feed(frame)
            if done():
                break
        now = time.monotonic()
        if got:
            last_frame = now
            progress(evaluation)
        elif now - last_frame > SILENCE_TIMEOUT_S:
            raise RigError(f"rig silent for {SILENCE_TIMEOUT_S:.0f} s on {link.port}: the device ends the "
                           f"discharge safely on its own; check the cable and power")
        if done():
            break
        again = now - asked_at > ASK_AFTER_S or since_asked >= ASK_AFTER_FRAMES
        for hole in evaluation.order.missing():
            if again or hole not in asked:
                link.send("RESEND", first=hole[0], count=hole[1])
                asked.add(hole)
        if again:
            asked_at, since_asked = now, 0
            if now - last_frame > ASK_AFTER_S + 2 * evaluation.config.get("flush_ms", 1000) / 1000:
                link.send("STATUS_REQ")
