"""Named rigs, methods, profiles and simulated units: a path as given, else the user's own in the
configuration folder, else the shipped one; and `pbgrade --version`."""
import re

import pytest
from pbgrade import paths, settings, wire
from pbgrade.cli import main
from pbgrade.method import MethodError, builtin_methods, load_method
from pbgrade.profile import builtin_profiles, load_profile
from pbgrade.rig import RigFileError, load_rig
from pbgrade.simdut import DutError, dut_path, matching_label
from pbgrade.versions import firmware_version


@pytest.fixture
def config(tmp_path, monkeypatch):
    folder = tmp_path / "config"
    monkeypatch.setenv("PBGRADE_CONFIG", str(folder))
    for kind in paths.SHIPPED:
        (folder / kind).mkdir(parents=True)
    return folder


def renamed(shipped, new):
    """A shipped file's text with its first name = "..." changed, to tell which file was read."""
    return re.sub(r'^name = ".*"$', f'name = "{new}"', shipped.read_text(), count=1, flags=re.M)


def test_the_users_file_overrides_the_shipped_one_by_name(config):
    (config / "rigs" / "sim.toml").write_text(renamed(paths.RIGS / "sim.toml", "my-sim"))
    (config / "methods" / "quick.toml").write_text(renamed(paths.METHODS / "quick.toml", "my-quick"))
    (config / "profiles" / "tiers.toml").write_text(renamed(paths.PROFILES / "tiers.toml", "my-tiers"))
    assert load_rig("sim")["rig"]["name"] == "my-sim"
    assert load_method("quick").name == "my-quick"
    assert load_profile("tiers").name == "my-tiers"
    assert load_method("full").name == "full"  # what the user has not replaced is still the shipped one


def test_a_path_given_as_is_comes_before_both(config, tmp_path, monkeypatch):
    (config / "methods" / "quick.toml").write_text(renamed(paths.METHODS / "quick.toml", "users"))
    given = tmp_path / "quick.toml"
    given.write_text(renamed(paths.METHODS / "quick.toml", "given"))
    assert load_method(str(given)).name == "given"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sim").write_text(renamed(paths.RIGS / "sim.toml", "file-here"))
    assert load_rig("sim")["rig"]["name"] == "file-here"
    (tmp_path / "sim").unlink()
    (tmp_path / "sim").mkdir()  # a folder of that name is no rig file: the name is looked up
    assert load_rig("sim")["rig"]["name"] == "sim-ina226"


def test_the_users_own_names_are_listed_with_the_shipped(config):
    (config / "methods" / "burn-in.toml").write_text(renamed(paths.METHODS / "full.toml", "burn-in"))
    (config / "profiles" / "shop.toml").write_text(renamed(paths.PROFILES / "tiers.toml", "shop"))
    assert builtin_methods() == ["burn-in", "cycles", "discharge", "eol", "full", "quick", "recharge"]
    assert "shop" in builtin_profiles() and "gbt35590" in builtin_profiles()
    assert load_method("burn-in").name == "burn-in"


def test_not_found_names_both_places(config):
    (config / "methods" / "burn-in.toml").write_text(renamed(paths.METHODS / "full.toml", "burn-in"))
    with pytest.raises(MethodError) as e:
        load_method("nosuch")
    assert "use one of burn-in, cycles, discharge, eol, full, quick, recharge" in str(e.value)
    assert str(config / "methods") in str(e.value) and "shipped" in str(e.value)
    with pytest.raises(RigFileError, match="nosuch: no such rig: use one of .*pico-3ch, .*sim.*yours in"):
        load_rig("nosuch")
    with pytest.raises(DutError, match="honest-10000.*yours in"):
        dut_path("nosuch")


def test_a_users_simulated_unit_brings_its_label(config):
    unit = config / "duts" / "my-bank.toml"
    unit.write_text((paths.DUTS / "honest-10000.toml").read_text())
    (config / "duts" / "my-bank.label.toml").write_text((paths.DUTS / "honest-10000.label.toml").read_text())
    assert dut_path("my-bank") == unit
    assert matching_label(unit) == config / "duts" / "my-bank.label.toml"


def test_config_dir_is_the_platforms_unless_pbgrade_config_says(monkeypatch, tmp_path):
    import platformdirs
    monkeypatch.delenv("PBGRADE_CONFIG")
    assert settings.config_dir() == paths.Path(platformdirs.user_config_dir("pbgrade"))
    monkeypatch.setenv("PBGRADE_CONFIG", str(tmp_path))
    assert settings.config_dir() == tmp_path


def test_firmware_version_is_read_from_the_source(tmp_path):
    station = tmp_path / "station.py"
    station.write_text("import wire\nIDLE = const(0)\nFW_VERSION = (3, 14, 1)\n")
    assert firmware_version(station) == "3.14.1"
    station.write_text("import wire\n")
    with pytest.raises(LookupError, match="no FW_VERSION"):
        firmware_version(station)


def test_version_names_host_protocol_and_shipped_firmware(capsys):
    from importlib.metadata import version
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == (f"pbgrade {version('pbgrade')} (protocol {wire.PROTO_VERSION}, "
                                               f"firmware {firmware_version()})")
