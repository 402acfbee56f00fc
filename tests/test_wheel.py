"""The wheel carries everything a run needs: built from the sources, installed into a fresh venv, and run
from a folder outside the checkout, the simulated rig tests a unit with the full and the quick method.

The fresh venv gets the wheel alone (pip --no-deps) and borrows this venv's installed dependencies
through a .pth file: offline and quick, and still nothing of the checkout is on its path."""
import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from pbgrade import versions

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "host", "firmware", "rigs", "protocol")  # what a build reads


def run(*args, **kwargs):
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, **kwargs)
    assert proc.returncode == 0, f"{args} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc.stdout


@pytest.fixture
def installed(tmp_path):
    """(the fresh venv's bin folder, the environment to run it in, a working folder outside the checkout)."""
    tmp = tmp_path
    source = tmp / "source"  # a copy: the build writes build/ and *.egg-info beside the sources
    shutil.copytree(ROOT, source, ignore=lambda folder, names: [
        n for n in names if n in ("__pycache__", "build") or n.endswith(".egg-info")
        or (Path(folder) == ROOT and n not in SOURCES)])
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", tmp / "dist", source)
    wheel, = (tmp / "dist").glob("pbgrade-*.whl")
    venv = tmp / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", "--no-index", wheel)
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip())
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    env = {"PATH": f"{venv / 'bin'}:{Path(sys.executable).parent}:/usr/bin:/bin",  # this venv's: micropython
           "HOME": str(elsewhere), "PBGRADE_DATA": str(elsewhere / "data"), "PBGRADE_CONFIG": str(elsewhere / "config")}
    return venv / "bin", env, elsewhere


def test_the_installed_wheel_runs_tests_from_outside_the_checkout(installed):
    """One test, so that parallel workers do not each build the wheel."""
    bin_dir, env, elsewhere = installed
    where = json.loads(run(bin_dir / "python", "-c", "import json; from pbgrade import i18n, paths; print(json.dumps("
                           "dict({k: str(getattr(paths, k)) for k in ('FIRMWARE', 'SIM', 'DUTS', 'PROTOCOL', 'METHODS', "
                           "'PROFILES', 'REPORT_TEMPLATE')}, LOCALE_DIR=str(i18n.catalogue('zh-CN') and i18n.LOCALE_DIR))))",
                           env=env, cwd=elsewhere))
    for name, path in where.items():
        assert Path(path).is_relative_to(bin_dir.parent) and Path(path).exists(), (name, path)
    assert run(bin_dir / "pbgrade", "--version", env=env, cwd=elsewhere).strip() == versions.summary()
    for method in ("full", "quick"):
        record_file = elsewhere / f"{method}.json"
        run(bin_dir / "pbgrade", "run", "--rig", "sim", "--method", method, "--json", record_file, env=env,
            cwd=elsewhere)
        record = json.loads(record_file.read_text())
        assert record["method"] == method and record["status"] == "complete"
        assert record["firmware_version"] == versions.firmware_version()  # the shipped firmware is what ran
        assert record["run_id"] in run(bin_dir / "pbgrade", "history", env=env, cwd=elsewhere)
