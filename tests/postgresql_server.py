"""A real PostgreSQL server for the tests (no mocks): Debian's postgresql package, initdb and pg_ctl in a
temporary folder, reached by its unix socket only (no TCP port to collide with another worker or session).

initdb refuses to run as root, and CI runs as root: there the server runs as `nobody`, in a folder it may
enter (mkdtemp's own is private to root). One server per test session (per xdist worker); each test module
or test takes a database of its own from it.
"""
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest

SUPERUSER = "pbgrade"


def _bindir() -> Path:
    """Debian keeps the server's programs out of PATH, one folder per major version: the newest."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    initdb = found[-1] if found else shutil.which("initdb")
    if initdb is None:
        pytest.fail("PostgreSQL's initdb not found: run `make setup` (it installs Debian's postgresql package)")
    return Path(initdb).parent


class PostgreSQLServer:
    def __init__(self, base: Path):
        self.bindir = _bindir()
        self.data = base / "data"  # the cluster, its log and its socket
        self.as_user = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
        self.data.mkdir()
        if self.as_user:
            shutil.chown(self.data, "nobody")
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", SUPERUSER, "-E", "UTF8", "--no-sync")
        self.start()

    def _run(self, program, *args):
        subprocess.run([*self.as_user, self.bindir / program, *map(str, args)], check=True, capture_output=True,
                       timeout=120)

    def start(self):
        options = f"-k {self.data} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", self.data, "-l", self.data / "server.log", "-o", options, "-w", "start")

    def stop(self):
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def url(self, database="postgres") -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.data}"

    def new_database(self) -> str:
        """A fresh, empty database on this server: its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@pytest.fixture(scope="session")
def postgresql_server():
    base = Path(tempfile.mkdtemp(prefix="pbgrade-postgresql-"))
    base.chmod(0o755)  # the server's user enters it
    server = PostgreSQLServer(base)
    yield server
    server.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgresql_database(postgresql_server):
    """A fresh database of its own for one test: its URL."""
    return postgresql_server.new_database()
