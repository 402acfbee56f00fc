"""The catalogue of simulated power banks (rigs/sim/duts/): each unit run end
to end on the simulated rig gets the verdict a test engineer expects, the
honest unit measures what its model parameters say, and a seed reproduces a
run bit for bit."""
import tomllib

import numpy as np
import pytest

from conftest import ROOT
from pbgrade import wire
from pbgrade.label import load_label
from test_e2e import pbgrade, run_record

DUTS = ROOT / "rigs" / "sim" / "duts"

ALL = ["capacity", "efficiency", "voltage_low", "voltage_high", "interruptions", "samples_lost"]
QUICK_ALL = ["mass_against_energy", "no_load_voltage_low", "no_load_voltage_high", "loaded_voltage", "protection_below_rated",
             "output_holds", "voltage_under_load"]
EOL_ALL = ["no_load_voltage_low", "no_load_voltage_high", "regulation", "loaded_voltage", "protection_low",
           "protection_high", "interruptions", "output_holds"]
NOTHING = ["capacity", "efficiency", "voltage_low", "voltage_high"]  # nothing delivered: every limit fails

# unit -> method -> (verdict, the criteria that decided it), with each method's own profile
EXPECTED = {
    "honest-10000": {"full": ("PASS", ALL), "quick": ("CONSISTENT", QUICK_ALL), "eol": ("PASS", EOL_ALL)},
    "pd-20000": {"full": ("PASS", ALL), "quick": ("CONSISTENT", QUICK_ALL), "eol": ("PASS", EOL_ALL)},
    # three minutes of output cannot see a quarter-size cell; its mass can: 74 Wh of cells weigh more than it
    "fake-20000": {"full": ("FAIL", ["capacity", "efficiency"]), "quick": ("NOT CONSISTENT", ["mass_against_energy"]),
                   "eol": ("PASS", EOL_ALL)},
    "fake-tiny": {"full": ("FAIL", NOTHING), "quick": ("NOT CONSISTENT", ["mass_against_energy", "output_holds"]),
                  "eol": ("PASS", EOL_ALL)},
    "low-efficiency": {"full": ("FAIL", ["efficiency"]), "quick": ("CONSISTENT", QUICK_ALL),
                       "eol": ("PASS", EOL_ALL)},
    "sagging-output": {"full": ("FAIL", ["voltage_low"]),
                       "quick": ("NOT CONSISTENT", ["loaded_voltage", "voltage_under_load"]),
                       "eol": ("FAIL", ["regulation", "loaded_voltage"])},
    "low-load-off": {"full": ("PASS", ALL), "quick": ("CONSISTENT", QUICK_ALL), "eol": ("PASS", EOL_ALL)},
    "ocp-below-rated": {"full": ("FAIL", NOTHING),
                        # off at the rated current before anything else could be seen: that decides it
                        "quick": ("NOT CONSISTENT", ["output_holds"]),
                        "eol": ("FAIL", ["regulation", "loaded_voltage", "protection_low", "protection_high",
                                         "output_holds"])},
    "intermittent-contact": {"full": ("FAIL", ["interruptions"]), "quick": ("CONSISTENT", QUICK_ALL),
                             "eol": ("PASS", EOL_ALL)},
}
MASSES = {unit: tomllib.loads((DUTS / f"{unit}.toml").read_text())["body"]["mass_g"] for unit in EXPECTED}
CASES = [(unit, method) for unit in EXPECTED for method in EXPECTED[unit]]


def test_every_catalogue_unit_has_a_label_and_a_pinned_verdict():
    units = {p.stem for p in DUTS.glob("*.toml") if not p.stem.endswith(".label")} - {"calibration-source", "weight-500g"}
    assert units == set(EXPECTED)
    labels = [load_label(DUTS / f"{u}.label.toml") for u in sorted(units)]
    assert all(label.manufacturer == "pbgrade simulator" and label.rated_capacity_mah > 0 for label in labels)


@pytest.mark.parametrize("unit, method", CASES, ids=[f"{u}-{m}" for u, m in CASES])
def test_catalogue_unit_gets_the_expected_verdict(tmp_path, unit, method):
    weighed = ["--mass-g", str(MASSES[unit])] if method == "quick" else []  # as the inspector types it
    record, proc = run_record(tmp_path, "--sim-dut", unit, "--method", method, *weighed)
    grade, decided_by = EXPECTED[unit][method]
    assert (record["grade"], record["verdict"]["decided_by"]) == (grade, decided_by), record["verdict"]["reasons"]
    assert proc.returncode == (0 if record["passed"] else 1)
    behaviours = " ".join(b for step in record["steps"] for b in step["behaviours"])
    if method != "full":  # a short method never claims a capacity
        assert record["capacity_mah"] is None and "capacity and efficiency were not measured" in proc.stdout
    if (unit, method) == ("intermittent-contact", "full"):  # 300 ms every 10 min: seen every time
        assert record["interruptions"] == int(record["duration_s"] // 600)
        assert 0.2 <= record["longest_interruption_s"] <= 0.4
    if unit == "ocp-below-rated":
        assert record["ocp_trip_ratio"] is None and "off before the over-current step" in behaviours
    if (unit, method) == ("low-load-off", "full"):  # switched itself off while resting: said, not failed
        assert "switched its output off after" in behaviours and record["passed"]
    if (unit, method) == ("fake-tiny", "quick"):
        assert "the output collapsed after" in behaviours
    if (unit, method) == ("honest-10000", "full"):
        assert record["ocp_trip_ratio"] == pytest.approx(1.6) and record["stopped_by_itself"] == 1
        assert (record["short_protected"], record["short_recovered"]) == (1, 1)
        # the closed loop settled at the start of every step that draws current, within a few samples
        drawing = [s for s in record["steps"] if s["type"] in ("load_regulation", "over_current", "discharge")]
        assert all(isinstance(s["load_settling"], list) and s["load_settling"][0]["samples"] <= 10 for s in drawing)
        assert next(s for s in record["steps"] if s["type"] == "no_load")["load_settling"] is None
        assert 0 < record["charge_before_discharge_mah"] < 30  # what the steps before the discharge drew


def model_prediction(unit, current_a, end_v, step_s=1.0):
    """Capacity and energy at the output computed straight from the model's
    parameters, independently of the simulator's code: constant-current
    discharge, the cell's power from the converter's efficiency, the cell's
    current from its open-circuit voltage and resistance, until its terminal
    voltage reaches the cut-off."""
    m = tomllib.loads((DUTS / f"{unit}.toml").read_text())
    cell, conv, out = m["cell"], m["converter"], m["output"]
    ocv = np.array([(0.0, 3.0), (0.03, 3.3), (0.06, 3.45), (0.1, 3.55), (0.2, 3.65), (0.3, 3.71), (0.4, 3.75),
                    (0.5, 3.79), (0.6, 3.84), (0.7, 3.9), (0.8, 3.97), (0.9, 4.06), (1.0, 4.18)])
    eff = np.array(conv["efficiency"])
    v_conv = out["level_v"] - current_a * out["droop_ohm"]
    v_load = v_conv - current_a * out.get("cable_ohm", 0.0)
    assert v_load > end_v
    p_out = v_conv * current_a
    p_cell = p_out / np.interp(p_out, eff[:, 0], eff[:, 1])
    soc, seconds, r = 1.0, 0.0, cell["internal_r_ohm"]
    capacity_c = cell["capacity_mah"] * 3.6
    while True:
        e = np.interp(soc, ocv[:, 0], ocv[:, 1])
        i_cell = (e - np.sqrt(e * e - 4 * r * p_cell)) / (2 * r)
        if e - i_cell * r < cell["cutoff_v"]:
            break
        soc -= i_cell * step_s / capacity_c
        seconds += step_s
    return current_a * seconds / 3.6, v_load * current_a * seconds / 3600


def test_honest_unit_measures_what_its_model_says(tmp_path):
    record, _ = run_record(tmp_path, "--method", "discharge", "--sim-dut", "honest-10000")
    label = record["label"]
    mah, wh = model_prediction("honest-10000", label["rated_output_a"], end_v=4.0)
    assert record["capacity_mah"] == pytest.approx(mah, rel=0.003)
    assert record["energy_wh"] == pytest.approx(wh, rel=0.003)
    assert record["efficiency"] == pytest.approx(wh / label["rated_energy_wh"], rel=0.003)


def test_a_seed_reproduces_a_run_bit_for_bit(tmp_path):
    runs = []
    for n, rig_seed in enumerate((1, 1, 2)):
        rig = tmp_path / f"rig{n}.toml"
        rig.write_text((ROOT / "rigs/sim.toml").read_text().replace("seed = 1", f"seed = {rig_seed}"))
        record, _ = run_record(tmp_path / str(n), "--rig", rig, "--sim-dut", "intermittent-contact")
        run_dir = tmp_path / str(n) / "data" / "runs" / record["run_id"]
        stream = b"".join(p.read_bytes() for p in sorted(run_dir.glob("rx-*.bin")))
        # the ACKs echo the host's command numbers, which start at random: every other byte is the rig's own
        runs.append([f for f in stream.split(b"\x00") if f and wire.decode_frame(f)[0] != 0x82])
    assert runs[0] == runs[1]  # same seed: every frame the rig sent is the same, byte for byte
    assert runs[0] != runs[2]  # another seed: other noise


def test_speed_runs_the_simulation_against_the_wall_clock(tmp_path):
    curve = tmp_path / "short.csv"
    curve.write_text("delivered_mah,voltage_v\n0,5.1\n6,5.0\n")  # ~10 s at 2.1 A
    label = tmp_path / "label.toml"
    label.write_text((DUTS / "honest-10000.label.toml").read_text().replace("6000", "100"))
    import time
    start = time.monotonic()
    proc = pbgrade(tmp_path, "run", "--sim-dut", curve, "--label", label, "--method", "discharge", "--speed", "4")
    wall = time.monotonic() - start
    assert proc.returncode == 1, proc.stderr
    assert wall > 11 / 4  # at least (discharge + hold) / 4 of wall time; virtual time would take well under 1 s
