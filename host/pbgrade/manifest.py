"""A run folder's own integrity: every file the journal writes, with its length and SHA-256, in
manifest.json, so that a journal cut short, emptied or edited is reported as damaged, never graded as a
short run (issue 21).

A received-bytes file's entry covers what was synced to disk when the entry was written (the journal
writes it at each fsync): after a crash the file may hold more (what landed after the last checkpoint),
never less, and its first `bytes` always hash as listed. A file written whole (meta.json, record.json,
inputs/) lists every hash it may have: the new one is added before the file is replaced and the old one
dropped after, so a kill between the two leaves a folder that still checks. The record (record.json) is
derived from the rest: deleting it is allowed (it is rebuilt), editing it is not.
"""
import hashlib
import json
import os
from pathlib import Path

MANIFEST = "manifest.json"
UNCHECKED = "no manifest: integrity unchecked"  # a run recorded before runs had a manifest
ABSENT = "absent"  # what a file written whole for the first time may still be after a kill
DERIVED = {"record.json": "delete it: the run's result is then rebuilt from its journal (`pbgrade regrade`)"}
RESTORE = "restore the run's folder from a backup; without it the run cannot be re-read"


class RunFolderUnwritable(Exception):
    """A run's file could not be written (a full disk, a folder made read-only): one line, no stray .tmp."""

    def __init__(self, path, error: OSError):
        super().__init__(f"{path}: cannot be written ({error.strerror or error}): free space on its disk, or make "
                         f"its folder writable, then start again")


class JournalDamaged(Exception):
    """A file of a run's folder is not what the manifest says: the message names it and how it differs."""


class Manifest:
    """The manifest of one run's folder, kept up to date as the journal writes."""

    def __init__(self, run_dir):
        self.dir = Path(run_dir)
        path = self.dir / MANIFEST
        self.files = _read(path)["files"] if path.exists() else {}

    def write_whole(self, name, data: bytes, write):
        """write(data) replaces the file `name` (relative to the run's folder) whole; the manifest knows
        the new content before, and only it after."""
        digest = hashlib.sha256(data).hexdigest()
        self.files[name] = {"sha256": [*self.files.get(name, {}).get("sha256", [ABSENT])[-1:], digest]}
        self._save()
        write(data)
        self.files[name] = {"sha256": [digest]}
        self._save()

    def appended(self, name, length, digest):
        """The file `name` (received bytes) now has `length` bytes on disk, whose SHA-256 is digest."""
        self.files[name] = {"bytes": length, "sha256": digest}
        self._save()

    def hasher(self, name):
        """A SHA-256 of the received-bytes file `name` as it is now, to go on appending to."""
        digest = hashlib.sha256()
        path = self.dir / name
        if path.exists():
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
        return digest

    def _save(self):
        write_atomically(self.dir / MANIFEST, json.dumps({"files": self.files}, indent=1).encode())


def write_atomically(path, data: bytes):
    """Whole or not at all, even across a power cut: written beside, synced, then renamed over. A write that
    fails (a full disk) leaves no stray .tmp file and is one line (RunFolderUnwritable)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        raise RunFolderUnwritable(path, e) from None
    finally:
        tmp.unlink(missing_ok=True)


def check(run_dir):
    """None if every file the manifest lists is as it says, UNCHECKED if the run has no manifest;
    JournalDamaged (one line, naming the file) otherwise."""
    run_dir = Path(run_dir)
    path = run_dir / MANIFEST
    if not path.exists():
        return UNCHECKED
    run = run_dir.name
    for name, entry in _read(path)["files"].items():
        file = run_dir / name
        if not file.is_file():
            if name in DERIVED or ABSENT in entry["sha256"]:
                continue
            raise JournalDamaged(f"run {run}: {name} is missing, the manifest lists it: {RESTORE}")
        if "bytes" in entry:
            size = file.stat().st_size
            if size < entry["bytes"]:
                raise JournalDamaged(f"run {run}: {name} is {size:,} bytes, the manifest says {entry['bytes']:,}: "
                                     f"the journal was cut: {RESTORE}")
            if _prefix_sha256(file, entry["bytes"]) != entry["sha256"]:
                raise JournalDamaged(f"run {run}: {name} is not what was received (its first {entry['bytes']:,} "
                                     f"bytes differ from the manifest's SHA-256): the journal was edited: {RESTORE}")
        elif _prefix_sha256(file, None) not in entry["sha256"]:
            raise JournalDamaged(f"run {run}: {name} differs from the manifest's SHA-256: it was edited after "
                                 f"the run wrote it: {DERIVED.get(name, RESTORE)}")
    return None


def _prefix_sha256(path, length):
    digest, left = hashlib.sha256(), length
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20 if left is None else min(1 << 20, left)):
            digest.update(chunk)
            if left is not None:
                left -= len(chunk)
    return digest.hexdigest()


def _read(path):
    try:
        manifest = json.loads(Path(path).read_bytes())
    except (OSError, ValueError) as e:
        raise JournalDamaged(f"{path}: cannot be read ({e}): {RESTORE}") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not (isinstance(files, dict) and all(_entry_ok(e) for e in files.values())):
        raise JournalDamaged(f"{path}: is damaged (not a run's manifest): {RESTORE}")
    return manifest


def _entry_ok(entry):
    if not isinstance(entry, dict):
        return False
    if "bytes" in entry:
        return isinstance(entry["bytes"], int) and isinstance(entry.get("sha256"), str)
    return isinstance(entry.get("sha256"), list) and all(isinstance(d, str) for d in entry["sha256"])
