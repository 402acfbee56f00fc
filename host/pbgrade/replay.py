"""A run read back from its journal: finding it, the label, method, profile
and plans that decided it, its steps' evaluations rebuilt from every byte
received (for a re-grade, a resumed run, the report's plots and the sample
export).

A step's evaluation is made the same way live (runner) and here, so a
re-grade gets the same numbers as the live run.
"""
from datetime import datetime
from pathlib import Path

from . import paths, steps, wire
from .evaluate import UNCALIBRATED, Evaluation
from .journal import INPUT_KINDS, INPUTS, RESTORE, RunFolderError, input_file, read_meta, read_received, step_files
from .label import load_label
from .link import IDLE_CONFIG, RigError
from .manifest import MANIFEST, UNCHECKED
from .manifest import check as check_integrity
from .method import load_method
from .profile import load_profile
from .record import UNFINISHED, build_record
from .series import JournalStep


LAST = "last"  # names the latest run wherever a run is named
RUN_HELP = f"the run: its id, a unique start of it, its last 6 characters, `{LAST}` (the latest), or its folder"
SHOWN_CANDIDATES = 5


def find_run(run):
    """A run's journal directory and its checked meta, from its path, its id, a unique start of its id, its
    random suffix ("a1b2c3", or a unique start of it) or `last`; RunFolderError if there is none, several
    or its folder is damaged; manifest.JournalDamaged if a file differs from what the run wrote."""
    run_dir = Path(run) if Path(run).is_dir() else _run_named(run)
    if not (run_dir / "meta.json").exists():
        raise RunFolderError(f"{run_dir}: has no meta.json: not a run's folder, or a damaged one ({RESTORE})")
    check_integrity(run_dir)
    return run_dir, read_meta(run_dir)


def _run_named(run):
    runs = paths.data_dir() / "runs"
    ids = sorted(p.name for p in runs.iterdir() if p.is_dir()) if runs.is_dir() else []
    if not ids:
        raise RunFolderError(f"no runs yet in {runs}: run a test first, or point PBGRADE_DATA at the data")
    if run == LAST:
        return runs / ids[-1]  # ids start with their UTC start time: the last in order is the latest
    matching = [i for i in ids if i == run] or [
        i for i in ids if i.startswith(run) or i.partition("-")[2].startswith(run)]  # "-": before the suffix
    if not matching:
        raise RunFolderError(f"no journal for run {run!r} in {runs}: give a run id (`pbgrade history` lists them), "
                             f"a unique start of one, its last 6 characters, `{LAST}`, or a run's folder")
    if len(matching) > 1:
        more = f" and {len(matching) - SHOWN_CANDIDATES} more" if len(matching) > SHOWN_CANDIDATES else ""
        candidates = ", ".join(matching[:SHOWN_CANDIDATES])
        raise RunFolderError(f"run {run!r} is ambiguous: it could be {candidates}{more}: give more of the id")
    return runs / matching[0]


def plans_from_meta(meta):
    """The steps' plans as the run made them, which its journal's meta keeps; RunFolderError if one is not
    a plan pbgrade made (a damaged meta)."""
    plans = []
    for number, fields in enumerate(meta["plans"], start=1):
        try:
            plan = steps.Plan(**fields)
        except TypeError:
            plan = None
        if not (plan and isinstance(plan.config, dict) and all(isinstance(v, int) for v in plan.config.values())
                and plan.config.get("period_us", 0) > 0):
            raise RunFolderError(f"{meta['run_id']}: meta.json is damaged (the plan of step {number} is not one "
                                 f"pbgrade made): {RESTORE}")
        plans.append(plan)
    return plans


def run_inputs(run_dir, meta, label=None, profile=None):
    """(label, method, profile) that decided a run, from its own copies (journal.INPUTS), or on purpose others:
    label, a label file; profile, a profile's name or file. A run recorded before runs kept their copies reads
    the files at the paths it recorded, and says in one line which of them is gone."""
    given = {"label": label, "profile": profile}
    files = {kind: input_file(run_dir, kind) for kind in INPUT_KINDS}
    if not (Path(run_dir) / INPUTS).is_dir():
        files = {"label": meta["label_path"], "method": meta["method"], "profile": meta["profile"]}
        for kind, path in files.items():
            if given.get(kind) is None and not Path(path).is_file():
                raise RigError(f"run {meta['run_id']} predates self-contained runs and its {kind} file {path} "
                               f"is gone: put it back there" + (f", or regrade with --{kind}" if kind in given else ""))
    return (load_label(label or files["label"]), load_method(files["method"]),
            load_profile(profile or files["profile"]))


def check_resumable(meta):
    if "status" in meta:
        raise RigError(f"run {meta['run_id']} already ended ({meta['status']}): nothing to resume; "
                       f"`pbgrade regrade` rebuilds its result")


def regrade(run_dir, label=None, profile=None, on_samples=None):
    """Rebuild a run's record from its journal and its own label, method and profile, or on purpose with
    another label file or profile (name or file; run_inputs), which the record then names as its
    "overrides"; on_samples: as replay() takes it, every sample from the same replay (the report's plots
    of a run that saved no record). run_dir as find_run gives it: its files already checked against its
    manifest (hashing them again here would read every journal twice)."""
    unchecked = None if (run_dir / MANIFEST).exists() else UNCHECKED
    meta = read_meta(run_dir)
    graded_label, method, graded_profile = run_inputs(run_dir, meta, label, profile)
    plans = plans_from_meta(meta)
    evaluations = replay_all(run_dir, plans, on_samples)
    started = datetime.fromisoformat(meta["started_at"])
    overrides = {kind: str(Path(given).resolve()) if Path(given).is_file() else given
                 for kind, given in (("label", label), ("profile", profile)) if given is not None}
    record = build_record(evaluations, method, plans[:len(evaluations) - 1], graded_label, graded_profile,
                          meta["rig"], meta["run_id"], started, meta.get("status", UNFINISHED), meta.get("station"),
                          meta.get("host_version"), overrides, meta.get("trace"))
    if unchecked:
        record["journal_integrity"] = unchecked  # a run from before the manifest: graded, but said so
    return record


def replay(run_dir, on_samples):
    """Every sample of a run, from its journal as a re-grade reads it, to on_samples(step, t_s, v, i) a
    decoded batch at a time, step by step (series.JournalStep; t_s from the step's start): for plots and
    exports. Only a step of an hour or less keeps its samples, as in a re-grade."""
    for evaluation in replay_all(run_dir, plans_from_meta(read_meta(run_dir)), on_samples):
        evaluation.close()  # the last step's last batch


def replay_all(run_dir, plans, on_samples=None):
    """The evaluations of the steps in a journal, rebuilt from what was received.

    on_samples(step, t_s, v, i), if given, has each batch of samples as it is integrated. A step is
    closed once the next one is made, so the batches come in the steps' order; the last is left open,
    as a resumed run goes on with it: closing it hands on its last batch."""
    files = step_files(run_dir)
    if not files:
        raise RunFolderError(f"{run_dir}: holds no data received from the rig: the run stopped before its first "
                             f"step, so there is nothing to rebuild or go on with; start a new run")
    if len(files) > len(plans) + 1:
        raise RunFolderError(f"{run_dir}: has the journals of {len(files) - 1} steps but meta.json plans "
                             f"{len(plans)}: {RESTORE}")
    device = Evaluation(IDLE_CONFIG)
    _feed_file(files[0], device)
    if device.identity is None or device.calibration is None:
        if files[0].stat().st_size == 0:
            raise RunFolderError(f"{files[0]}: is empty: the run stopped before the rig answered, so there is "
                                 f"nothing to rebuild or go on with; start a new run")
        raise RunFolderError(f"{files[0]}: is damaged (it holds no identity and calibration from the rig, "
                             f"which scale every sample): {RESTORE}")
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
    # a charge samples the input sensor: the output's calibration is not its (protocol/SPEC.md, CHARGE)
    calibration = UNCALIBRATED if plan.charge else device.calibration
    return Evaluation(plan.config, apply_calibration=not plan.charge, device=(device.identity, calibration),
                      keep_trace=keep, first_seq=first_seq, on_samples=on_samples)


def _feed_file(path, evaluation):
    deframer = wire.Deframer()
    for chunk in read_received(path):
        for frame in deframer.feed(chunk):
            evaluation.feed(frame)
