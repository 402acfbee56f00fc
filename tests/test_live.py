"""The live view: what it computes from a step's evaluation (time left, margins,
link health), how it renders on a terminal and in a log, and Ctrl-C: load
off, the run saved as aborted, exit 130."""
import io
import json
import os
import re
import signal
import sqlite3
import subprocess

import numpy as np
import pytest
from rich.cells import cell_len
from rich.console import Console

from conftest import ROOT
from pbgrade import cli, i18n, steps, wire
from pbgrade.evaluate import UNCALIBRATED, Evaluation
from pbgrade.journal import read_received, step_files
from pbgrade.label import Label
from pbgrade.live import SPARK_WIDTH, SPARKS, Live, Trace, line, panel, snapshot, sparkline, step_title
from pbgrade.method import load_method
from pbgrade.runner import Options
from test_e2e import PBGRADE

LABEL = Label(cell_capacity_mah=10000, cell_voltage_v=3.7, rated_capacity_mah=6000, rated_output_v=5.0,
              rated_output_a=2.1)  # the cells hold 37 Wh, the output is rated for 30 Wh
IDENTITY = wire.BODIES["IDENTITY"].parse(wire.BODIES["IDENTITY"].build(dict(
    proto=1, fw_major=1, fw_minor=0, fw_patch=0, sensor=1, address=0x40, sample_format=0, shunt_uohm=10000,
    bus_lsb_v=0.00125, current_lsb_a=0.001, cal=512, sensor_period_us=35200, max_mv=24000, max_ma=3500,
    settings_hash=bytes(8), board="test", rig="test")))
PER_FRAME = 50


def plans_of(method):
    return [steps.plan(step, LABEL, Options(max_current_ma=3500, short_switch=True)) for step in method.steps]


def frame(msg_type, seq, **body):
    return wire.build(msg_type, seq, **body)[:-1]  # without its delimiter, as the deframer gives it


def samples(first, seq, volts, amps):
    data = np.empty(len(volts), wire.SAMPLE_DTYPE)
    data["bus"], data["current"] = np.round(np.asarray(volts) / 0.00125), np.round(np.asarray(amps) / 0.001)
    return frame("SAMPLES", seq, index=first, count=len(volts), data=data.tobytes())


def evaluation(plan, seconds, volts=5.0, amps=2.1):
    """A step's evaluation fed `seconds` of samples at the plan's period; volts may be a function of t."""
    ev = Evaluation(plan.config, device=(IDENTITY, UNCALIBRATED))
    period = plan.config["period_us"] / 1e6
    for seq, first in enumerate(range(0, round(seconds / period), PER_FRAME)):
        t = (first + np.arange(min(PER_FRAME, round(seconds / period) - first))) * period
        ev.feed(samples(first, seq, volts(t) if callable(volts) else np.full(t.size, volts), np.full(t.size, amps)))
    return ev


DISCHARGE = load_method("discharge")


def discharge_after(seconds, amps=2.1):
    plans = plans_of(DISCHARGE)
    return snapshot(evaluation(plans[0], seconds, amps=amps), DISCHARGE, plans, 0, LABEL)


def test_a_discharge_to_the_end_projects_its_time_left_from_the_energy_against_the_label():
    s = discharge_after(7200)  # 2 h at 10.5 W: 21 of the 30 Wh the output is rated for
    assert s.wh == pytest.approx(21.0, rel=1e-3) and s.p == pytest.approx(10.5)
    assert s.step_left_s == pytest.approx((30 - 21) / 10.5 * 3600, rel=1e-3) == s.test_left_s
    assert s.basis.startswith("energy") and "30.0 Wh" in s.basis


def test_past_the_rated_output_the_cells_energy_is_the_basis_and_past_that_there_is_none():
    s = discharge_after(3.2 * 3600)  # 33.6 Wh: more than the 30 Wh rated, less than the cells' 37 Wh
    assert s.step_left_s == pytest.approx((37 - 33.6) / 10.5 * 3600, rel=1e-3) and "cells" in s.basis
    s = discharge_after(3.6 * 3600)  # 37.8 Wh
    assert s.step_left_s is None and s.test_left_s is None and s.basis.startswith("unknown")


@pytest.mark.parametrize("seconds, amps", [(30, 2.1), (600, 0.0)])
def test_without_a_basis_the_time_left_is_unknown(seconds, amps):
    s = discharge_after(seconds, amps=amps)  # its first minute; no current drawn
    assert s.step_left_s is None and s.basis.startswith("unknown")
    assert "step unknown, test unknown" in line(s, "running")


def test_a_falling_voltage_projects_when_it_reaches_the_end_voltage():
    plans = plans_of(DISCHARGE)
    ev = evaluation(plans[0], 3600, volts=lambda t: 5.0 - 0.5 * t / 3600)  # 0.5 V an hour, at 4.5 V now
    trace = Trace()
    for t in range(0, 3600, 10):
        trace.add(t, 5.0 - 0.5 * t / 3600)
    s = snapshot(ev, DISCHARGE, plans, 0, LABEL, trace=trace.points)
    assert s.end_v == 4.0
    assert s.step_left_s == pytest.approx(3600, rel=0.02)  # 0.5 V to go at 0.5 V an hour; the energy says 2 h
    assert s.basis.startswith("voltage trend")


def test_timed_steps_count_down_and_a_discharge_to_the_end_still_to_come_is_unknown():
    full, quick = load_method("full"), load_method("quick")
    plans = plans_of(full)
    s = snapshot(evaluation(plans[0], 3, amps=0.0), full, plans, 0, LABEL)
    assert (s.n, s.steps, s.step) == (1, 6, "no-load output voltage")
    assert s.step_left_s == pytest.approx(10 - 2.9) and s.test_left_s is None
    assert "discharge to the end" in s.basis
    plans = plans_of(quick)
    s = snapshot(evaluation(plans[1], 5), quick, plans, 1, LABEL, before_s=5.0)
    assert s.elapsed_s == pytest.approx(9.9) and s.step_s == pytest.approx(4.9)
    assert s.test_left_s == pytest.approx(10 - 4.9 + sum(p.seconds for p in plans[2:]))


def test_margins_to_the_end_voltage_and_the_rigs_limits():
    s = discharge_after(120)
    assert (s.end_v, s.max_v, s.max_a) == (4.0, 24.0, 3.5)
    assert s.end_margin_v == pytest.approx(1.0) and s.v_margin == pytest.approx(19.0)
    assert s.a_margin == pytest.approx(1.4)
    full = load_method("full")
    plans = plans_of(full)
    s = snapshot(evaluation(plans[0], 2, amps=0.0), full, plans, 0, LABEL)
    assert s.end_v is None and s.end_margin_v is None  # a no-load step has no end voltage


def test_link_health_counts_corrupt_lost_and_recovered_frames():
    plan = plans_of(DISCHARGE)[0]
    ev = Evaluation(plan.config, device=(IDENTITY, UNCALIBRATED))
    good = [samples(k * 10, k, [5.0] * 10, [2.1] * 10) for k in range(6)]
    for k in (0, 2, 3):  # 1 lost on the way: a hole
        ev.feed(good[k])
    ev.feed(good[4][:5] + b"\xff" + good[4][6:])  # corrupt
    ev.feed(good[1])  # frame 1 comes again on request
    ev.feed(good[5])  # 4 is missing now ...
    ev.feed(frame("GONE", 6, first=4, count=1))  # ... and the device no longer keeps it
    s = snapshot(ev, DISCHARGE, plans_of(DISCHARGE), 0, LABEL)
    assert (s.frames, s.corrupt, s.lost, s.recovered) == (6, 1, 1, 1)
    assert "6 frames, 1 corrupt, 1 lost, 1 recovered" in line(s, "running")


def test_a_status_from_before_the_start_says_nothing_of_the_run():
    # at 1 % noise each way the host asks for status while CONFIG is retried: the idle answer came before
    # START, and the runner took it for a device that no longer runs the step
    plan = plans_of(DISCHARGE)[0]
    ev = Evaluation(plan.config, device=(IDENTITY, UNCALIBRATED))
    ev.feed(frame("STATUS", 0, state=wire.State.IDLE, index=0, skipped=0, rx_errors=0, load_ma=0))
    assert ev.status.state == wire.State.IDLE
    ev.feed(frame("ACK", 1, cmd_type="START", cmd_seq=7, result=0))
    assert ev.status is None and not ev.finished
    ev.feed(frame("STATUS", 2, state=wire.State.RUNNING, index=3, skipped=0, rx_errors=0, load_ma=2100))
    assert ev.status.state == wire.State.RUNNING


def test_the_trace_spans_the_whole_step_in_few_points_ending_at_the_latest():
    trace = Trace()
    for t in range(100_000):
        trace.add(t, t)
    assert SPARK_WIDTH <= len(trace.points) < 2 * SPARK_WIDTH
    assert trace.points[0] == (0, 0) and trace.points[-1] == (99_999, 99_999)


def test_sparkline():
    assert sparkline(list(range(8))) == SPARKS
    flat = sparkline([5.0, 5.001, 5.0])  # millivolts of noise stay mid-height
    assert len(set(flat)) <= 2 and SPARKS[0] not in flat and SPARKS[-1] not in flat
    assert sparkline([]) == ""


def test_the_terminal_panel():
    plans = plans_of(DISCHARGE)
    ev = evaluation(plans[0], 7200, volts=lambda t: 5.0 - 0.05 * np.sin(t / 600))
    trace = Trace()
    for t in range(0, 7200, 30):
        trace.add(t, 5.0 - 0.05 * np.sin(t / 600))
    ev.order.recovered = 2  # two holes filled by resends
    s = snapshot(ev, DISCHARGE, plans, 0, LABEL, trace=trace.points)
    console = Console(width=100, force_terminal=True, record=True, file=io.StringIO())
    console.print(panel(s))
    text = console.export_text()
    assert "step 1/1: discharge" in text
    assert f"{s.v:.3f} V" in text and "2.100 A" in text and f"{s.wh:.3f} Wh" in text and f"{s.mah:.1f} mAh" in text
    assert "end voltage 4.00 V" in text and "3.50 A (1.40 A to spare)" in text and "2 recovered" in text
    assert s.spark and s.spark in text and set(s.spark) <= set(SPARKS)
    assert "output" in untranslated(text)  # the check of the Chinese view finds English


# What may stay in Latin letters in a Chinese text: units, the key to press, the command and its words
NOT_WORDS = {"V", "A", "W", "Wh", "mAh", "mV", "min", "Ctrl-C", "pbgrade", "history", "station"}


def untranslated(text, data=()):
    """The words of text in Latin letters that are neither units nor commands nor the data shown (data: the
    serial numbers and such): in Chinese text, English left untranslated."""
    for shown in sorted(data, key=len, reverse=True):
        text = text.replace(shown, " ")
    return [w for w in re.findall(r"[A-Za-z][A-Za-z_'-]*", text) if w not in NOT_WORDS]


@pytest.fixture
def chinese():
    i18n.use("zh-CN")
    yield
    i18n.use(i18n.SOURCE_LANGUAGE)


def snapshots():
    """A snapshot of each kind of moment the live view tells of: a timed step, a discharge projected from its
    energy and from its voltage trend, one without a basis."""
    full = load_method("full")
    plans = plans_of(full)
    trace = Trace()
    for t in range(0, 3600, 10):
        trace.add(t, 5.0 - 0.5 * t / 3600)
    falling = evaluation(plans_of(DISCHARGE)[0], 3600, volts=lambda t: 5.0 - 0.5 * t / 3600)
    return [snapshot(evaluation(plans[0], 3, amps=0.0), full, plans, 0, LABEL), discharge_after(7200),
            discharge_after(3.6 * 3600), discharge_after(30),
            snapshot(falling, DISCHARGE, plans_of(DISCHARGE), 0, LABEL, trace=trace.points)]


def test_the_live_view_speaks_chinese_fitting_80_columns(chinese):
    for s in snapshots():
        console = Console(width=80, force_terminal=True, record=True, file=io.StringIO())
        console.print(panel(s))
        text = console.export_text()
        rows = text.splitlines()
        assert all(cell_len(row) == 80 for row in rows), text  # CJK characters are two columns: the frame holds
        assert rows[0].startswith("╭─ 第 ") and rows[-1].endswith("╯") and "Ctrl-C 停止" in rows[-1]
        assert "输出" in text and "剩余" in text and "通信" in text and "[" not in text
        assert untranslated(text) == [], text
        for what in ("started", "running", "ended", "stopped"):
            assert untranslated(line(s, what)) == [], line(s, what)
    s = snapshots()[0]
    assert s.step == "空载输出电压" and line(s, "started") == "0:00:00 第 1/6 步 空载输出电压 开始：时长 0:00:10"


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_live_on_a_terminal_redraws_and_keeps_a_line_per_step(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")  # not a dumb one, whatever runs the tests
    quick = load_method("quick")
    plans = plans_of(quick)
    out = Terminal()
    with Live(out, LABEL, quick, plans) as live:
        for n in (0, 1):
            ev = evaluation(plans[n], 4)
            live.update(quick.steps[n], ev)
    text = out.getvalue()
    assert "\x1b[" in text and "step 2/5: load regulation" in text
    assert "step 1/5 no-load output voltage ended" in text and "step 2/5 load regulation and ripple ended" in text
    assert "[/]" not in text and "[dim]" not in text and "[cyan]" not in text  # lines printed under a live panel


def run_plain(tmp_path, *args):
    env = dict(os.environ, PBGRADE_DATA=str(tmp_path / "data"))
    return subprocess.Popen([*PBGRADE, "run", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=ROOT)


def test_without_a_terminal_a_plain_line_per_step_start_and_end(tmp_path):
    proc = run_plain(tmp_path, "--method", "quick", "--mass-g", "222")  # weighed: every step runs
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "\r" not in err and "\x1b" not in err
    lines = err.splitlines()[2:]  # after what is tested, and the run id as the run starts
    assert err.splitlines()[1].startswith("pbgrade: run ")
    quick = load_method("quick")
    expected = [f"step {n}/5 {step_title(step)} {what}" for n, step in enumerate(quick.steps, 1)
                for what in ("started", "ended")]
    assert [x.split(" ", 1)[1].split(":")[0] for x in lines] == expected
    assert lines[0] == "0:00:00 step 1/5 no-load output voltage started: runs 0:00:05"
    assert lines[-1].startswith("0:02:") and "step 5/5 mass against the label's energy ended" in lines[-1]


def test_ctrl_c_switches_the_load_off_and_saves_the_run_as_aborted(tmp_path):
    proc = run_plain(tmp_path, "--method", "full", "--json", tmp_path / "out.json")
    for text in proc.stderr:
        if "step 6/6 discharge running" in text:  # 10 minutes into it
            break
    else:
        pytest.fail(f"no discharge: {proc.communicate()}")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.splitlines()[-1] == "pbgrade: stopped by operator; load switched off, run saved as aborted"
    assert "step 6/6 discharge stopped" in err and "verdict: ABORTED (FAIL)" in out
    record = json.loads((tmp_path / "out.json").read_text())
    run_dir = tmp_path / "data" / "runs" / record["run_id"]
    assert json.loads((run_dir / "record.json").read_text()) == record
    assert record["status"] == "aborted by operator" and record["passed"] is False and record["grade"] == "ABORTED"
    assert record["verdict"]["reasons"][0].startswith("stopped by the operator after")
    assert "in step 6 of 6 (discharge)" in record["verdict"]["reasons"][0]
    assert record["steps"][-1]["type"] == "discharge" and record["energy_wh"] > 0  # the interrupted step counts
    assert record["events"][-1]["name"] == "stopped"
    assert any(m.type == "ACK" and m.body.cmd_type == "STOP" for m in messages(step_files(run_dir)[-1]))
    with sqlite3.connect(tmp_path / "data" / "runs.sqlite") as db:
        assert db.execute("SELECT grade, passed FROM runs WHERE run_id = ?", (record["run_id"],)).fetchall() == \
               [("ABORTED", 0)]


def messages(path):
    """The messages journaled in a step's file."""
    deframer = wire.Deframer()
    for chunk in read_received(path):
        for f in deframer.feed(chunk):
            try:
                yield wire.parse(wire.decode_frame(f))
            except wire.FrameError:
                pass


def test_a_second_ctrl_c_does_not_cut_the_saving_short(capsys):
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with cli._interrupted_once():
            try:
                os.kill(os.getpid(), signal.SIGINT)
                pytest.fail("the first Ctrl-C did not interrupt")
            except KeyboardInterrupt:
                os.kill(os.getpid(), signal.SIGINT)  # while the run is saved: only a word to wait
                raise
    assert "one moment" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is before
