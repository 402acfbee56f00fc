"""Append-only journal of a run: what the host sent as configuration, and
every byte it received, as received, one file per step of the method
(rx-0-identify.bin, rx-1-no_load.bin, ...), beside the run's own copies of the
files that decided it (inputs/: label.toml, method.toml, profile.toml), so
any result can be rebuilt from the run's folder alone (`pbgrade regrade`),
wherever the files it started from went, or with another profile on purpose.

Durability: each received chunk is written through to the OS at once (a host
crash loses nothing the kernel has), and fsync'ed at most every
FSYNC_INTERVAL_S and at close (a power cut loses at most that much). The manifest
(manifest.py) follows each fsync and each whole-file write, so the folder carries its own integrity.
"""
import json
import os
import re
import time
from datetime import datetime
from pathlib import Path

from .manifest import RESTORE, Manifest, RunFolderUnwritable, write_atomically
from .tomlcheck import read_json

FSYNC_INTERVAL_S = 5.0
INPUTS = "inputs"  # the folder of a run's own copies of the files that decided it, one per kind
INPUT_KINDS = ("label", "method", "profile")
STEP_FILE = re.compile(r"rx-(\d+)-(\w+)\.bin")
# what a re-grade and a resume read from meta.json: key -> the kinds it may be
META_KINDS = {"run_id": (str,), "started_at": (str,), "port": (str,), "method": (str,), "plans": (list,),
              "label_path": (str,), "profile": (str,), "rig": (dict,)}


class RunFolderError(Exception):
    """A run's folder is missing, partial or damaged: the message names the file and what to do."""


class Journal:
    def __init__(self, run_dir, meta=None, inputs=None):
        """A new run's journal, its inputs ({kind: the file's bytes}, every one of INPUT_KINDS) kept before its
        meta; without meta, the journal of a run that stopped, to go on with."""
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.manifest = Manifest(self.dir)
        if meta is not None:
            for kind, data in inputs.items():
                self._write_whole(input_file(self.dir, kind), data)
            self._write_json("meta.json", meta)
        self._rx = None
        files = step_files(self.dir)
        self._steps = len(files)
        self._synced = time.monotonic()
        if files:  # resuming: the step that was running goes on in its own file
            self._open(files[-1])
            self.received(b"\x00")  # ends a frame cut off by the stop, so it cannot swallow the next

    def begin(self, step_name):
        """Received bytes go to this step's file from now on."""
        self.close()
        self._open(self.dir / f"rx-{self._steps}-{step_name}.bin")
        self._steps += 1
        self._sync()

    def _open(self, path):
        self._rx = open(path, "ab", buffering=0)
        self._rx_hash = self.manifest.hasher(path.name)
        self._rx_bytes = path.stat().st_size

    def received(self, chunk):
        try:
            self._rx.write(chunk)
        except OSError as e:  # a full disk mid-step: one line; the runner switches the load off on its way out
            raise RunFolderUnwritable(self._rx.name, e) from None
        self._rx_hash.update(chunk)
        self._rx_bytes += len(chunk)
        if time.monotonic() - self._synced > FSYNC_INTERVAL_S:
            self._sync()

    def _sync(self):
        """The step's file on disk, then the manifest saying so: it never claims a byte a power cut can take."""
        try:
            os.fsync(self._rx.fileno())
        except OSError as e:
            raise RunFolderUnwritable(self._rx.name, e) from None
        self.manifest.appended(Path(self._rx.name).name, self._rx_bytes, self._rx_hash.hexdigest())
        self._synced = time.monotonic()

    def update_meta(self, **fields):
        meta = read_meta(self.dir)
        meta.update(fields)
        self._write_json("meta.json", meta)

    def save_record(self, record):
        keep_record(self.dir, record, self.manifest)

    def close(self):
        if self._rx is not None and not self._rx.closed:
            self._sync()
            self._rx.close()

    def _write_json(self, name, data):
        self._write_whole(self.dir / name, json.dumps(data, indent=1).encode())

    def _write_whole(self, path, data: bytes):
        self.manifest.write_whole(path.relative_to(self.dir).as_posix(), data,
                                  lambda data: write_atomically(path, data))


def keep_record(run_dir, record, manifest=None):
    """A run's record into its folder (record.json), the manifest following."""
    path = Path(run_dir) / "record.json"
    (manifest or Manifest(run_dir)).write_whole(path.name, json.dumps(record, indent=1).encode(),
                                                lambda data: write_atomically(path, data))


def input_file(run_dir, kind):
    """The run's own copy of its label, method or profile file (kind: one of INPUT_KINDS)."""
    return Path(run_dir) / INPUTS / f"{kind}.toml"


def read_meta(run_dir):
    """A run's meta.json, checked: every field a re-grade or a resume reads is there and of its kind, so a
    damaged one is one line (RunFolderError), never a KeyError or TypeError deep in a replay."""
    path = Path(run_dir) / "meta.json"
    meta = read_json(path, RunFolderError, RESTORE)
    problem = _meta_problem(meta)
    if problem:
        raise RunFolderError(f"{path}: is damaged ({problem}): {RESTORE}")
    return meta


def read_record(run_dir):
    """The record a run saved (record.json), or None if it saved none; RunFolderError if it is damaged."""
    path = Path(run_dir) / "record.json"
    if not path.exists():
        return None
    todo = "delete it: the run's result is then rebuilt from its journal (`pbgrade regrade`, `pbgrade report`)"
    record = read_json(path, RunFolderError, todo)
    if not (isinstance(record, dict) and isinstance(record.get("run_id"), str)):
        raise RunFolderError(f"{path}: is damaged (not a run's record): {todo}")
    return record


def _meta_problem(meta):
    if not isinstance(meta, dict):
        return "not a JSON object"
    for key, kinds in META_KINDS.items():
        if not isinstance(meta.get(key), kinds):
            return f"{key} is {'missing' if key not in meta else f'{meta[key]!r}'}"
    try:
        datetime.fromisoformat(meta["started_at"])
    except ValueError:
        return f"started_at {meta['started_at']!r} is not a time"
    rig = meta["rig"]
    if not all(isinstance(rig.get(table), dict) for table in ("rig", "load", "limits")):
        return "its rig lacks its [rig], [load] or [limits] table"
    return None


def step_files(run_dir):
    """The received-bytes file of each step, in the order the steps ran; RunFolderError if one is missing
    between them or a file is not one the journal writes."""
    files = sorted(Path(run_dir).glob("rx-*.bin"))
    numbered = {}
    for path in files:
        match = STEP_FILE.fullmatch(path.name)
        if match is None:
            raise RunFolderError(f"{path}: is not a file pbgrade's journal writes (rx-N-STEP.bin): move it out "
                                 f"of the run's folder")
        numbered[int(match[1])] = path
    missing = sorted(set(range(len(numbered))) - set(numbered))
    if missing:
        raise RunFolderError(f"{run_dir}: the journal of step {missing[0]} (rx-{missing[0]}-*.bin) is missing: "
                             f"{RESTORE}")
    return [numbered[n] for n in sorted(numbered)]


def read_received(path, chunk_size=1 << 20):
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            yield chunk
