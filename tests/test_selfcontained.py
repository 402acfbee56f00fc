"""A run's folder keeps its own copies of the label, method and profile that decided it (inputs/): re-graded
from any folder, on another station's settings, after the files it started from were edited, every catalogue
unit's run gives the identical record; other files are used only when asked for, and the record says so."""
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT
from test_e2e import PBGRADE
from pbgrade import runner
from pbgrade.label import load_label
from pbgrade.link import RigError
from pbgrade.method import load_method
from pbgrade.profile import load_profile
from pbgrade.testsetup import channel_rig

DUTS = ROOT / "rigs" / "sim" / "duts"
UNITS = sorted(p.name.removesuffix(".label.toml") for p in DUTS.glob("*.label.toml"))
# the files a run starts from (label: the unit's own); eol: four step types in about a minute of virtual time
SOURCES = {"label": None, "method": ROOT / "host/pbgrade/methods/eol.toml",
           "profile": ROOT / "host/pbgrade/profiles/eol.toml"}
EDITS = {"label": (re.compile(r"rated_capacity_mah = (\d+)"), lambda m: f"rated_capacity_mah = {int(m[1]) // 2}"),
         "method": (re.compile("seconds = 30"), "seconds = 20"),  # the discharge's length
         "profile": (re.compile("min = 0.97"), "min = 1.2")}  # loaded voltage: no unit holds 120 % of its rated


def pbgrade(data, cwd, *args, config=None, stdin=None):
    env = dict(os.environ, PBGRADE_DATA=str(data), **({"PBGRADE_CONFIG": str(config)} if config else {}))
    return subprocess.run([*PBGRADE, *map(str, args)], capture_output=True, text=True, timeout=300, env=env, cwd=cwd,
                          input=stdin)


def run_from(folder, data, unit):
    """Run a unit with copies of its label, the method and the profile in folder, named relative to it (as an
    operator in that folder would); its run folder."""
    for kind, source in SOURCES.items():
        shutil.copy(source or DUTS / f"{unit}.label.toml", folder / f"{kind}.toml")
    proc = pbgrade(data, folder, "run", "--rig", "sim", "--sim-dut", unit, "--label", "label.toml",
                   "--method", "method.toml", "--profile", "profile.toml")
    assert proc.returncode in (0, 1), proc.stderr
    (run_dir,) = (data / "runs").iterdir()
    return run_dir


def edit(folder):
    for kind, (old, new) in EDITS.items():
        path = folder / f"{kind}.toml"
        text, edits = old.subn(new, path.read_text())
        assert edits == 1, (kind, old)
        path.write_text(text)


def regraded(data, cwd, run, *args, config=None):
    out = cwd / "regraded.json"
    proc = pbgrade(data, cwd, "regrade", run, *args, "--json", out, config=config)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(out.read_text())


@pytest.mark.parametrize("unit", UNITS)
def test_a_run_regraded_elsewhere_after_its_files_were_edited_gives_the_identical_record(tmp_path, unit):
    started, elsewhere, data = tmp_path / "bench", tmp_path / "elsewhere", tmp_path / "data"
    started.mkdir(), elsewhere.mkdir()
    run_dir = run_from(started, data, unit)
    record = json.loads((run_dir / "record.json").read_text())
    assert {kind: (run_dir / "inputs" / f"{kind}.toml").read_bytes() for kind in SOURCES} == {
        kind: (started / f"{kind}.toml").read_bytes() for kind in SOURCES}  # byte copies
    assert record["host_version"] and "overrides" not in record

    edit(started)
    (elsewhere / "settings.toml").write_text('station = "another-bench"\n')  # and another station's settings
    assert regraded(data, elsewhere, record["run_id"], config=elsewhere) == record

    # the edited files, given on purpose, do change the record, and it says which it was given
    other = regraded(data, elsewhere, run_dir, "--label", started / "label.toml", "--profile", started / "profile.toml")
    assert other["overrides"] == {"label": str(started / "label.toml"), "profile": str(started / "profile.toml")}
    assert other["label"]["rated_capacity_mah"] == record["label"]["rated_capacity_mah"] // 2
    assert other["grade"] == "FAIL" and "loaded_voltage" in other["verdict"]["decided_by"]
    assert {k: v for k, v in other.items() if k not in ("overrides", "label", "grade", "passed", "verdict")} == {
        k: v for k, v in record.items() if k not in ("label", "grade", "passed", "verdict")}


def test_a_profile_override_changes_the_verdict_and_the_record_names_it(tmp_path):
    run_dir = run_from(tmp_path, tmp_path / "data", "honest-10000")
    record = json.loads((run_dir / "record.json").read_text())
    other = regraded(tmp_path / "data", tmp_path, record["run_id"], "--profile", "quick")
    assert (record["grade"], other["grade"]) == ("PASS", "CONSISTENT")
    assert other["overrides"] == {"profile": "quick"} and other["profile"] == "quick"


def test_a_station_run_keeps_the_label_with_its_scanned_serial(tmp_path):
    """The label that decided a station's run is its file's with the serial scanned: that is what it keeps."""
    proc = pbgrade(tmp_path / "data", tmp_path, "station", "--channels", "1", "--sim-duts", "honest-10000",
                   "--label", DUTS / "honest-10000.label.toml", stdin="SN-0042\n")
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = (tmp_path / "data" / "runs").iterdir()
    record = json.loads((run_dir / "record.json").read_text())
    assert record["label"]["serial"] == "SN-0042"
    assert 'serial = "SN-0042"' in (run_dir / "inputs" / "label.toml").read_text()
    assert regraded(tmp_path / "data", tmp_path, run_dir) == record


def test_a_run_from_before_self_contained_runs_reads_its_recorded_paths_or_says_what_is_gone(tmp_path):
    started, elsewhere, data = tmp_path / "bench", tmp_path / "elsewhere", tmp_path / "data"
    started.mkdir(), elsewhere.mkdir()
    run_dir = run_from(started, data, "honest-10000")
    record = json.loads((run_dir / "record.json").read_text())
    shutil.rmtree(run_dir / "inputs")  # as a run recorded before: its meta names the files as they were given
    (run_dir / "manifest.json").unlink()  # ... and carries no manifest, which came later still
    meta = json.loads((run_dir / "meta.json").read_text())
    meta.update(label_path="label.toml", method="method.toml", profile="profile.toml")
    (run_dir / "meta.json").write_text(json.dumps(meta))
    unchecked = {**record, "journal_integrity": "no manifest: integrity unchecked"}
    assert regraded(data, started, run_dir) == unchecked  # from where it started, the files are there

    proc = pbgrade(data, elsewhere, "regrade", run_dir)
    assert proc.returncode == 2 and proc.stderr == (
        f"pbgrade: run {record['run_id']} predates self-contained runs and its label file label.toml is gone: put it "
        f"back there, or regrade with --label\n")


def test_a_method_file_edited_after_the_test_loaded_it_is_refused_before_the_run_starts(tmp_path):
    for kind, source in SOURCES.items():
        shutil.copy(source or DUTS / "honest-10000.label.toml", tmp_path / f"{kind}.toml")
    label, method = load_label(tmp_path / "label.toml"), load_method(tmp_path / "method.toml")
    profile, (_, rig) = load_profile(tmp_path / "profile.toml"), channel_rig("sim", 1)
    edit(tmp_path)
    with pytest.raises(RigError, match="method.toml changed after this test loaded it"):
        runner.run_test("unused", label, tmp_path / "label.toml", method, profile, rig, runner.Options(),
                        tmp_path / "data")
    assert not (tmp_path / "data").exists()  # nothing of a run was kept
