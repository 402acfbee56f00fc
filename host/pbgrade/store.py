"""All runs in one database, and the filters that pick runs out of it: a station's own SQLite file (the
default, and its queue for a central store), or a PostgreSQL database that several stations share.

One schema and one migration path serve both: the same table, the same SQL, and a dialect (_SQLite,
_PostgreSQL) for the few things the two say differently (placeholders, reading JSON, case-blind matching).
"""
import dataclasses
import json
import sqlite3
import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

from .record import verdict_kind
from .settings import DATABASE_SCHEMES, without_password

CONNECT_TIMEOUT_S = 5  # an unreachable central database is known this soon: the station queues and goes on


# Every column but record_json is derived from the record by _row(), so a database made by an older
# pbgrade gains a new column by ALTER TABLE and a fill from record_json (Store._migrate). A column added
# later must be nullable: ALTER TABLE cannot add a NOT NULL column to rows that already exist.
_COLUMNS = {
    "run_id": "TEXT PRIMARY KEY", "started_at": "TEXT NOT NULL", "model": "TEXT", "serial": "TEXT",
    "grade": "TEXT NOT NULL", "passed": "INTEGER NOT NULL", "capacity_mah": "DOUBLE PRECISION",
    "energy_wh": "DOUBLE PRECISION", "efficiency": "DOUBLE PRECISION", "profile": "TEXT NOT NULL",
    "station": "TEXT", "method": "TEXT", "status": "TEXT", "capacity_ratio": "DOUBLE PRECISION",
    "voltage_ratio_min": "DOUBLE PRECISION",
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


def _where(matching: RunFilter, dialect) -> tuple[str, list]:
    """The WHERE clause of a filter and its parameters: values are never written into the SQL."""
    clauses, params = [], []
    for column in _PATTERN_COLUMNS:
        pattern = getattr(matching, column)
        if pattern is not None:
            clauses.append(f"{column} {dialect.LIKE_ANY_CASE} ? ESCAPE '\\'")
            params.append(_like(pattern))
    passed = None if matching.passed is None else int(matching.passed)  # an INTEGER column in both
    for clause, value in ((dialect.GRADE_ANY_CASE, matching.grade), ("kind = ?", matching.kind),
                          ("passed = ? AND kind != 'screen'", passed),
                          ("started_at >= ?", matching.since), ("started_at < ?", matching.before)):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    return " AND ".join(clauses) or "1 = 1", params


class DatabaseUnreachable(ConnectionError):
    """The central database did not answer: a station keeps its runs in its own file until it does."""


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


class _SQLite:
    """A station's own file. WAL and a busy timeout let a runner write while others read."""
    LIKE_ANY_CASE = "LIKE"  # SQLite's LIKE ignores case (ASCII letters)
    GRADE_ANY_CASE = "grade = ? COLLATE NOCASE"
    ANY_MEASURED = "MAX({} IS NOT NULL)"

    def __init__(self, path):
        """Open (or make) the database; one that cannot be used (not a database, read-only) is one line of
        StoreError here, before a command does anything else."""
        self.path = Path(path)
        self.where = str(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def connect(self):
        """One connection per operation: nothing is held open between calls, so any process may use the file."""
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        try:
            with db:  # commits, or rolls back on error
                yield db
        finally:
            db.close()

    @staticmethod
    def prepare(db):
        _write_ahead_log(db)

    @staticmethod
    def lock_schema(db):
        db.execute("BEGIN IMMEDIATE")  # one process migrates; one that waited here finds it done

    @staticmethod
    def columns(db) -> set[str]:
        return {row["name"] for row in db.execute("PRAGMA table_info(runs)")}

    @staticmethod
    def field(name: str) -> str:
        return f"json_extract(record_json, '$.{name}')"

    @staticmethod
    def check_quantities(selection: str) -> str:
        return (f"SELECT DISTINCT json_extract(checks.value, '$.quantity') FROM ({selection}) AS run, "
                f"json_each(run.record_json, '$.verdict.checks') AS checks")

    json_value = staticmethod(json.loads)  # json_extract gives an object as its JSON text


class _Row(tuple):
    """A PostgreSQL row read as a sqlite3.Row is: by position, by column name, and dict(row)."""

    def __new__(cls, names, values):
        row = super().__new__(cls, values)
        row.names = names
        return row

    def keys(self):
        return self.names

    def __getitem__(self, key):
        return super().__getitem__(self.names.index(key) if isinstance(key, str) else key)


class _PostgreSQLConnection:
    """A psycopg connection that takes the store's SQL as written for both, with ? for each value."""

    def __init__(self, db):
        self.db = db

    def execute(self, sql, params=()):
        return self.db.execute(sql.replace("?", "%s"), params)

    def executemany(self, sql, params):
        with self.db.cursor() as cursor:
            cursor.executemany(sql.replace("?", "%s"), params)


class _PostgreSQL:
    """A database that several stations write at once: each operation one connection, one transaction."""
    LIKE_ANY_CASE = "ILIKE"
    GRADE_ANY_CASE = "upper(grade) = upper(?)"
    ANY_MEASURED = "BOOL_OR({} IS NOT NULL)"

    def __init__(self, url):
        self.url = url
        self.where = without_password(url)

    @contextmanager
    def connect(self):
        import psycopg  # only where a central database is used: a kit's own commands start without it
        try:
            db = psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S, row_factory=_rows)
        except psycopg.OperationalError as e:
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__  # libpq's own words
            raise DatabaseUnreachable(f"{self.where}: {reason}") from None
        with db:  # commits, or rolls back on error; then closes
            yield _PostgreSQLConnection(db)

    @staticmethod
    def prepare(db):
        db.execute("SELECT pg_advisory_xact_lock(19)")  # one station creates or migrates the table at a time

    @staticmethod
    def lock_schema(db):
        pass  # prepare() holds the lock already

    @staticmethod
    def columns(db) -> set[str]:
        return {row[0] for row in db.execute("SELECT column_name FROM information_schema.columns "
                                             "WHERE table_schema = current_schema() AND table_name = 'runs'")}

    @staticmethod
    def field(name: str) -> str:
        return f"NULLIF(record_json::jsonb -> '{name}', 'null'::jsonb)"  # JSON null reads as SQL NULL, as in SQLite

    @staticmethod
    def check_quantities(selection: str) -> str:
        return (f"SELECT DISTINCT checks.value ->> 'quantity' FROM ({selection}) AS run, "
                f"jsonb_array_elements(run.record_json::jsonb -> 'verdict' -> 'checks') AS checks(value)")

    @staticmethod
    def json_value(value):
        return value  # psycopg reads jsonb as Python objects already


def _rows(cursor):
    names = [column.name for column in cursor.description or ()]
    return lambda values: _Row(names, values)


def is_database_url(target) -> bool:
    return urlsplit(str(target)).scheme in DATABASE_SCHEMES


class Store:
    """All runs in one database: a file path (SQLite) or a postgresql:// URL."""

    def __init__(self, target):
        self.dialect = _PostgreSQL(str(target)) if is_database_url(target) else _SQLite(target)
        self.where = self.dialect.where
        try:
            with self._connect() as db:
                self.dialect.prepare(db)
                columns = ", ".join(f"{name} {kind}" for name, kind in _COLUMNS.items())
                db.execute(f"CREATE TABLE IF NOT EXISTS runs ({columns}, record_json TEXT NOT NULL)")
                self._migrate(db)
                db.execute("CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at)")
        except sqlite3.DatabaseError as e:
            raise StoreError(f"the run database {self.where} cannot be used ({e}): move it aside if it is damaged "
                             f"(each run's folder keeps its journal and record)") from None

    def _connect(self):
        return self.dialect.connect()

    def _migrate(self, db):
        """Give a database made by an older pbgrade the columns it lacks, filled from each run's record."""
        def missing():
            present = self.dialect.columns(db)
            return [column for column in _COLUMNS if column not in present]

        if not missing():
            return
        self.dialect.lock_schema(db)
        columns = missing()
        if not columns:
            return
        for column in columns:
            db.execute(f"ALTER TABLE runs ADD COLUMN {column} {_COLUMNS[column]}")
        fill = f"UPDATE runs SET {', '.join(f'{c} = ?' for c in columns)} WHERE run_id = ?"
        records = db.execute("SELECT record_json FROM runs")  # a record at a time: the file may be large
        db.executemany(fill, ([*(row[c] for c in columns), row["run_id"]]
                              for row in map(_row, (json.loads(r["record_json"]) for r in records))))

    def add(self, record: dict):
        if not self.add_missing([record]):
            raise ValueError(f"run {record['run_id']} is already in {self.where}")

    def add_missing(self, records) -> int:
        """Add those of `records` whose run id the store lacks, in one transaction: how many were added.
        Idempotent: a record sent twice (a sync cut off and done again) is stored once."""
        added = 0
        try:
            with self._connect() as db:
                for record in records:
                    row = _row(record)
                    added += db.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))}) "
                                        f"ON CONFLICT (run_id) DO NOTHING", list(row.values())).rowcount
        except sqlite3.OperationalError as e:  # a full disk, a read-only file: each record stays in its folder
            raise StoreError(f"the run database {self.where} cannot take a record ({e}): the run's folder keeps "
                             f"it; once there is room, `pbgrade rebuild` (or the next `pbgrade history`) adds "
                             f"it") from None
        return added

    def known(self, run_ids) -> set[str]:
        """Those of `run_ids` the store has."""
        run_ids = list(run_ids)
        with self._connect() as db:
            return {row[0] for start in range(0, len(run_ids), 500) for row in db.execute(
                f"SELECT run_id FROM runs WHERE run_id IN ({', '.join('?' * len(run_ids[start:start + 500]))})",
                run_ids[start:start + 500])}

    def get(self, run_id: str) -> dict | None:
        with self._connect() as db:
            row = db.execute("SELECT record_json FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else json.loads(row["record_json"])

    def runs(self, matching: RunFilter = RunFilter(), quantities=()) -> list[dict]:
        """A summary of each matching run, its label included (for the limits a label sets), oldest first;
        with the record's value of each of `quantities` (None: not measured)."""
        extra = [f"{self.record_field(name)} AS {name}" for name in quantities if name not in _COLUMNS]
        return [{**dict(row), "passed": bool(row["passed"]), "label": self.dialect.json_value(row["label"])}
                for row in self.rows([*_COLUMNS, *extra, f"{self.record_field('label')} AS label"], matching)]

    def rows(self, columns, matching: RunFilter = RunFilter()):
        """Each matching run's `columns` (SQL on the runs table: its columns, or record_field(...)),
        oldest first, one row at a time (read by position or by name, as a sqlite3.Row).

        The filter runs in the database: only the matching runs' rows leave it.
        """
        selection, params = _selection(matching, self.dialect)
        with self._connect() as db:
            yield from db.execute(f"SELECT {', '.join(columns)} FROM ({selection}) AS matching "
                                  f"ORDER BY started_at, run_id", params)

    def graded_quantities(self, matching: RunFilter = RunFilter()) -> set[str]:
        """The quantities the matching runs' profiles graded, as their records' checks name them."""
        selection, params = _selection(matching, self.dialect)
        with self._connect() as db:
            return {row[0] for row in db.execute(self.dialect.check_quantities(selection), params)}

    def measured_quantities(self, names, matching: RunFilter = RunFilter()) -> list[str]:
        """Those of `names` (record fields) that at least one matching run measured, in the order given."""
        if not names:
            return []
        selection, params = _selection(matching, self.dialect)
        present = ", ".join(self.dialect.ANY_MEASURED.format(self.record_field(n)) for n in names)
        with self._connect() as db:
            seen = db.execute(f"SELECT {present} FROM ({selection}) AS matching", params).fetchone()
        return [name for name, measured in zip(names, seen) if measured]

    def record_field(self, name: str) -> str:
        """SQL for a top-level field of the stored record; the name must be a plain one (a quantity's)."""
        if not name.isidentifier():
            raise ValueError(f"{name!r} is not a record field")
        return self.dialect.field(name)


def _selection(matching: RunFilter, dialect) -> tuple[str, list]:
    """The matching runs as a query of the runs table's rows, and its parameters."""
    where, params = _where(matching, dialect)
    source = f"SELECT * FROM runs WHERE {where}"
    if matching.latest_per_unit:  # a run without a serial is a unit of its own
        source = (f"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY COALESCE(serial, run_id) "
                  f"ORDER BY started_at DESC, run_id DESC) AS newest FROM runs WHERE {where}) AS ranked "
                  f"WHERE newest = 1")
    latest = f"{source} ORDER BY started_at DESC, run_id DESC"
    if matching.limit is not None:
        latest += " LIMIT ?"
        params.append(matching.limit)
    return latest, params
