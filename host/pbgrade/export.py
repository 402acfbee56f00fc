"""`pbgrade export`: a run's every sample, or one row per run, as CSV for spreadsheets and notebooks; a
run's voltage and current as a sigrok session (sigrok.py) for PulseView and sigrok-cli.

An export is a copy to read, never a source: the journal (pbgrade-data/runs/
RUN_ID/) stays the source of truth, and nothing in pbgrade reads an export
back. Samples are replayed from the journal batch by batch and written as
they come (the replay keeps no more than a re-grade: a short step's samples,
never a long discharge's), and the summary streams from the database row by
row, so neither holds a long run, or every run, in memory.
"""
import csv
import os
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import paths
from .series import RunTimeline
from .sigrok import write_session
from .store import RunFilter, Store, utc_time
from .replay import RUN_HELP, find_run, replay
from .steps import QUANTITIES

SOURCE_OF_TRUTH = ("The journal (pbgrade-data/runs/RUN_ID/: the configuration and every byte received) stays the "
                   "source of truth: an export is a copy to read, and nothing reads it back.")
SAMPLE_COLUMNS = "step,t_s,utc,v,i,p"
SAMPLE_DECIMALS = "%.6f"  # 1 us, 1 uV, 1 uA, 1 uW: finer than any supported sensor resolves
# summary column -> SQL on the runs table: what the run was, where, and its verdict; the quantities follow
SUMMARY_COLUMNS = {
    "run_id": "run_id", "started_at": "started_at", "station": "station", "channel": "channel", "model": "model",
    "serial": "serial", "method": "method", "profile": "profile", "kind": "kind", "verdict": "grade",
    "passed": "CASE WHEN kind = 'screen' THEN NULL ELSE passed END", "status": "status",
}
# the quantities every summary has; then those the runs' profiles graded, and on request every one measured
SUMMARY_QUANTITIES = ("capacity_mah", "capacity_ratio", "energy_wh", "efficiency", "min_voltage_v")


class ExportError(ValueError):
    """An export that cannot be made as asked; the message says what to do."""


def add_commands(subparsers):
    p = subparsers.add_parser(
        "export", help="write a run's samples, or one row per run, as CSV; a run as a sigrok session",
        description="Write CSV: every sample of one run (--samples), or one row per run in the database "
                    "(--summary); or one run's voltage and current as a sigrok session (--sigrok). "
                    + SOURCE_OF_TRUTH)
    p.add_argument("run", nargs="?", help=f"with --samples or --sigrok: {RUN_HELP}")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--samples", type=Path, metavar="FILE.csv",
                      help=f"every sample of RUN, as it was integrated: {SAMPLE_COLUMNS} (step: the journal's "
                           f"N-TYPE, as in its rx-N-TYPE.bin; t_s from the step's start; utc: ISO 8601, "
                           f"derived as the file's first line says; volts, amperes, watts)")
    what.add_argument("--sigrok", type=Path, metavar="FILE.sr",
                      help="RUN's voltage and current as a sigrok session (analog channels V and I at the run's "
                           "sample rate, the steps end to end), for PulseView or `sigrok-cli -i FILE.sr`")
    what.add_argument("--summary", type=Path, metavar="FILE.csv",
                      help=f"one row per run, oldest first: {', '.join(SUMMARY_COLUMNS)}, then the quantities "
                           f"{', '.join(SUMMARY_QUANTITIES)} and every other one the runs' profiles graded, in the "
                           f"record's units (a ratio as a fraction) (channel: the rig's; kind: pass-fail, tiers or "
                           f"screen; verdict: as graded, e.g. PASS, B, NEEDS A FULL TEST; passed: 1 or 0, empty for "
                           f"a screen, whose finding neither passes nor fails; empty: not measured)")
    p.add_argument("--since", metavar="DATE",
                   help="with --summary: only runs started on or after DATE (ISO 8601, e.g. 2026-01-31 or "
                        "2026-01-31T08:00+01:00; the station's local time unless it names an offset, as in history)")
    p.add_argument("--all-quantities", action="store_true",
                   help="with --summary: a column for every quantity the runs measured, graded or not")
    p.set_defaults(func=cmd_export)


def cmd_export(args):
    if args.samples or args.sigrok:
        flag, out = ("--samples", args.samples) if args.samples else ("--sigrok", args.sigrok)
        if args.run is None:
            raise ExportError(f"{flag} exports one run: pbgrade export RUN {flag} {out.name}")
        if args.since:
            raise ExportError(f"--since selects runs for --summary; {flag} exports the whole run")
        if args.all_quantities:
            raise ExportError(f"--all-quantities picks the columns of --summary; {flag} has every sample's")
        run_dir, meta = find_run(args.run)
        if args.samples:
            print(f"{out}: {export_samples(run_dir, out, meta['started_at'])} samples")
        else:
            with _replaced(out, binary=True) as f:
                count = write_session(run_dir, f)
            print(f"{out}: sigrok session, {count} samples per channel")
    else:
        if args.run is not None:
            raise ExportError(f"--summary exports every run: drop {args.run!r}, or use --samples for one run")
        count = export_summary(paths.run_db(), args.summary, since_utc(args.since), args.all_quantities)
        print(f"{args.summary}: {count} runs")
    return 0


def export_samples(run_dir, out, started_at):
    """Every sample of a run into a CSV file, step by step, each with its time in UTC; how many.
    started_at: the run's start (its meta's, ISO 8601 with an offset)."""
    start = datetime.fromisoformat(started_at).astimezone(timezone.utc)
    start_us = np.datetime64(start.replace(tzinfo=None), "us")
    timeline = RunTimeline()
    count = 0
    with _replaced(out) as f:
        f.write(f"# utc: the run's start on the host's clock ({start:%Y-%m-%dT%H:%M:%S.%fZ}) + the steps before "
                f"on the device's clock (each to its last sample slot's end) + t_s (slot x period); the host's "
                f"turnaround between steps is not journaled, so each later step reads that much early\n")
        f.write(SAMPLE_COLUMNS + "\n")

        def write(step, t, v, i):
            nonlocal count
            utc = np.datetime_as_string(start_us + timeline.run_us(step, t).astype("timedelta64[us]"), unit="us")
            np.savetxt(f, np.rec.fromarrays((t, np.char.add(utc, "Z"), v, i, v * i)), delimiter=",",
                       fmt=",".join([step.label, SAMPLE_DECIMALS, "%s"] + [SAMPLE_DECIMALS] * 3))
            count += t.size

        replay(run_dir, write)
    return count


def export_summary(db_path, out, since=None, all_quantities=False):
    """One row per run started at or after `since` (UTC, as the records write it) into a CSV file; how many."""
    if not Path(db_path).is_file():
        raise ExportError(f"no runs yet: {db_path} does not exist (PBGRADE_DATA says where the runs are)")
    store, matching = Store(db_path), RunFilter(since=since)
    wanted = {*SUMMARY_QUANTITIES, *store.graded_quantities(matching),
              *(store.measured_quantities(list(QUANTITIES), matching) if all_quantities else ())}
    quantities = [name for name in QUANTITIES if name in wanted]
    rows = store.rows([*SUMMARY_COLUMNS.values(), *map(store.record_field, quantities)], matching)
    count = 0
    with _replaced(out) as f:
        writer = csv.writer(f)
        writer.writerow([*SUMMARY_COLUMNS, *quantities])
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def since_utc(text):
    """--since as the records write times (2026-01-31T07:00:00Z), as `pbgrade history` reads it."""
    if text is None:
        return None
    try:
        return utc_time(text)
    except ValueError:
        raise ExportError(f"--since {text!r}: give a date or a time in ISO 8601, e.g. 2026-01-31 or "
                          f"2026-01-31T08:00+01:00") from None


@contextmanager
def _replaced(out, binary=False):
    """A text (or binary) file that replaces `out` only once it is complete: a failed export leaves no half
    a file."""
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    try:
        f = open(partial, "wb") if binary else open(partial, "w", newline="", encoding="utf-8")
    except OSError as e:
        raise ExportError(f"cannot write {out}: {e.strerror}") from None
    try:
        with f:
            yield f
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
