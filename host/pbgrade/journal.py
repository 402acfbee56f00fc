"""Append-only journal of a run: what the host sent as configuration, and
every byte it received, as received. Any result can be rebuilt from it
(`pbgrade regrade`), with another profile too.

Durability: each received chunk is written through to the OS at once (a host
crash loses nothing the kernel has), and fsync'ed at most every
FSYNC_INTERVAL_S and at close (a power cut loses at most that much).
"""
import json
import os
import time
from pathlib import Path

FSYNC_INTERVAL_S = 5.0


class Journal:
    def __init__(self, run_dir, meta):
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._write_json("meta.json", meta)
        self._rx = open(self.dir / "rx.bin", "ab", buffering=0)
        self._synced = time.monotonic()

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
        if not self._rx.closed:
            os.fsync(self._rx.fileno())
            self._rx.close()

    def _write_json(self, name, data):
        tmp = self.dir / (name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.dir / name)


def read_meta(run_dir):
    return json.loads((Path(run_dir) / "meta.json").read_text())


def read_received(run_dir, chunk_size=1 << 20):
    with open(Path(run_dir) / "rx.bin", "rb") as f:
        while chunk := f.read(chunk_size):
            yield chunk
