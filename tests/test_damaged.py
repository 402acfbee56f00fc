"""Broken things a station meets, each answered in one line (exit 2) that says what is wrong and what to do,
never a traceback: every command that takes a run over a corpus of damaged run folders (made from one real
run by deleting, emptying, truncating and garbling each of its files in turn, and by editing its meta.json);
every command that reads a file over damaged files; a data folder that cannot be written; runs named by
`last`, a prefix of the id or its random suffix.

The commands run in this process (cli.main), as they are many: no interpreter start-up each."""
import json
import shutil

import pytest

from pbgrade.cli import main
from pbgrade.manifest import MANIFEST, Manifest
from pbgrade.paths import DUTS
from pbgrade.rig import load_rig
from test_e2e import pbgrade, run_record

RUN_COMMANDS = {"regrade": [], "report": ["--out", "report.html"], "resume": [],
                "export": ["--samples", "samples.csv"]}
HONEST_LABEL = DUTS / "honest-10000.label.toml"
NO_PORT = "/dev/pbgrade-test-no-such-port"  # resume reaches its journal, then fails on the port in one line


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    """One real quick run, as resume finds a run its host left: no status, on a port that is gone."""
    tmp = tmp_path_factory.mktemp("damaged")
    record, _ = run_record(tmp, "--method", "quick")
    run_dir = tmp / "data" / "runs" / record["run_id"]
    edit_meta(run_dir, lambda meta: (meta.pop("status"), meta.update(port=NO_PORT)), sealed=True)
    return run_dir


def edit_meta(run_dir, edit, sealed=False):
    """Edit a run's meta.json: sealed, as pbgrade's journal writes it (the manifest follows), else behind
    the manifest's back, as a damage."""
    meta = json.loads((run_dir / "meta.json").read_text())
    edit(meta)
    data = json.dumps(meta).encode()
    if sealed:
        Manifest(run_dir).write_whole("meta.json", data, (run_dir / "meta.json").write_bytes)
    else:
        (run_dir / "meta.json").write_bytes(data)


def garbled(data):
    return bytes((b * 7 + 13) & 0xFF for b in data)


FILES = ("meta.json", "record.json", "inputs/label.toml", "inputs/method.toml", "inputs/profile.toml",
         "rx-0-identify.bin", "rx-1-no_load.bin", "rx-2-load_regulation.bin", "rx-3-over_current.bin",
         "rx-4-discharge.bin")
FILE_DAMAGES = {
    "deleted": lambda path: path.unlink(),
    "empty": lambda path: path.write_bytes(b""),
    "truncated": lambda path: path.write_bytes(path.read_bytes()[:path.stat().st_size // 2]),
    "garbled": lambda path: path.write_bytes(garbled(path.read_bytes())),
}
META_DAMAGES = {
    "run_id a number": lambda meta: meta.update(run_id=5),
    "plans missing": lambda meta: meta.pop("plans"),
    "plans text": lambda meta: meta.update(plans="x"),
    "a plan not a table": lambda meta: meta["plans"].__setitem__(0, 7),
    "a plan with an unknown field": lambda meta: meta["plans"][0].update(speed=2),
    "a period of 0": lambda meta: meta["plans"][1]["config"].update(period_us=0),
    "a period in text": lambda meta: meta["plans"][1]["config"].update(period_us="100000"),
    "started_at no time": lambda meta: meta.update(started_at="yesterday"),
    "label_path missing": lambda meta: meta.pop("label_path"),
    "rig without load": lambda meta: meta["rig"].pop("load"),
    "rig text": lambda meta: meta.update(rig="sim"),
    "fewer plans than journals": lambda meta: meta["plans"].pop(),
}


def corpus():
    """name -> (damage(run_dir), the commands that must refuse it). Every file the journal wrote, cut short,
    emptied, garbled or deleted, is refused by every command (the manifest tells), never graded as a short
    run; but record.json deleted: it is derived, and rebuilt from the journal."""
    cases = {}
    for name in FILES:
        for how, damage in FILE_DAMAGES.items():
            refused = set() if (name, how) == ("record.json", "deleted") else set(RUN_COMMANDS)
            cases[f"{name} {how}"] = (lambda run_dir, name=name, damage=damage: damage(run_dir / name), refused)
    every = set(RUN_COMMANDS)
    for how, edit in META_DAMAGES.items():
        cases[f"meta.json {how}"] = (lambda run_dir, edit=edit: edit_meta(run_dir, edit), every)
    cases["meta.json a list"] = (lambda run_dir: (run_dir / "meta.json").write_text("[1]"), every)
    cases["only meta.json"] = (lambda run_dir: [p.unlink() for p in run_dir.glob("*.*") if p.name != "meta.json"],
                               every)
    cases["manifest.json garbled"] = (lambda run_dir: FILE_DAMAGES["garbled"](run_dir / MANIFEST), every)
    cases["a stray rx file"] = (lambda run_dir: (run_dir / "rx-x-copy.bin").write_bytes(b"\0"), every)
    cases["meta.json a folder"] = (lambda run_dir: ((run_dir / "meta.json").unlink(),
                                                    (run_dir / "meta.json").mkdir()), every)
    return cases


CORPUS = corpus()


def pbgrade_here(monkeypatch, capsys, data, *args):
    """(exit code, stdout, stderr) of pbgrade in this process; an exception out of main fails the test."""
    monkeypatch.setenv("PBGRADE_DATA", str(data))
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line(code, err):
    """Exit 2 and one line of complaint (after resume's own note of what it resumes)."""
    lines = [line for line in err.splitlines() if not line.startswith("pbgrade: resuming run ")]
    return code == 2 and len(lines) == 1 and lines[0].startswith("pbgrade: ") and "Traceback" not in err


@pytest.mark.parametrize("command", RUN_COMMANDS)
@pytest.mark.parametrize("damage", CORPUS)
def test_every_run_command_answers_a_damaged_folder_in_one_line(real_run, tmp_path, monkeypatch, capsys,
                                                                damage, command):
    data = tmp_path / "data"
    run_dir = data / "runs" / real_run.name
    shutil.copytree(real_run, run_dir)
    damage_it, refused = CORPUS[damage]
    damage_it(run_dir)
    monkeypatch.chdir(tmp_path)
    code, _, err = pbgrade_here(monkeypatch, capsys, data, command, real_run.name, *RUN_COMMANDS[command])
    if command in refused:
        assert one_line(code, err), err
        assert NO_PORT not in err.splitlines()[-1]  # refused for the damage, not for the port resume would use
    else:  # rebuilt from what there is; resume then fails on the port, in one line
        assert code in (0, 1) or one_line(code, err), err


def cut_in_half(path):
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])


def double_a_period(run_dir):
    meta = json.loads((run_dir / "meta.json").read_text())
    meta["plans"][-1]["config"]["period_us"] *= 2
    (run_dir / "meta.json").write_text(json.dumps(meta, indent=1))


def flip_a_bit(path, at):
    data = bytearray(path.read_bytes())
    data[at] ^= 0x10
    path.write_bytes(bytes(data))


ADVERSARY = {  # issue 21's silent damages -> what the refusal says
    "receive file cut in half": (lambda run_dir: cut_in_half(run_dir / FILES[-1]), "the journal was cut"),
    "meta.json's period doubled": (double_a_period, "meta.json differs from the manifest's SHA-256"),
    "a bit of the identity frame": (lambda run_dir: flip_a_bit(run_dir / FILES[5], 8), "the journal was edited"),
}


@pytest.mark.parametrize("damage", ADVERSARY)
def test_a_damaged_journal_is_refused_saying_how_never_graded_as_a_short_run(real_run, tmp_path, monkeypatch,
                                                                             capsys, damage):
    run_dir = tmp_path / "data" / "runs" / real_run.name
    shutil.copytree(real_run, run_dir)
    damage_it, says = ADVERSARY[damage]
    damage_it(run_dir)
    code, _, err = pbgrade_here(monkeypatch, capsys, tmp_path / "data", "regrade", real_run.name)
    assert one_line(code, err) and says in err and f"run {real_run.name}: " in err, err


def test_a_run_from_before_the_manifest_regrades_saying_it_is_unchecked(real_run, tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "data" / "runs" / real_run.name
    shutil.copytree(real_run, run_dir)
    (run_dir / MANIFEST).unlink()
    code, _, err = pbgrade_here(monkeypatch, capsys, tmp_path / "data", "regrade", real_run.name,
                                "--json", tmp_path / "r.json")
    assert code in (0, 1) and "no manifest: integrity unchecked" in err, err
    assert json.loads((tmp_path / "r.json").read_text())["journal_integrity"] == "no manifest: integrity unchecked"


@pytest.mark.parametrize("command", RUN_COMMANDS)
def test_a_missing_run_or_a_folder_that_is_no_run_is_one_line(tmp_path, monkeypatch, capsys, command):
    (tmp_path / "data" / "runs").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    for run, says in (("20990101T000000Z-abcdef", "no runs yet"), (tmp_path, "has no meta.json")):
        code, _, err = pbgrade_here(monkeypatch, capsys, tmp_path / "data", command, run, *RUN_COMMANDS[command])
        assert one_line(code, err) and says in err, err


def test_a_run_is_named_by_last_a_prefix_or_its_suffix(real_run, tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    run_id, twin, latest = "20261204T064643Z-a1b2c3", "20261204T064643Z-a1b999", "20261204T070000Z-0e0e0e"
    for name in (run_id, twin, latest):  # copies of the real run under ids chosen to share starts
        shutil.copytree(real_run, data / "runs" / name)
        edit_meta(data / "runs" / name, lambda meta: meta.update(run_id=name), sealed=True)

    def regraded(name):
        code, _, err = pbgrade_here(monkeypatch, capsys, data, "regrade", name, "--json", tmp_path / "r.json")
        assert code in (0, 1), err
        return json.loads((tmp_path / "r.json").read_text())["run_id"]

    assert {regraded(name) for name in (run_id, "a1b2c3", "a1b2", "20261204T064643Z-a1b2")} == {run_id}
    assert regraded("last") == latest  # ids start with their start time: the latest is the last in order
    assert regraded("20261204T07") == latest
    for ambiguous, candidates in (("20261204T06", (run_id, twin)), ("a1b", (run_id, twin)),
                                  ("2026", (run_id, twin, latest))):
        code, _, err = pbgrade_here(monkeypatch, capsys, data, "regrade", ambiguous)
        assert one_line(code, err) and "ambiguous" in err and all(name in err for name in candidates), err
    code, _, err = pbgrade_here(monkeypatch, capsys, data, "regrade", "zzzzzz")
    assert one_line(code, err) and "last" in err, err


DAMAGED_FILES = {
    "binary": b"\x00\x01\x02\xffPK\x03\x04",
    "not UTF-8": "# café\n".encode("latin-1"),
}


def damaged_inputs(tmp_path, suffix):
    """kind of damage -> a file (or folder) of that name that pbgrade cannot read as text."""
    files = {}
    for kind, data in DAMAGED_FILES.items():
        files[kind] = tmp_path / f"{kind.replace(' ', '-')}{suffix}"
        files[kind].write_bytes(data)
    files["a folder"] = tmp_path / f"folder{suffix}"
    files["a folder"].mkdir()
    files["unreadable"] = tmp_path / f"unreadable{suffix}"
    files["unreadable"].symlink_to("/proc/self/mem")  # opens, then every read fails (EIO), root or not
    return files


FILE_COMMANDS = {  # what reads a file -> the command line, FILE standing for it
    "label": ["run", "--rig", "sim", "--label", "FILE"],
    "rig": ["run", "--rig", "FILE"],
    "method": ["run", "--rig", "sim", "--method", "FILE"],
    "profile": ["run", "--rig", "sim", "--profile", "FILE"],
    "sim unit model": ["run", "--rig", "sim", "--sim-dut", "FILE", "--label", HONEST_LABEL],
    "station label": ["station", "--label", "FILE", "--channels", "1"],
    "regrade profile": ["regrade", "last", "--profile", "FILE"],
}


@pytest.mark.parametrize("kind", [*DAMAGED_FILES, "a folder", "unreadable"])
@pytest.mark.parametrize("reader", FILE_COMMANDS)
def test_every_input_file_that_is_no_text_is_one_line(real_run, tmp_path, monkeypatch, capsys, reader, kind):
    shutil.copytree(real_run, tmp_path / "data" / "runs" / real_run.name)
    bad = damaged_inputs(tmp_path, ".toml")[kind]
    argv = [bad if a == "FILE" else a for a in FILE_COMMANDS[reader]]
    code, _, err = pbgrade_here(monkeypatch, capsys, tmp_path / "data", *argv)
    assert one_line(code, err) and (str(bad) in err or bad.name.removesuffix(".toml") in err), err


@pytest.mark.parametrize("text", ["dut = 5\n", 'cell = 5\n[dut]\nkind = "model"\n'])
def test_a_field_where_a_table_belongs_is_one_line(tmp_path, monkeypatch, capsys, text):
    model = tmp_path / "unit.toml"
    model.write_text(text)
    code, _, err = pbgrade_here(monkeypatch, capsys, tmp_path / "data", "run", "--rig", "sim", "--sim-dut", model,
                                "--label", HONEST_LABEL)
    assert one_line(code, err) and "is not a table (got 5)" in err, err


@pytest.mark.parametrize("kind", [*DAMAGED_FILES, "unreadable"])
def test_a_curve_or_settings_file_that_is_no_text_is_one_line(tmp_path, monkeypatch, capsys, kind):
    (tmp_path / "curve").mkdir()
    curve = damaged_inputs(tmp_path / "curve", ".csv")[kind]
    code, _, err = pbgrade_here(monkeypatch, capsys, tmp_path / "data", "run", "--rig", "sim", "--sim-dut", curve,
                                "--label", HONEST_LABEL)
    assert one_line(code, err) and str(curve) in err, err
    config = tmp_path / "config"
    config.mkdir()
    shutil.move(damaged_inputs(tmp_path, ".toml")[kind], config / "settings.toml")
    monkeypatch.setenv("PBGRADE_CONFIG", str(config))
    code, _, err = pbgrade_here(monkeypatch, capsys, tmp_path / "data", "history")
    assert one_line(code, err) and "settings.toml" in err, err


def test_a_damaged_calibration_history_is_refused_before_current_flows(tmp_path):
    history = tmp_path / "data" / "rigs" / load_rig("sim")["rig"]["name"] / "calibrations.json"
    history.parent.mkdir(parents=True)
    history.write_text('[{"date": "2026-')
    proc = pbgrade(tmp_path, "calibrate", "--rig", "sim", input="")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "calibrations.json" in proc.stderr, proc.stderr
    assert "move it aside" in proc.stderr


@pytest.mark.parametrize("folder", ["/proc/pbgrade-nope", "/proc", "a regular file"])
def test_a_data_folder_that_cannot_be_written_is_one_line_before_a_test_starts(tmp_path, monkeypatch, capsys,
                                                                               folder):
    if folder == "a regular file":
        folder = tmp_path / "data"
        folder.write_text("")
    for argv in (["run", "--rig", "sim"], ["history"], ["regrade", "last"]):
        code, _, err = pbgrade_here(monkeypatch, capsys, folder, *argv)
        assert one_line(code, err) and f"data folder {folder}" in err and "PBGRADE_DATA" in err, err


@pytest.mark.parametrize("damage", ["garbage", "a folder"])
def test_a_run_database_that_cannot_be_used_is_one_line_before_a_test_starts(tmp_path, monkeypatch, capsys, damage):
    database = tmp_path / "data" / "runs.sqlite"
    database.parent.mkdir()
    database.mkdir() if damage == "a folder" else database.write_bytes(garbled(bytes(range(256))) * 8)
    for argv in (["run", "--rig", "sim"], ["history"], ["export", "--summary", tmp_path / "s.csv"]):
        code, _, err = pbgrade_here(monkeypatch, capsys, tmp_path / "data", *argv)
        assert one_line(code, err) and str(database) in err, err
