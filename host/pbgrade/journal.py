"""Append-only journal of a run: what the host sent as configuration, and
every byte it received, as received, one file per step of the method
(rx-0-identify.bin, rx-1-no_load.bin, ...), beside the run's own copies of the
files that decided it (inputs/: label.toml, method.toml, profile.toml), so
any result can be rebuilt from the run's folder alone (`pbgrade regrade`),
wherever the files it started from went, or with another profile on purpose.

Durability: each received chunk is written through to the OS at once (a host
crash loses nothing the kernel has), and fsync'ed at most every
FSYNC_INTERVAL_S and at close (a power cut loses at most that much).
"""
import json
import os
import time
from pathlib import Path

FSYNC_INTERVAL_S = 5.0
INPUTS = "inputs"  # the folder of a run's own copies of the files that decided it, one per kind
INPUT_KINDS = ("label", "method", "profile")


class Journal:
    def __init__(self, run_dir, meta=None, inputs=None):
        """A new run's journal, its inputs ({kind: the file's bytes}, every one of INPUT_KINDS) kept before its
        meta; without meta, the journal of a run that stopped, to go on with."""
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        if meta is not None:
            for kind, data in inputs.items():
                _write_atomically(input_file(self.dir, kind), data)
            self._write_json("meta.json", meta)
        self._rx = None
        files = step_files(self.dir)
        self._steps = len(files)
        self._synced = time.monotonic()
        if files:  # resuming: the step that was running goes on in its own file
            self._rx = open(files[-1], "ab", buffering=0)
            self._rx.write(b"\x00")  # ends a frame cut off by the stop, so it cannot swallow the next

    def begin(self, step_name):
        """Received bytes go to this step's file from now on."""
        self.close()
        self._rx = open(self.dir / f"rx-{self._steps}-{step_name}.bin", "ab", buffering=0)
        self._steps += 1

    def received(self, chunk):
        self._rx.write(chunk)
        if time.monotonic() - self._synced > FSYNC_INTERVAL_S:
            os.fsync(self._rx.fileno())
            self._synced = time.monotonic()

    def update_meta(self, **fields):
        meta = read_meta(self.dir)
        meta.update(fields)
        self._write_json("meta.json", meta)

    def save_record(self, record):
        self._write_json("record.json", record)

    def close(self):
        if self._rx is not None and not self._rx.closed:
            os.fsync(self._rx.fileno())
            self._rx.close()

    def _write_json(self, name, data):
        _write_atomically(self.dir / name, json.dumps(data, indent=1).encode())


def _write_atomically(path, data: bytes):
    """Whole or not at all, even across a power cut: written beside, synced, then renamed over."""
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def input_file(run_dir, kind):
    """The run's own copy of its label, method or profile file (kind: one of INPUT_KINDS)."""
    return Path(run_dir) / INPUTS / f"{kind}.toml"


def read_meta(run_dir):
    return json.loads((Path(run_dir) / "meta.json").read_text())


def step_files(run_dir):
    """The received-bytes file of each step, in the order the steps ran."""
    return sorted(Path(run_dir).glob("rx-*.bin"), key=lambda p: int(p.name.split("-")[1]))


def read_received(path, chunk_size=1 << 20):
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            yield chunk
