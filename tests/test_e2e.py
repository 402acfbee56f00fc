"""End to end: firmware under micropython <-> pty or local socket <-> pyserial <-> host, graded.

Each test runs the real `pbgrade` command against the simulated rig and
checks the record against the exact truth of the simulated power bank.
"""
import json
import os
import subprocess
import sys

import pytest
import serial

from conftest import ROOT
from pbgrade import wire

PBGRADE = [sys.executable, "-m", "pbgrade.cli"]
SIM_RIG = (ROOT / "rigs" / "sim.toml").read_text()


def pbgrade(tmp_path, *args, timeout=300, input=None):
    tmp_path.mkdir(parents=True, exist_ok=True)  # --json's folder must exist before a test runs
    env = dict(os.environ, PBGRADE_DATA=str(tmp_path / "data"))
    return subprocess.run([*PBGRADE, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=ROOT, input=input)


def write_curve(path, points):
    path.write_text("delivered_mah,voltage_v\n" + "".join(f"{q},{v}\n" for q, v in points))
    return path


def write_label(path, rated_mah, output_a=2.1, cell_mah=10000):
    path.write_text(f"""[label]
cell_capacity_mah = {cell_mah}
cell_voltage_v = 3.7
rated_capacity_mah = {rated_mah}
rated_output_v = 5.0
rated_output_a = {output_a}
""")
    return path


def exact(points):
    """Charge (mAh) and energy (Wh) of a piecewise-linear curve: the truth."""
    energy_mwh = sum((va + vb) / 2 * (qb - qa) for (qa, va), (qb, vb) in zip(points, points[1:]))
    return points[-1][0], energy_mwh / 1000


def run_record(tmp_path, *args):
    """Run a test; the record. The rig is sim unless args name another; args may pick the method."""
    out = tmp_path / "record.json"
    proc = pbgrade(tmp_path, "run", "--rig", "sim", *args, "--json", out)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(out.read_text()), proc


CURVES = {
    "flat": [(0, 5.05), (3000, 5.05), (3000.5, 4.2)],
    "sloped": [(0, 5.2), (1000, 5.1), (2500, 4.9), (2600, 4.5)],
    "steps": [(0, 5.1), (800, 5.1), (801, 4.95), (1600, 4.95), (1601, 4.8), (2000, 4.8)],
}


@pytest.mark.parametrize("name", CURVES)
def test_energy_and_capacity_match_the_exact_integral(tmp_path, name):
    points = CURVES[name]
    curve = write_curve(tmp_path / f"{name}.csv", points)
    label = write_label(tmp_path / "label.toml", rated_mah=1000)
    record, _ = run_record(tmp_path, "--method", "discharge", "--sim-dut", curve, "--label", label)
    mah, wh = exact(points)
    assert record["capacity_mah"] == pytest.approx(mah, rel=0.003)
    assert record["energy_wh"] == pytest.approx(wh, rel=0.003)
    assert record["samples_lost"] == 0 and record["integrity"]["decoder"]["frames_corrupt"] == 0


def test_four_hour_discharge_across_a_dozen_tick_wraps(tmp_path):
    points = [(0, 5.1), (2000, 5.0), (4000, 4.9), (4001, 3.0)]
    curve = write_curve(tmp_path / "long.csv", points)
    label = write_label(tmp_path / "label.toml", rated_mah=4000, output_a=1.0)
    # power up 5 s before the first wrap of ticks_us (2**30 us)
    rig = tmp_path / "rig.toml"
    rig.write_text(SIM_RIG.replace("boot_us = 0", f"boot_us = {2**30 - 5_000_000}"))
    record, _ = run_record(tmp_path, "--method", "discharge", "--rig", rig, "--sim-dut", curve, "--label", label, "--rate", 5)
    mah, wh = exact(points)
    assert record["duration_s"] > 13 * 2**30 / 1e6  # crossed the wrap at least 13 times
    assert record["capacity_mah"] == pytest.approx(mah, rel=0.003)
    assert record["energy_wh"] == pytest.approx(wh, rel=0.003)
    assert record["samples_lost"] == 0


@pytest.mark.parametrize("link", ["pty", "socket"])  # socket: how Windows reaches the simulated rig
def test_honest_unit_passes_and_says_why(tmp_path, link):
    record, proc = run_record(tmp_path, "--sim-dut", "honest-10000", "--sim-link", link,
                              "--label", ROOT / "rigs/sim/duts/honest-10000.label.toml")
    assert record["samples_lost"] == 0 and record["integrity"]["decoder"]["frames_corrupt"] == 0
    assert proc.returncode == 0
    assert record["passed"] is True and record["grade"] == "PASS"
    assert "6,000 mAh on the label" in " ".join(record["verdict"]["reasons"])
    assert "verdict: PASS" in proc.stdout


def test_unit_delivering_a_third_of_its_label_fails_on_capacity(tmp_path):
    record, proc = run_record(tmp_path, "--sim-dut", "fake-third")
    assert proc.returncode == 1 and record["passed"] is False
    assert "capacity" in record["verdict"]["decided_by"]
    assert record["capacity_ratio"] == pytest.approx(1 / 3, rel=0.01)
    assert any("of the 12,000 mAh on the label: 33 %" in r for r in record["verdict"]["reasons"])


def test_unit_sagging_below_4v75_fails_on_voltage(tmp_path):
    record, _ = run_record(tmp_path, "--sim-dut", "sagging")
    assert record["passed"] is False
    assert record["verdict"]["decided_by"] == ["voltage_low"]  # capacity and efficiency are fine
    assert record["min_voltage_v"] < 4.75


def test_regrade_rebuilds_the_same_result_and_a_corrupt_byte_is_never_integrated(tmp_path):
    curve = write_curve(tmp_path / "c.csv", CURVES["sloped"])
    label = write_label(tmp_path / "label.toml", rated_mah=1000)
    record, _ = run_record(tmp_path, "--method", "discharge", "--sim-dut", curve, "--label", label)
    run_dir = tmp_path / "data" / "runs" / record["run_id"]

    again = tmp_path / "again.json"
    assert pbgrade(tmp_path, "regrade", run_dir, "--json", again).returncode in (0, 1)
    regraded = json.loads(again.read_text())
    for key in ("energy_wh", "capacity_mah", "grade", "samples_received", "min_voltage_v"):
        assert regraded[key] == record[key], key

    # flip one byte inside a SAMPLES frame in the middle of the discharge's journal
    (rx,) = run_dir.glob("rx-1-discharge.bin")
    raw = bytearray(rx.read_bytes())
    frames = raw.split(b"\x00")
    middle = len(frames) // 2
    offset = sum(len(f) + 1 for f in frames[:middle]) + 10
    raw[offset] ^= 0x40
    rx.write_bytes(bytes(raw))
    proc = pbgrade(tmp_path, "regrade", run_dir, "--json", again)  # the journal's manifest: edited after the run
    assert proc.returncode == 2 and "rx-1-discharge.bin is not what was received" in proc.stderr
    (run_dir / "manifest.json").unlink()  # as a byte corrupted on the wire, where no manifest sees it
    proc = pbgrade(tmp_path, "regrade", run_dir, "--json", again)
    corrupted = json.loads(again.read_text())
    integrity = corrupted["integrity"]
    assert integrity["decoder"]["frames_corrupt"] == 1
    lost = record["samples_received"] - corrupted["samples_received"]
    assert lost > 0 and integrity["samples_lost"] == lost  # the frame's samples, counted as lost
    assert integrity["gap_count"] == 1  # and the hole they leave is not bridged
    assert corrupted["energy_wh"] < record["energy_wh"]
    assert "corrupt" in proc.stdout


@pytest.mark.parametrize("link, port_form", [("pty", "/dev/"), ("socket", "socket://127.0.0.1:")])
def test_sim_serves_any_serial_client_and_run_by_port(tmp_path, link, port_form):
    env = dict(os.environ, PBGRADE_DATA=str(tmp_path / "data"))
    sim = subprocess.Popen([*PBGRADE, "sim", "--sim-dut", "fake-third", "--sim-link", link], stdout=subprocess.PIPE,
                           text=True, env=env, cwd=ROOT)
    try:
        port = sim.stdout.readline().strip()
        assert port.startswith(port_form)
        # a plain pyserial client: HELLO -> IDENTITY
        with serial.serial_for_url(port, timeout=2) as s:
            s.write(wire.build("HELLO", 7))
            frame = s.read_until(b"\x00")
        msg = wire.parse(wire.decode_frame(frame[:-1]))
        assert msg.type == "IDENTITY" and msg.body.board == "sim" and msg.body.sensor == 1
        # then the host, by port, on the same running rig
        out = tmp_path / "r.json"
        proc = pbgrade(tmp_path, "run", "--port", port, "--label", ROOT / "rigs/sim/duts/fake-third.label.toml",
                       "--json", out)
        assert proc.returncode == 1, proc.stderr
        assert json.loads(out.read_text())["capacity_ratio"] == pytest.approx(1 / 3, rel=0.01)
    finally:
        sim.terminate()
        sim.wait(timeout=10)


def test_a_rig_with_three_channels_serves_three_ports_each_its_own_channel(tmp_path):
    env = dict(os.environ, PBGRADE_DATA=str(tmp_path / "data"))
    sim = subprocess.Popen([*PBGRADE, "sim", "--rig", "sim-3ch", "--sim-dut", "fake-third"], stdout=subprocess.PIPE,
                           text=True, env=env, cwd=ROOT)
    label = ROOT / "rigs/sim/duts/fake-third.label.toml"
    try:
        ports = [sim.stdout.readline().strip() for _ in range(3)]
        assert all(p.startswith("/dev/") for p in ports) and len(set(ports)) == 3
        out = tmp_path / "r.json"
        proc = pbgrade(tmp_path, "run", "--rig", "sim-3ch", "--channel", "2", "--port", ports[1], "--label", label,
                       "--json", out)
        assert proc.returncode == 1, proc.stderr
        record = json.loads(out.read_text())
        assert record["device"]["board"] == "sim/ch2" and record["rig"]["rig"]["channel"] == 2
        assert record["capacity_ratio"] == pytest.approx(1 / 3, rel=0.01)
        proc = pbgrade(tmp_path, "run", "--rig", "sim-3ch", "--channel", "2", "--port", ports[2], "--label", label)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 2  # the run's banner, the refusal
        assert f"{ports[2]} is channel 3 of the rig, not channel 2: pass --channel 3" in proc.stderr
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    proc = pbgrade(tmp_path, "run", "--rig", "sim-3ch", "--channel", "4")
    assert proc.returncode == 2 and "--channel 4: rig sim-3ch has channels 1 to 3" in proc.stderr


def test_sensor_at_another_address_is_refused_in_one_line(tmp_path):
    rig = tmp_path / "rig.toml"
    rig.write_text(SIM_RIG.replace("seed = 1", "seed = 1\nsensor_address = 0x41"))
    proc = pbgrade(tmp_path, "run", "--rig", rig, "--sim-dut", "honest-10000")
    assert proc.returncode == 2
    error = proc.stderr.strip().splitlines()[-1]  # the line before it announces the test
    assert "0x40" in error and "does not answer" in error and "check wiring" in error


@pytest.mark.parametrize("field", ["rated_capacity_mah", "rated_output_a", "cell_voltage_v"])
def test_bad_label_is_refused_in_one_line_naming_the_field(tmp_path, field):
    label = write_label(tmp_path / "label.toml", rated_mah=1000)
    label.write_text("\n".join(l for l in label.read_text().splitlines() if not l.startswith(field)))
    proc = pbgrade(tmp_path, "run", "--sim-dut", "honest-10000", "--label", label)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and field in proc.stderr


def test_calibration_corrects_a_one_percent_shunt_and_every_record_carries_it(tmp_path):
    rig = tmp_path / "rig.toml"
    rig.write_text(SIM_RIG.replace("seed = 1", "seed = 1\nshunt_error = 0.01"))  # a 1 % resistor, 1 % high
    points = CURVES["sloped"]
    curve = write_curve(tmp_path / "c.csv", points)
    label = write_label(tmp_path / "label.toml", rated_mah=1000)
    mah, wh = exact(points)

    before, _ = run_record(tmp_path, "--method", "discharge", "--rig", rig, "--sim-dut", curve, "--label", label)
    assert before["calibration"]["calibrated"] is False
    assert before["capacity_mah"] / mah - 1 == pytest.approx(0.01, abs=0.002)  # reads the shunt's 1 % high

    # the reference meter's readings at 0.5 A and 2.5 A on the 5.00 V / 0.40 ohm calibration source
    env = dict(os.environ, PBGRADE_DATA=str(tmp_path / "data"))
    proc = subprocess.run([*PBGRADE, "calibrate", "--rig", rig, "--seconds", "5"], input="4.802\n0.495\n4.010\n2.475\n",
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "current gain 0.99" in proc.stdout

    after, _ = run_record(tmp_path, "--method", "discharge", "--rig", rig, "--sim-dut", curve, "--label", label)
    assert after["calibration"]["calibrated"] is True and after["calibration"]["i_gain"] == pytest.approx(1 / 1.01, rel=1e-3)
    assert after["capacity_mah"] == pytest.approx(mah, rel=0.001)
    assert after["energy_wh"] == pytest.approx(wh, rel=0.001)


def test_calibration_without_readings_is_refused_in_one_line(tmp_path):
    proc = pbgrade(tmp_path, "calibrate", "--seconds", "1")
    assert proc.returncode == 2 and "no reference reading" in proc.stderr.strip().splitlines()[-1]


# Largest error the datasheet allows each chip at 2.1 A and 5 V on its rig's shunt
# (gain error max + offset max / reading), plus 0.05 % for integration and the end
# of discharge: charge (current only) and energy (current and voltage).
CHIP_TOLERANCE = {
    "sim": (0.003, 0.005),          # INA226: 0.1 % shunt gain + 10 uV / 21 mV; bus 0.1 % + 7.5 mV / 5 V
    "sim-ina219": (0.010, 0.015),   # INA219A: 0.5 % current error (1 % over temperature); bus 0.5 %
    "sim-ina228": (0.002, 0.003),   # INA228: 0.05 % gains, 1 uV / 2.5 mV offsets
    "sim-ina260": (0.004, 0.006),   # INA260: 0.15 % system gain + 5 mA / 2.1 A; bus 0.1 % + 7.5 mV
    "sim-ina3221": (0.005, 0.010),  # INA3221: 0.25 % gain + 80 uV / 105 mV; bus 0.25 % + 16 mV / 5 V
}


@pytest.mark.parametrize("rig", CHIP_TOLERANCE)
def test_every_chip_measures_within_its_datasheet_accuracy(tmp_path, rig):
    points = [(0, 5.1), (800, 5.0), (1200, 4.9), (1201, 3.0)]
    curve = write_curve(tmp_path / "c.csv", points)
    label = write_label(tmp_path / "label.toml", rated_mah=1000)
    record, _ = run_record(tmp_path, "--method", "discharge", "--rig", rig, "--sim-dut", curve, "--label", label)
    mah, wh = exact(points)
    charge_tol, energy_tol = CHIP_TOLERANCE[rig]
    assert record["capacity_mah"] == pytest.approx(mah, rel=charge_tol)
    assert record["energy_wh"] == pytest.approx(wh, rel=energy_tol)
    assert record["samples_lost"] == 0
    assert record["device"]["sensor"] == (rig.split("-")[1].upper() if "-" in rig else "INA226")
    accumulators = record["chip_accumulators"]
    if rig == "sim-ina228":  # the chip's own counters agree within their 1 % accuracy
        assert abs(accumulators["host_minus_chip_energy"]) < 0.01
        assert abs(accumulators["host_minus_chip_charge"]) < 0.01
    else:
        assert accumulators is None


def test_label_current_over_the_rig_limit_is_refused_before_the_test(tmp_path):
    label = write_label(tmp_path / "label.toml", rated_mah=1000, output_a=3.2)
    proc = pbgrade(tmp_path, "run", "--rig", "sim-ina219", "--sim-dut", "honest-10000", "--label", label)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "3.2 A is over this rig's 3 A current limit" in proc.stderr
    assert not (tmp_path / "data" / "runs").exists()  # nothing was started


def test_shunt_that_would_overflow_is_refused_before_the_test(tmp_path):
    rig = tmp_path / "rig.toml"
    rig.write_text(SIM_RIG.replace("shunt_ohms = 0.01 ", "shunt_ohms = 0.03 "))  # 4 A x 30 mOhm = 120 mV
    proc = pbgrade(tmp_path, "run", "--rig", rig, "--sim-dut", "honest-10000")
    assert proc.returncode == 2
    error = proc.stderr.strip().splitlines()[-1]
    assert "over the 81.92 mV shunt range" in error and "use max_current_a <=" in error


def test_a_unit_dead_under_load_is_graded_not_a_traceback(tmp_path):
    """An INA228 (it counts energy itself) on a unit that gives nothing under load: the chip's count is 0,
    there is no difference to show, and the result table must still print."""
    record, proc = run_record(tmp_path, "--rig", "sim-ina228", "--sim-dut", "fake-tiny", "--method", "full")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert record["chip_accumulators"]["host_minus_chip_energy"] is None
    assert "verdict: FAIL" in proc.stdout and "chip accumulators" in proc.stdout
