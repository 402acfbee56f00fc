"""The result of one run as a JSON-ready record, and the SQLite file that keeps all of them."""
import dataclasses
import json
import secrets
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

RECORD_VERSION = 1


def build_record(*, measurements: dict, integrator, label, profile, verdict, cutoff_reason: str, rig: dict,
                 firmware_version: str, started_at: datetime | None = None, run_id: str | None = None,
                 decoder: dict | None = None) -> dict:
    """Everything a report or a later re-grade needs, in plain JSON types.

    `measurements` is what measurements_from() gave and `verdict` what grade()
    made of it; `decoder` holds the stream decoder's own counters (bad frames,
    resyncs...) for the integrity section.
    """
    started_at = started_at or datetime.now(timezone.utc)
    if started_at.tzinfo is None:
        raise ValueError("started_at must carry a time zone, e.g. datetime.now(timezone.utc)")
    started_at = started_at.astimezone(timezone.utc)
    energy = measurements["energy_wh"]
    return {
        "record_version": RECORD_VERSION,
        "run_id": run_id or f"{started_at:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}",
        "started_at": started_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        **measurements,
        "cutoff_reason": cutoff_reason,
        "samples_received": integrator.samples,
        "grade": verdict.grade,
        "passed": verdict.passed,
        "profile": profile.name,
        "verdict": {
            "decided_by": verdict.decided_by,
            "reasons": verdict.reasons,
            "checks": [dataclasses.asdict(check) for check in verdict.checks],
        },
        "label": label.as_dict(),
        "rig": rig,
        "firmware_version": firmware_version,
        "gaps": [{"start_us": start, "end_us": end} for start, end in integrator.gaps],
        "integrity": {
            "samples_received": integrator.samples,
            "samples_lost": measurements["samples_lost"],
            "gap_count": len(integrator.gaps),
            "gap_s": integrator.gap_s,
            "span_s": integrator.span_s,
            "covered_fraction": integrator.duration_s / integrator.span_s if integrator.span_s else None,
            "gap_energy_estimate_wh": integrator.gap_energy_estimate_wh,
            "gap_charge_estimate_mah": integrator.gap_charge_estimate_mah,
            "gap_energy_share": integrator.gap_energy_estimate_wh / energy if energy else None,
            "decoder": decoder or {},
        },
    }


_COLUMNS = ("run_id", "started_at", "model", "serial", "grade", "passed", "capacity_mah", "energy_wh",
            "efficiency", "profile")


class Store:
    """All runs in one SQLite file. WAL and a busy timeout let a runner write while others read."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("""CREATE TABLE IF NOT EXISTS runs (
                run_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, model TEXT, serial TEXT,
                grade TEXT NOT NULL, passed INTEGER NOT NULL, capacity_mah REAL, energy_wh REAL,
                efficiency REAL, profile TEXT NOT NULL, record_json TEXT NOT NULL)""")

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

    def add(self, record: dict):
        row = {**{key: record.get(key) for key in _COLUMNS},
               "model": record["label"].get("model"), "serial": record["label"].get("serial"),
               "passed": int(record["passed"]), "record_json": json.dumps(record)}
        try:
            with self._connect() as db:
                db.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})", row)
        except sqlite3.IntegrityError:
            raise ValueError(f"run {record['run_id']} is already in {self.path}") from None

    def get(self, run_id: str) -> dict | None:
        with self._connect() as db:
            row = db.execute("SELECT record_json FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else json.loads(row["record_json"])

    def runs(self) -> list[dict]:
        """One summary row per run, oldest first."""
        with self._connect() as db:
            rows = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM runs ORDER BY started_at, run_id").fetchall()
        return [{**dict(row), "passed": bool(row["passed"])} for row in rows]
