"""All runs in one SQLite file, and the filters that pick runs out of it."""
import dataclasses
import json
import sqlite3
import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from .record import verdict_kind


# Every column but record_json is derived from the record by _row(), so a database made by an older
# pbgrade gains a new column by ALTER TABLE and a fill from record_json (Store._migrate). A column added
# later must be nullable: ALTER TABLE cannot add a NOT NULL column to rows that already exist.
_COLUMNS = {
    "run_id": "TEXT PRIMARY KEY", "started_at": "TEXT NOT NULL", "model": "TEXT", "serial": "TEXT",
    "grade": "TEXT NOT NULL", "passed": "INTEGER NOT NULL", "capacity_mah": "REAL", "energy_wh": "REAL",
    "efficiency": "REAL", "profile": "TEXT NOT NULL",
    "station": "TEXT", "method": "TEXT", "status": "TEXT", "capacity_ratio": "REAL", "voltage_ratio_min": "REAL",
    "kind": "TEXT", "channel": "INTEGER", "operator": "TEXT",
}


def _row(record: dict) -> dict:
    """The column values of one record: the one place that says how a record maps to the table."""
    return {**{column: record.get(column) for column in _COLUMNS},
            "station": record.get("station") or record["rig"]["rig"]["name"],  # older records: the rig
            "model": record["label"].get("model"), "serial": record["label"].get("serial"),
            "passed": int(record["passed"]), "kind": verdict_kind(record),
            "channel": record["rig"]["rig"].get("channel", 1),  # the rig's channel; a one-channel rig's only one
            "record_json": json.dumps(record)}


@dataclasses.dataclass(frozen=True)
class RunFilter:
    """Which runs a query returns; every criterion given must hold. None: any."""
    model: str | None = None  # model, serial, station and method: any case, * matches any characters
    serial: str | None = None
    station: str | None = None
    method: str | None = None
    grade: str | None = None  # the verdict as graded (PASS, B, NEEDS A FULL TEST), any case
    kind: str | None = None  # of the verdict: pass-fail, tiers or screen
    passed: bool | None = None  # pass/fail and tier verdicts only: a screen's finding neither passes nor fails
    since: str | None = None  # a UTC time as records write it ("2025-03-01T01:30:00Z"), included
    before: str | None = None  # likewise, excluded
    limit: int | None = None  # only the latest this many of the matching runs
    latest_per_unit: bool = False  # a unit (serial) tested again counts once, with its latest matching run


def utc_time(text: str, end: bool = False) -> str:
    """The UTC time a --since or --until means, written as records write it (text order is time order).

    A day or a time without a zone is the station's local time: a shift starts at local midnight,
    whatever the records' UTC says. With `end`, the first time after it: all of a day, or all of
    the second a time names, is included. ValueError if it is not an ISO day or time.
    """
    moment = datetime.fromisoformat(text)
    if end:
        moment += timedelta(days=1) if _is_day(text) else timedelta(seconds=1)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_day(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


_PATTERN_COLUMNS = ("model", "serial", "station", "method")


def _like(pattern: str) -> str:
    """A * wildcard pattern as a LIKE pattern, so that % and _ in a model name match only themselves."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def _where(matching: RunFilter) -> tuple[str, list]:
    """The WHERE clause of a filter and its parameters: values are never written into the SQL."""
    clauses, params = [], []
    for column in _PATTERN_COLUMNS:
        pattern = getattr(matching, column)
        if pattern is not None:  # SQLite's LIKE ignores case (ASCII letters)
            clauses.append(f"{column} LIKE ? ESCAPE '\\'")
            params.append(_like(pattern))
    for clause, value in (("grade = ? COLLATE NOCASE", matching.grade), ("kind = ?", matching.kind),
                          ("passed = ? AND kind != 'screen'", matching.passed),
                          ("started_at >= ?", matching.since), ("started_at < ?", matching.before)):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    return " AND ".join(clauses) or "1", params


def _write_ahead_log(db, tries=200):
    """Put the file in WAL mode (kept in the file: only its first opener changes it). Changing the mode
    takes the file for itself and SQLite does not wait for that (no busy timeout): an opener that finds
    it busy, another process switching it at the same moment, looks again."""
    for _ in range(tries):
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as e:
            if "locked" not in str(e):
                raise
            time.sleep(0.01)
    raise sqlite3.OperationalError(f"database is locked: could not switch it to WAL in {tries} tries")


class StoreError(Exception):
    """The run database cannot be used: one line saying why and what to do."""


class Store:
    """All runs in one SQLite file. WAL and a busy timeout let a runner write while others read."""

    def __init__(self, path):
        """Open (or make) the database; one that cannot be used (not a database, read-only) is one line of
        StoreError here, before a command does anything else."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._connect() as db:
                _write_ahead_log(db)
                columns = ", ".join(f"{name} {kind}" for name, kind in _COLUMNS.items())
                db.execute(f"CREATE TABLE IF NOT EXISTS runs ({columns}, record_json TEXT NOT NULL)")
                self._migrate(db)
                db.execute("CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at)")
        except sqlite3.DatabaseError as e:
            runs = self.path.parent / "runs"
            raise StoreError(f"the run database {self.path} cannot be used ({e}): move it aside if it is damaged "
                             f"(each run's folder in {runs} keeps its journal and record)") from None

    @contextmanager
    def _connect(self):
        """One connection per operation: nothing is held open between calls, so any process may use the file."""
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        try:
            with db:  # commits, or rolls back on error
                yield db
        finally:
            db.close()

    @staticmethod
    def _migrate(db):
        """Give a database made by an older pbgrade the columns it lacks, filled from each run's record."""
        def missing():
            present = {row["name"] for row in db.execute("PRAGMA table_info(runs)")}
            return [column for column in _COLUMNS if column not in present]

        if not missing():
            return
        db.execute("BEGIN IMMEDIATE")  # one process migrates; one that waited here finds it done
        columns = missing()
        if not columns:
            return
        for column in columns:
            db.execute(f"ALTER TABLE runs ADD COLUMN {column} {_COLUMNS[column]}")
        fill = f"UPDATE runs SET {', '.join(f'{c} = :{c}' for c in columns)} WHERE run_id = :run_id"
        records = db.execute("SELECT record_json FROM runs")  # a record at a time: the file may be large
        db.executemany(fill, (_row(json.loads(row["record_json"])) for row in records))

    def add(self, record: dict):
        row = _row(record)
        try:
            with self._connect() as db:
                db.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})", row)
        except sqlite3.IntegrityError:
            raise ValueError(f"run {record['run_id']} is already in {self.path}") from None

    def get(self, run_id: str) -> dict | None:
        with self._connect() as db:
            row = db.execute("SELECT record_json FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else json.loads(row["record_json"])

    def runs(self, matching: RunFilter = RunFilter(), quantities=()) -> list[dict]:
        """A summary of each matching run, its label included (for the limits a label sets), oldest first;
        with the record's value of each of `quantities` (None: not measured)."""
        extra = [f"{record_field(name)} AS {name}" for name in quantities if name not in _COLUMNS]
        return [{**dict(row), "passed": bool(row["passed"]), "label": json.loads(row["label"])}
                for row in self.rows([*_COLUMNS, *extra, f"{record_field('label')} AS label"], matching)]

    def rows(self, columns, matching: RunFilter = RunFilter()):
        """Each matching run's `columns` (SQL on the runs table: its columns, or json_extract(record_json, ...)),
        oldest first, one sqlite3.Row at a time.

        The filter runs in SQLite: only the matching runs' rows leave the database.
        """
        selection, params = _selection(matching)
        with self._connect() as db:
            yield from db.execute(f"SELECT {', '.join(columns)} FROM ({selection}) ORDER BY started_at, run_id",
                                  params)

    def graded_quantities(self, matching: RunFilter = RunFilter()) -> set[str]:
        """The quantities the matching runs' profiles graded, as their records' checks name them."""
        selection, params = _selection(matching)
        with self._connect() as db:
            return {row[0] for row in db.execute(
                f"SELECT DISTINCT json_extract(checks.value, '$.quantity') FROM ({selection}) AS run, "
                f"json_each(run.record_json, '$.verdict.checks') AS checks", params)}

    def measured_quantities(self, names, matching: RunFilter = RunFilter()) -> list[str]:
        """Those of `names` (record fields) that at least one matching run measured, in the order given."""
        if not names:
            return []
        selection, params = _selection(matching)
        with self._connect() as db:
            seen = db.execute(f"SELECT {', '.join(f'MAX({record_field(n)} IS NOT NULL)' for n in names)} "
                              f"FROM ({selection})", params).fetchone()
        return [name for name, measured in zip(names, seen) if measured]


def record_field(name: str) -> str:
    """SQL for a top-level field of the stored record; the name must be a plain one (a quantity's)."""
    if not name.isidentifier():
        raise ValueError(f"{name!r} is not a record field")
    return f"json_extract(record_json, '$.{name}')"


def _selection(matching: RunFilter) -> tuple[str, list]:
    """The matching runs as a query of the runs table's rows, and its parameters."""
    where, params = _where(matching)
    source = f"SELECT * FROM runs WHERE {where}"
    if matching.latest_per_unit:  # a run without a serial is a unit of its own
        source = (f"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY COALESCE(serial, run_id) "
                  f"ORDER BY started_at DESC, run_id DESC) AS newest FROM runs WHERE {where}) WHERE newest = 1")
    latest = f"{source} ORDER BY started_at DESC, run_id DESC"
    if matching.limit is not None:
        latest += " LIMIT ?"
        params.append(matching.limit)
    return latest, params
