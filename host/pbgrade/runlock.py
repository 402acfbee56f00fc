"""A run is driven by one host at a time: its folder holds a lock file naming
the host that drives it (pid, hostname, start time), taken atomically
(O_CREAT|O_EXCL) when the run starts and when it is resumed, released however
that host's command ends.

Without it a second `pbgrade resume RUN` while the first host still ran took
the port from it and STOPped the discharge it was measuring. A lock left by a
host that was killed (SIGKILL, a power cut) is stale: on the same machine,
once its pid is gone, the next host takes it over and says so. A lock from
another machine cannot be checked from here, so it is refused, naming that
host and pid.
"""
import json
import os
import socket
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from .manifest import RunFolderUnwritable

LOCK = "host.lock"


class RunLocked(Exception):
    """Another live host drives the run, or its lock cannot be read: the message says what to do."""


@contextmanager
def held(run_dir, say=lambda line: print(f"pbgrade: {line}", file=sys.stderr)):
    """Hold run_dir's lock for the block; say(line) tells of a stale lock taken over."""
    path = Path(run_dir) / LOCK
    _take(path, say)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _take(path, say):
    mine = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                       "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}).encode()
    for _ in range(2):  # a stale lock is set aside once, then taken like a free one
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            _set_aside_if_stale(path, say)
            continue
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(mine)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:  # a full disk: no half lock left behind, one line
            path.unlink(missing_ok=True)
            raise RunFolderUnwritable(path, e) from None
        return
    raise RunLocked(f"{path}: another host took this run's lock at the same moment; try again")


def _set_aside_if_stale(path, say):
    """Remove path if it is the lock of a host on this machine whose pid is gone; RunLocked otherwise."""
    try:
        judged = path.read_bytes()
        lock = _parse(judged, path)
    except FileNotFoundError:
        return  # released meanwhile
    here = socket.gethostname()
    run = path.parent.name
    if lock["host"] != here:
        raise RunLocked(f"run {run} is driven by host {lock['host']} (pid {lock['pid']}, since {lock['started_at']}): "
                        f"go on there, or, if that host is down for good, delete {path} and resume here")
    if _alive(lock["pid"]):
        raise RunLocked(f"run {run} is driven by pid {lock['pid']} on this host (since {lock['started_at']}): "
                        f"wait for it to end, or stop it (Ctrl-C there, or kill {lock['pid']}) and resume then")
    stale = path.with_name(f"{LOCK}.stale-{os.getpid()}")
    try:
        os.rename(path, stale)
    except FileNotFoundError:
        return  # another host set it aside first: the next O_EXCL decides between us
    if stale.read_bytes() != judged:  # that host had already taken the lock anew: give its lock back
        os.link(stale, path)
        stale.unlink()
        raise RunLocked(f"run {run}: another host took over its stale lock at the same moment: it drives the run")
    say(f"run {run}: taking over the lock of pid {lock['pid']}, which is gone (it stopped without releasing it)")
    stale.unlink()


def _parse(data, path):
    try:
        lock = json.loads(data)
        if isinstance(lock, dict) and isinstance(lock.get("pid"), int) and isinstance(lock.get("host"), str):
            return {"started_at": "?", **lock}
    except (UnicodeDecodeError, ValueError):
        pass
    raise RunLocked(f"{path}: this run's lock is damaged (a host killed as it took it?): if no host drives this "
                    f"run, delete the file and try again")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
