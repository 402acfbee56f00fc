"""Runs from a station or a kit to the central store (PostgreSQL), and `pbgrade sync`.

A station always writes its own SQLite store first: that file is its history and its queue. A sync sends
the central store the runs it lacks, by run id, so a sync cut off and done again, or done twice, stores each
run once, and a database that was away (a factory's network down, a kit a week in the field) loses nothing:
its runs wait in the file. A station sends after each run, in the background (Uploader); `pbgrade run`
tries once when it has saved its run; a kit sends on demand (`pbgrade sync`). Journals stay where they
were made; `sync --journals FOLDER` copies the run folders too, for the office to report from.
"""
import shutil
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from . import paths, settings
from .store import DatabaseUnreachable, Store

BATCH = 200  # records sent in one transaction
RETRY_S = 30.0  # how often a station tries again while the central store is unreachable


class SyncError(ValueError):
    """A sync the operator can fix, as one line."""


@dataclass(frozen=True)
class Pushed:
    sent: int  # runs the central store lacked, now in it
    had: int  # runs it had already


def push(local: Store, central: Store) -> Pushed:
    """Send `central` each run of `local` it lacks. DatabaseUnreachable if it stops answering: what was
    sent stays sent (a batch is one transaction), the rest goes next time."""
    run_ids = [row["run_id"] for row in local.rows(["run_id"])]
    known = central.known(run_ids)
    missing = [run_id for run_id in run_ids if run_id not in known]
    sent = 0
    for start in range(0, len(missing), BATCH):
        sent += central.add_missing(local.get(run_id) for run_id in missing[start:start + BATCH])
    return Pushed(sent, len(run_ids) - sent)


def copy_journals(local_runs: Path, into: Path, run_ids) -> int:
    """Copy each run's folder (journals, record, inputs) into `into`/runs/ where it is not yet: how many.
    A copy is made beside and renamed into place, so one cut off is not taken for done."""
    copied = 0
    for run_id in run_ids:
        source, target = local_runs / run_id, into / "runs" / run_id
        if source.is_dir() and not target.exists():
            partial = target.with_name(f".{run_id}.partial")
            shutil.rmtree(partial, ignore_errors=True)
            shutil.copytree(source, partial)
            partial.rename(target)
            copied += 1
    return copied


def central_store() -> Store | None:
    """The central store the settings or $PBGRADE_DB name, None for a station on its own;
    DatabaseUnreachable if it does not answer."""
    url, _ = settings.central_database()
    return url and Store(url)


def send_after_run(local: Store):
    """After `pbgrade run` saved its run: send what the central store lacks, if there is one; unreachable,
    the run waits in the station's file and the line says so (the test itself is done and kept)."""
    try:
        central = central_store()
        if central:
            print(f"pbgrade: {push(local, central).sent} run(s) sent to {central.where}", file=sys.stderr)
    except DatabaseUnreachable as e:
        print(f"pbgrade: central database unreachable ({e}): the run waits in {local.where}; "
              f"the next run or `pbgrade sync` sends it", file=sys.stderr)


class Uploader:
    """A station's runs to the central store in the background: after each run (nudge) and, while the
    store is unreachable, every RETRY_S; the channels test on whatever the database does. One line on
    stderr when it goes away and when it is back."""

    def __init__(self, local: Store, url: str, retry_s: float = RETRY_S):
        self.local, self.url, self.retry_s = local, url, retry_s
        self.unreachable = None  # why the last try failed; None: all sent
        self.wake, self.stopping = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True, name="uploader")
        self.thread.start()

    def nudge(self):
        """A run was saved: send it."""
        self.wake.set()

    def close(self, timeout_s: float = 30.0):
        """A last try, then stop."""
        self.stopping.set()
        self.wake.set()
        self.thread.join(timeout_s)

    def _loop(self):
        while True:
            self.wake.wait(self.retry_s if self.unreachable else None)
            self.wake.clear()
            last = self.stopping.is_set()  # seen before the try: close() comes after the station's last run
            self._try()
            if last:
                return

    def _try(self):
        try:
            pushed = push(self.local, Store(self.url))
        except DatabaseUnreachable as e:
            if self.unreachable is None:
                print(f"pbgrade: central database unreachable ({e}): runs wait in {self.local.where} and go "
                      f"when it answers", file=sys.stderr)
            self.unreachable = str(e)
            return
        if self.unreachable is not None:
            print(f"pbgrade: central database back: {pushed.sent} waiting run(s) sent", file=sys.stderr)
        self.unreachable = None


def uploader_for(local: Store) -> Uploader | None:
    """The station's uploader when a central store is set, else None."""
    url, _ = settings.central_database()
    return url and Uploader(local, url)


def add_commands(sub):
    p = sub.add_parser("sync", help="send this station's or kit's runs to the central database",
                       description="Send the central database (PBGRADE_DB, or the settings' database) every run of "
                                   "this station's runs.sqlite it lacks, by run id: a run is never sent twice.")
    p.add_argument("--journals", metavar="FOLDER", type=Path,
                   help="also copy each run's folder (journals, record, inputs) into FOLDER/runs/, where "
                        "PBGRADE_DATA=FOLDER pbgrade report RUN finds it")
    p.set_defaults(func=cmd_sync)


def cmd_sync(args):
    db = paths.run_db()
    if not db.is_file():
        raise SyncError(f"no run database at {db}: nothing to send (PBGRADE_DATA says where the runs are)")
    url, _ = settings.central_database()
    if not url:
        raise SyncError("no central database: set PBGRADE_DB=postgresql://user@host/dbname, or database in the "
                        "settings file (pbgrade config shows where)")
    local = Store(db)
    try:
        central = Store(url)
        pushed = push(local, central)
    except DatabaseUnreachable as e:
        raise SyncError(f"central database unreachable ({e}): the runs stay here; sync again when online") from None
    print(f"sent {pushed.sent} run(s) to {central.where}; it had {pushed.had} already")
    if args.journals:
        run_ids = [row["run_id"] for row in local.rows(["run_id"])]
        copied = copy_journals(paths.data_dir() / "runs", args.journals, run_ids)
        print(f"copied {copied} run folder(s) into {args.journals / 'runs'}")
    return 0
