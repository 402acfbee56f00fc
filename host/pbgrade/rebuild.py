"""The run database as an index of the run folders, rebuilt from them: `pbgrade rebuild`.

A run's folder is the truth (its journal, meta.json, record.json); the database only lists runs. The
record is written to the folder before the database row, so a host killed between the two, or a disk
full at the insert, leaves a record that no row lists yet: `history`, `regrade` and `rebuild` add every
such record, by run id, idempotently (a record already listed is left as it is).
"""
import sys

from . import paths
from .journal import RunFolderError, read_record
from .store import Store


def add_commands(subparsers):
    p = subparsers.add_parser("rebuild", help="add to the run database every run whose folder has a record and "
                                              "the database no row (after a kill or a full disk)")
    p.set_defaults(func=cmd_rebuild)


def cmd_rebuild(args):
    added, damaged = index_runs(Store(paths.run_db()))
    for problem in damaged:
        print(f"pbgrade: skipped: {problem}", file=sys.stderr)
    print(f"pbgrade: {added} run{'' if added == 1 else 's'} added to {paths.run_db()}")
    return 2 if damaged else 0


def index_runs(store):
    """Add the record of every run folder the store has no row for: (how many were added, [one line for
    each folder whose record could not be read])."""
    runs = paths.data_dir() / "runs"
    folders = {p.name: p for p in runs.iterdir() if (p / "record.json").is_file()} if runs.is_dir() else {}
    records, damaged = [], []
    for run_id in sorted(set(folders) - store.known(folders)):
        try:
            records.append(read_record(folders[run_id]))
        except RunFolderError as e:
            damaged.append(str(e))
    return store.add_missing(records), damaged
