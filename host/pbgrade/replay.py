"""A run read back from its journal: finding it, its method and plans as the
run made them, its steps' evaluations rebuilt from every byte received (for
a re-grade, a resumed run, the report's plots and the sample export).

A step's evaluation is made the same way live (runner) and here, so a
re-grade gets the same numbers as the live run.
"""
from datetime import datetime
from pathlib import Path

from . import paths, steps, wire
from .evaluate import Evaluation
from .journal import read_meta, read_received, step_files
from .link import IDLE_CONFIG, RigError
from .method import load_method
from .record import UNFINISHED, build_record
from .series import JournalStep


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


def check_resumable(meta):
    if "status" in meta:
        raise RigError(f"run {meta['run_id']} already ended ({meta['status']}): nothing to resume; "
                       f"`pbgrade regrade` rebuilds its result")


def regrade(run_dir, label, profile, on_samples=None):
    """Rebuild a run's record from its journal (optionally with another profile); on_samples: as replay()
    takes it, every sample from the same replay (the report's plots of a run that saved no record)."""
    meta = read_meta(run_dir)
    method, plans = plans_from_meta(meta)
    evaluations = replay_all(run_dir, plans, on_samples)
    started = datetime.fromisoformat(meta["started_at"])
    return build_record(evaluations, method, plans[:len(evaluations) - 1], label, profile, meta["rig"],
                        meta["run_id"], started, meta.get("status", UNFINISHED), meta.get("station"), meta.get("trace"))


def replay(run_dir, on_samples):
    """Every sample of a run, from its journal as a re-grade reads it, to on_samples(step, t_s, v, i) a
    decoded batch at a time, step by step (series.JournalStep; t_s from the step's start): for plots and
    exports. Only a step of an hour or less keeps its samples, as in a re-grade."""
    for evaluation in replay_all(run_dir, [steps.Plan(**p) for p in read_meta(run_dir)["plans"]], on_samples):
        evaluation.close()  # the last step's last batch


def replay_all(run_dir, plans, on_samples=None):
    """The evaluations of the steps in a journal, rebuilt from what was received.

    on_samples(step, t_s, v, i), if given, has each batch of samples as it is integrated. A step is
    closed once the next one is made, so the batches come in the steps' order; the last is left open,
    as a resumed run goes on with it: closing it hands on its last batch."""
    files = step_files(run_dir)
    device = Evaluation(IDLE_CONFIG)
    _feed_file(files[0], device)
    evaluations = [device]
    for number, (plan, path) in enumerate(zip(plans, files[1:]), start=1):
        step = JournalStep(number, path.stem.split("-", 2)[2], plan.config["period_us"] / 1e6)
        evaluation = step_evaluation(plan, device, evaluations[-1].order.expected, on_samples and (
            lambda t_us, v, i, step=step: on_samples(step, t_us / 1e6, v, i)))
        if number > 1:  # the step before hands on its last batch, now that this one has its first frame number
            evaluations[-1].close()
        _feed_file(path, evaluation)
        evaluations.append(evaluation)
    return evaluations


def step_evaluation(plan, device, first_seq, on_samples=None):
    """A step's evaluation; it knows the device from the identify step and its frame numbers from the last.
    on_samples(t_us, v, i): as Evaluation takes it."""
    keep = bool(plan.seconds) and plan.seconds <= 3600  # short steps keep every sample for their analysis
    return Evaluation(plan.config, device=(device.identity, device.calibration), keep_trace=keep,
                      first_seq=first_seq, on_samples=on_samples)


def _feed_file(path, evaluation):
    deframer = wire.Deframer()
    for chunk in read_received(path):
        for frame in deframer.feed(chunk):
            evaluation.feed(frame)
