"""pbgrade where its users are: no POSIX-only module needed to import or start it (Windows), a simulated rig
that says in one line when there is no micropython for the platform, and PDFs through any Chromium-family
browser. The socket link of the simulated rig is tested end to end in test_e2e.py."""
import os
import stat
import subprocess
import sys

import pytest

from pbgrade import cli, report, simrig

POSIX_ONLY = ("fcntl", "termios", "tty", "pty", "resource")

# Third-party libraries pick their platform's code themselves (pyserial's serialposix needs fcntl here, as
# serialwin32 needs ctypes on Windows): they are imported first; then every pbgrade module must import, and
# the CLI start, with the POSIX-only modules gone.
BLOCKED_IMPORT = f"""
import contextlib, importlib, pkgutil, sys
import argcomplete, numpy, platformdirs, serial, serial.urlhandler.protocol_socket, rich, pyvisa, matplotlib
for name in {POSIX_ONLY!r}:
    sys.modules[name] = None  # `import name` now raises ImportError, as on Windows
import pbgrade
names = [m.name for m in pkgutil.walk_packages(pbgrade.__path__, "pbgrade.")]
for name in names:
    importlib.import_module(name)
print(len(names), "modules:", *names)
from pbgrade.cli import main
for argv in (["--help"], ["history", "--help"]):
    with contextlib.suppress(SystemExit):
        main(argv)
sys.exit(main(["clear", "--port", "COM3"]))
"""


def test_every_module_imports_and_the_cli_starts_without_posix_only_modules(tmp_path):
    env = dict(os.environ, PBGRADE_DATA=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", BLOCKED_IMPORT], capture_output=True, text=True, env=env,
                          timeout=120)
    imported = next((line.split() for line in proc.stdout.splitlines() if " modules: " in line), None)
    assert imported, proc.stderr
    assert int(imported[0]) >= 40 and "pbgrade.simrig" in imported and "pbgrade.steps.discharge" in imported
    assert "usage: pbgrade [-h]" in proc.stdout and "usage: pbgrade history" in proc.stdout
    # COM3 goes to pyserial as it is: here it is no device, in one line; on Windows pyserial opens it
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "cannot open serial port COM3" in proc.stderr


def test_no_micropython_for_the_platform_is_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("PBGRADE_DATA", str(tmp_path))
    monkeypatch.setattr(simrig.shutil, "which", lambda *args, **kwargs: None)  # the lookup finds nothing
    assert cli.main(["run", "--method", "quick"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"no micropython interpreter found for the simulated rig on {sys.platform}" in err


def test_the_default_link_is_the_pty_where_there_is_one(monkeypatch):
    assert simrig.default_link() == "pty"
    monkeypatch.delattr(simrig.os, "openpty")  # as on Windows
    assert simrig.default_link() == "socket"


def fake_browser(folder, name):
    path = folder / name
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_any_chromium_family_browser_on_path_prints(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(report, "BROWSER_PATHS", ())
    edge = fake_browser(tmp_path, "msedge")
    assert report.find_browser() == str(edge)
    chrome = fake_browser(tmp_path, "google-chrome")
    assert report.find_browser() == str(chrome)  # the earlier name in BROWSERS wins


def test_a_browser_at_an_install_path_is_found(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    app = fake_browser(tmp_path, "Google Chrome")
    monkeypatch.setattr(report, "BROWSER_PATHS", (str(tmp_path / "nothing.exe"), str(app)))
    assert report.find_browser() == str(app)


def test_no_browser_is_one_line_naming_what_was_searched(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(report, "BROWSER_PATHS", (str(tmp_path / "Chrome.app"),))
    with pytest.raises(report.ReportError) as e:
        report.find_browser()
    message = str(e.value)
    assert "\n" not in message and "chromium-browser, google-chrome" in message and "msedge" in message
    assert "Chrome.app" in message and "browser = " in message


def test_the_settings_browser_comes_first_and_a_wrong_one_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("PBGRADE_CONFIG", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    fake_browser(tmp_path, "chromium")
    mine = fake_browser(tmp_path, "my-chrome")
    (tmp_path / "settings.toml").write_text(f'browser = "{mine}"\n')
    assert report.find_browser() == str(mine)
    (tmp_path / "settings.toml").write_text(f'browser = "{tmp_path / "gone"}"\n')
    with pytest.raises(report.ReportError, match="is not an executable"):
        report.find_browser()
