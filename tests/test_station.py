"""Station mode on simulated channels: units plugged into empty bays are
detected by their voltage, tested concurrently, each with its own record,
serial and channel; the command line's session ends with the tally."""
import io
import json
import sqlite3
import threading
import time
from contextlib import ExitStack

import pytest

from conftest import ROOT, wait_for
from test_e2e import pbgrade
from test_live import chinese, untranslated  # noqa: F401 (chinese: a fixture)
from pbgrade import i18n, production_line
from pbgrade.label import load_label
from pbgrade.method import load_method
from pbgrade.profile import load_profile
from pbgrade.rig import load_rig
from pbgrade.runner import Options
from pbgrade.simdut import load_dut

LABEL = ROOT / "rigs" / "sim" / "duts" / "honest-10000.label.toml"
EXPECTED = {"honest-10000": "PASS", "sagging-output": "FAIL"}  # tests/test_catalogue.py: the eol verdicts


class Watcher:
    """Records every change the session shows, and whether two channels were ever testing at once."""

    def __init__(self):
        self.changes = []
        self.overlap = False
        self._lock = threading.Lock()

    def __call__(self, session, channel):
        with self._lock:
            self.changes.append((channel.number, channel.state, channel.serial))
            testing = sum(c.state == "testing" for c in session.channels)
            self.overlap = self.overlap or testing > 1


@pytest.mark.parametrize("rig_name, rigs, units", [
    ("sim", 2, 4),  # several rigs on one host: two one-channel rigs
    ("sim-3ch", 1, 6),  # several channels on one rig: one board, three sensors and loads
    ("sim-ina3221-3ch", 1, 3),  # ... or one INA3221's three channels
])
def test_channels_test_units_concurrently_each_with_its_own_record(tmp_path, monkeypatch, rig_name, rigs, units):
    monkeypatch.setenv("PBGRADE_DATA", str(tmp_path / "data"))
    from pbgrade.testsetup import start_sim
    from pbgrade.rig import channels as rig_channels

    rig = load_rig(rig_name)
    method = load_method("eol")
    serials = [f"SN-{k:04d}" for k in range(1, units + 1)]
    with ExitStack() as stack:
        sims = [start_sim(stack, rig, None, speed=20) for _ in range(rigs)]  # 2.4 s a unit: the channels overlap
        bays = [(sim, k) for sim in sims for k in range(1, len(rig_channels(rig)) + 1)]
        operator = production_line.SimulatedOperator(bays, [(name, load_dut(name)) for name in EXPECTED])
        channels = [production_line.Channel(n, sim.ports[k - 1], rig_channels(sim.rig)[k - 1],
                                    production_line.station_name(rig, n)) for n, (sim, k) in enumerate(bays, 1)]
        watcher = Watcher()
        session = production_line.Session(channels, load_label(LABEL), LABEL, method, load_profile(method.profile),
                                  Options(), watcher, plug=operator.plug, unplug=operator.unplug)
        records = session.run(s + "\n" for s in serials)
    assert sorted(r["label"]["serial"] for r in records) == serials
    for r in records:
        assert ("PASS" if r["passed"] else "FAIL") == EXPECTED[operator.units[r["label"]["serial"]]], r["run_id"]
        assert r["status"] == "complete" and r["method"] == "eol"
    assert {r["station"] for r in records} == {c.station for c in channels}  # every channel tested
    boards = {r["device"]["board"] for r in records}
    assert boards == ({"sim"} if rigs > 1 else {"sim/ch1", "sim/ch2", "sim/ch3"})  # each run on its own channel
    assert all(c.done for c in channels) and watcher.overlap
    for number in (c.number for c in channels):  # every unit waited for, tested, removed
        states = [state for n, state, s in watcher.changes if n == number]
        states = [s for k, s in enumerate(states) if k == 0 or s != states[k - 1]]  # each step shows "testing"
        assert states[-5:] == ["plug in", "started", "testing", "remove", "free"], states
    db = sqlite3.connect(tmp_path / "data" / "runs.sqlite")
    assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == units


def test_a_unit_plugged_in_late_is_waited_for(tmp_path, monkeypatch):
    monkeypatch.setenv("PBGRADE_DATA", str(tmp_path / "data"))
    from pbgrade.testsetup import start_sim

    with ExitStack() as stack:
        sim = start_sim(stack, load_rig("sim"), None)
        timer = threading.Timer(1.0, sim.plug, [load_dut("honest-10000")])
        timer.start()
        assert production_line.watch_output(sim.port, present=True)
        timer.join()
        sim.unplug()
        assert production_line.watch_output(sim.port, present=False)
        stop = threading.Event()
        threading.Timer(0.5, stop.set).start()
        assert not production_line.watch_output(sim.port, present=True, stop=stop.is_set)  # nothing plugged: the wait ends


def test_a_slow_host_finds_the_simulated_rig_seconds_on_not_minutes(tmp_path, monkeypatch):
    """Virtual time runs as fast as the simulator can, but no more than a few seconds ahead of its host:
    a host that took 0.15 s to act on a watch's sample stops the watch a few seconds later on the rig's
    clock. Ahead as far as the pipe and the host's buffer held (minutes at 4 samples/s), the honest unit
    had switched itself off at no load (30 s) before its test began, and the station test failed on a busy
    machine."""
    monkeypatch.setenv("PBGRADE_DATA", str(tmp_path / "data"))
    from pbgrade.evaluate import Evaluation
    from pbgrade.link import collect, command, open_rig
    from pbgrade.steps import OBSERVE
    from pbgrade.testsetup import start_sim

    with ExitStack() as stack:
        sim = start_sim(stack, load_rig("sim"), None)
        with open_rig(sim.port) as (link, device):
            config = {**OBSERVE, "period_us": production_line.WATCH_PERIOD_US}
            watch = Evaluation(config, device=(device.identity, device.calibration),
                               first_seq=device.order.expected)
            command(link, watch, "CONFIG", **config)
            command(link, watch, "START")
            collect(link, watch, lambda: watch.last is not None and watch.last[0] >= 1.0)
            seen_s = watch.last[0]
            time.sleep(0.15)  # busy elsewhere: less than simrig.HOST_READS_WITHIN_S, after which it is not waited on
            command(link, watch, "STOP")
            collect(link, watch, lambda: any(e["name"] == "stopped" for e in watch.events))
    stopped_s = next(e["t_s"] for e in watch.events if e["name"] == "stopped")
    # the device runs on at most hostwait.HOST_LAG_ASKS + 1 s (rigs/sim) past what its host has read, and the
    # host may have read that far past the sample it acted on: 3.25 s measured, 6.25 s busy, 241 s before asks
    assert stopped_s - seen_s <= 10


def test_station_command_reads_serials_from_stdin_and_tallies(tmp_path):
    proc = pbgrade(tmp_path, "station", "--channels", "2", "--sim-duts", "honest-10000,sagging-output",
                   "--label", LABEL, "--operator", "Li Wei", "--note", "shift 2", input="A-1\nA-2\n\nA-3\n")
    assert proc.returncode == 1, proc.stderr  # a unit failed
    assert proc.stdout.strip().endswith("`pbgrade history --station '*'` lists them")
    assert "3 units tested, 2 passed, 1 failed" in proc.stdout
    assert "\x1b" not in proc.stderr and "plug the unit in" in proc.stderr  # plain lines when not a terminal
    runs = list((tmp_path / "data" / "runs").iterdir())
    assert len(runs) == 3
    records = [json.loads((r / "record.json").read_text()) for r in runs]
    assert {r["label"]["serial"] for r in records} == {"A-1", "A-2", "A-3"}
    assert {(r["operator"], r["note"]) for r in records} == {("Li Wei", "shift 2")}
    for r in records:  # each unit's run id, shown as its run started
        run_id = r["run_id"]
        assert f"{r['label']['serial']}: run {run_id} started (resume with `pbgrade resume {run_id}`)" in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--channels", "0"], "--channels 0: give 1 to 8 simulated channels"),
    (["--sim-duts", "no-such-unit"], "no-such-unit"),
])
def test_station_refuses_bad_settings_in_one_line(tmp_path, args, message):
    proc = pbgrade(tmp_path, "station", "--label", LABEL, *args, input="")
    assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_the_terminal_shows_each_verdict_big_with_its_reason():
    from rich.console import Console

    console = Console(width=80, record=True, color_system=None)
    channels = [production_line.Channel(1, "p1", {}, "s/ch1", state="remove", serial="SN-1", verdict="PASS",
                                passed=True, detail="grade PASS"),
                production_line.Channel(2, "p2", {}, "s/ch2", state="remove", serial="SN-2", verdict="FAIL",
                                detail="loaded 4.61 V < 4.75 V"),
                production_line.Channel(3, "p3", {}, "s/ch3", state="plug in", serial="SN-3")]
    console.print(production_line.TerminalView(console).render(channels))
    text = console.export_text()
    assert "P A S S" in text and "F A I L" in text and "loaded 4.61 V < 4.75 V" in text and "plug the unit in" in text


def every_state():
    """A channel in each state the board shows, its texts as the session sets them."""
    load_regulation = load_method("eol").steps[1]
    return [production_line.Channel(1, "p1", {}, "s/ch1"),
            production_line.Channel(2, "p2", {}, "s/ch2", state="plug in", serial="SN-2"),
            production_line.Channel(3, "p3", {}, "s/ch3", state="testing", serial="SN-3",
                                    detail=production_line.step_title(load_regulation)),
            production_line.Channel(4, "p4", {}, "s/ch4", state="remove", serial="SN-4", verdict="PASS",
                                    detail="SN-4-REASON", done=["r1", "r2"]),
            production_line.Channel(5, "p5", {}, "s/ch5", state="remove", serial="SN-5", verdict="FAIL",
                                    detail="SN-5-REASON"),
            production_line.Channel(6, "p6", {}, "s/ch6", state="broken", detail="SN-6-REASON")]


DATA = {"SN-2", "SN-3", "SN-4", "SN-5", "SN-4-REASON", "SN-5-REASON", "SN-6-REASON"}


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_the_board_speaks_the_language_and_fits_80_columns(language):
    from rich.cells import cell_len
    from rich.console import Console

    i18n.use(language)
    try:
        console = Console(width=80, record=True, color_system=None, file=io.StringIO())
        console.print(production_line.TerminalView(console).render(every_state()))
        board = console.export_text()
        plain = io.StringIO()
        view = production_line.PlainView(plain)
        for channel in every_state():
            view(None, channel)
    finally:
        i18n.use(i18n.SOURCE_LANGUAGE)
    for row in board.splitlines():  # two 34-column tiles a row, their sides in line: CJK text is two columns wide
        assert cell_len(row) <= 80
        assert {cell_len(row[:k]) for k, c in enumerate(row) if c in "│╭╮╰╯"} <= {0, 33, 35, 68}, board
    if language == "zh-CN":
        assert "合 格" in board and "不 合 格" in board and "请接入样品" in board and "正在测试：负载调整率" in board
        assert "通道1" in board and "已测 2 台" in board and "请取下样品" in board
        assert plain.getvalue().splitlines()[3] == "通道4 SN-4：合格 - SN-4-REASON；请取下样品"
        assert untranslated(board, DATA) == [] and untranslated(plain.getvalue(), DATA) == []
    else:
        assert "P A S S" in board and "F A I L" in board and "testing: load regulation" in board
        assert plain.getvalue().splitlines()[3] == "ch4 SN-4: PASS - SN-4-REASON; remove the unit"
        assert "remove" in untranslated(board, DATA)  # the check finds English


def test_a_port_with_no_rig_is_refused_in_one_line_before_the_station_starts(tmp_path):
    """Each port's device is asked its rig first (issue 15), so a port with no rig stops the station before
    it takes a serial; a channel whose rig goes away later is put out of service (Session)."""
    proc = pbgrade(tmp_path, "station", "--port", "/dev/pbgrade-no-such-port", "--label", LABEL,
                   input="B-1\nB-2\n")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("pbgrade: cannot open serial port /dev/pbgrade-no-such-port")


def test_a_fault_of_pbgrade_s_own_takes_its_channel_out_of_service_not_the_shift(tmp_path, monkeypatch, capsys):
    """A bug raising in one channel's thread (a KeyError in a verdict's wording did) left the thread dead and
    the shift waiting forever for the serials given to it. Now that channel says so and takes no more; the
    other tests them all."""
    monkeypatch.setenv("PBGRADE_DATA", str(tmp_path / "data"))
    method = load_method("eol")
    channels = [production_line.Channel(n, f"p{n}", {}, f"s/ch{n}") for n in (1, 2)]
    tested = []

    def test_one(session, channel, serial):
        if channel.number == 1:
            raise KeyError("passed")
        tested.append(serial)
        time.sleep(0.05)  # busy meanwhile: channel 1 is offered serials too
    monkeypatch.setattr(production_line.Session, "_test_one", test_one)
    session = production_line.Session(channels, load_label(LABEL), LABEL, method, load_profile(method.profile),
                                      Options(), lambda session, channel: None)
    done = []
    threading.Thread(target=lambda: done.append(session.run(f"SN-{k}\n" for k in range(6))), daemon=True).start()
    wait_for(lambda: done, "the shift to end")
    assert channels[0].state == "broken" and channels[0].detail.startswith("pbgrade failed (KeyError: 'passed')")
    assert sorted(tested + session.untested) == [f"SN-{k}" for k in range(6)] and len(session.untested) == 1
    assert "Traceback" in capsys.readouterr().err
