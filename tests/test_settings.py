"""Settings a station sets once (settings.toml), their precedence, `pbgrade config`, and shell completion."""
import json
import os
import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

from conftest import ROOT
from pbgrade import cli, paths, settings


@pytest.fixture
def config(monkeypatch, tmp_path):
    """An empty config folder of this test's own; write(text) makes its settings.toml."""
    folder = tmp_path / "config"
    folder.mkdir()
    monkeypatch.setenv("PBGRADE_CONFIG", str(folder))
    return lambda text: (folder / "settings.toml").write_text(text)


def test_config_shows_where_the_file_is_and_each_value_with_its_source(config, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("PBGRADE_DATA", str(tmp_path / "env-data"))
    assert cli.main(["config"]) == 0
    out = capsys.readouterr().out
    assert f"settings file: {tmp_path / 'config' / 'settings.toml'} (none yet" in out
    assert "station  (default: the computer's name" in out
    config('station = "bench7"\nrig = "sim-ina228"\ndata = "/srv/runs"\nports = ["COM3", "COM4"]\n')
    assert cli.main(["config"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "station  'bench7'  (settings)" in lines and "ports    ['COM3', 'COM4']  (settings)" in lines
    assert f"data     {str(tmp_path / 'env-data')!r}  ($PBGRADE_DATA)" in lines  # the environment over the file
    monkeypatch.delenv("PBGRADE_DATA")
    assert cli.main(["config"]) == 0
    assert "data     '/srv/runs'  (settings)" in capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("text, complaint", [
    ('statoin = "bench7"\n', "settings.toml:1: statoin is not a known field: check the spelling; known fields are station,"),
    ('\nrig = 3\n', "settings.toml:2: rig must be text in quotes, got 3"),
    ('ports = "COM3"\n', "settings.toml:1: ports must be a list of texts in quotes, got 'COM3'"),
    ('sim_link = "usb"\n', "settings.toml:1: sim_link is 'usb': write one of pty, socket"),
    ('language = "zh"\n', "settings.toml:1: language is 'zh': write one of en, zh-CN"),
    ('station = "bench7\n', "settings.toml: is not valid TOML"),
])
def test_a_wrong_setting_is_one_line_naming_it(config, capsys, text, complaint):
    config(text)
    assert cli.main(["history"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and complaint in err


def test_the_data_folder_flag_env_settings_default(config, monkeypatch, tmp_path):
    monkeypatch.delenv("PBGRADE_DATA", raising=False)
    assert paths.data_dir() == settings.data_dir()[0] == Path(platformdirs.user_data_dir("pbgrade"))
    config(f'data = "{tmp_path / "from-settings"}"\n')
    assert paths.data_dir() == tmp_path / "from-settings"
    monkeypatch.setenv("PBGRADE_DATA", str(tmp_path / "from-env"))
    assert paths.data_dir() == tmp_path / "from-env"


def parsed(*argv):
    args = cli._parser().parse_args(argv)
    settings.fill(args)
    return args


def test_flags_override_settings_and_the_settings_port_goes_with_the_settings_rig(config):
    # no file: no rig chosen yet (with --port the device's, else sim: testsetup.tested_rig), no port, the platform's link
    assert (parsed("run").rig, parsed("run").port, parsed("run").sim_link) == (None, None, None)
    config('rig = "pico-ina226"\nport = "COM3"\nports = ["COM3", "COM4"]\nsim_link = "socket"\n')
    assert (parsed("run").rig, parsed("run").port) == ("pico-ina226", "COM3")
    assert parsed("calibrate").port == "COM3" and parsed("station", "--label", "L").port == ["COM3", "COM4"]
    assert parsed("run", "--port", "COM9").port == "COM9"
    assert (parsed("run", "--rig", "sim").rig, parsed("run", "--rig", "sim").port) == ("sim", None)  # another rig
    assert parsed("run", "--rig", "pico-ina226").port == "COM3"
    assert parsed("deploy", "--rig", "pico-ina226").port == "COM3" and parsed("deploy", "--rig", "sim").port is None
    assert parsed("sim").rig == "pico-ina226" and parsed("sim").sim_link == "socket"
    assert parsed("run", "--sim-link", "pty").sim_link == "pty"
    assert parsed("resume", "RUN").port is None  # a resumed run keeps its own port
    assert parsed("run").operator is None
    config('operator = "A. Tester"\n')
    assert parsed("run").operator == parsed("station", "--label", "L").operator == "A. Tester"
    assert parsed("run", "--operator", "B. Other").operator == "B. Other"  # the flag wins


def test_a_run_takes_station_rig_data_and_link_from_the_settings(tmp_path):
    (tmp_path / "settings.toml").write_text(f'station = "bench7"\nrig = "sim-ina228"\nsim_link = "socket"\n'
                                            f'data = "{tmp_path / "runs"}"\noperator = "A. Tester"\n')
    env = {k: v for k, v in os.environ.items() if k != "PBGRADE_DATA"} | {"PBGRADE_CONFIG": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "pbgrade.cli", "run", "--method", "quick", "--json",
                           str(tmp_path / "r.json")], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["station"] == "bench7/sim-ina228" and record["samples_lost"] == 0
    assert record["operator"] == "A. Tester"  # the settings' operator, no --operator given
    (run_dir,) = (tmp_path / "runs" / "runs").iterdir()
    assert json.loads((run_dir / "meta.json").read_text())["port"].startswith("socket://127.0.0.1:")


@pytest.mark.parametrize("shell, marker", [("bash", "complete -o nospace -o default -o bashdefault -F"),
                                           ("zsh", "#compdef pbgrade")])
def test_completion_prints_the_shells_script(capsys, shell, marker):
    assert cli.main(["completion", shell]) == 0
    out = capsys.readouterr().out
    assert marker in out and "_ARGCOMPLETE" in out


@pytest.mark.parametrize("line, expected", [("pbgrade hist", {"history"}),
                                            ("pbgrade run --sim-l", {"--sim-link"}),
                                            ("pbgrade run --sim-link ", {"pty", "socket"}),
                                            ("pbgrade completion ", {"bash", "zsh"})])
def test_argcomplete_completes_commands_flags_and_choices(tmp_path, line, expected):
    """The shell's side of argcomplete's protocol: the line and cursor in, the completions out."""
    out = tmp_path / "completions"
    env = dict(os.environ, _ARGCOMPLETE="1", _ARGCOMPLETE_SHELL="bash", COMP_LINE=line, COMP_POINT=str(len(line)),
               _ARGCOMPLETE_STDOUT_FILENAME=str(out), _ARGCOMPLETE_IFS="\n")
    proc = subprocess.run([sys.executable, "-m", "pbgrade.cli"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    got = {c.strip() for c in out.read_text().split("\n") if c.strip()}
    assert expected <= got and got - expected <= {"-h", "--help", "--lang"}, got  # every command takes --lang
