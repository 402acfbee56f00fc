"""The recharge step: the simulator's charging model against its formula, a recharge on the simulated rig
with a charging path measured against the simulator's truth, a charge that never ends timed out with the
relay open, and a rig without the path refused before the test."""
from math import sqrt

import pytest

from conftest import ROOT
from pbgrade import cli
from pbgrade.label import load_label
from pbgrade.method import load_method
from pbgrade.paths import DUTS
from pbgrade.profile import load_profile
from pbgrade.rig import RigFileError, load_rig
from pbgrade.runner import Options, plans_for, run_test
from pbgrade.simdut import load_dut
from pbgrade.simrig import SimRig
from powerbank import DEFAULT_CHARGE, LI_ION_OCV, ModelBank

LABEL = DUTS / "fake-tiny.label.toml"  # a 100 mAh cell: minutes to empty and to charge


def tiny_bank(soc):
    model = load_dut("fake-tiny")["model"]
    model["cell"]["initial_soc"] = soc
    return ModelBank(model)


def test_the_charging_model_follows_its_formula():
    bank = tiny_bank(0.5)
    bank.charge(5.0, 0.0)
    ocv = 3.79  # LI_ION_OCV at 50 %
    assert dict(LI_ION_OCV)[0.5] == ocv
    cc = DEFAULT_CHARGE["cc_a"]  # (4.2 - 3.79) / 0.15 = 2.7 A: constant current
    p_cell = cc * (ocv + cc * 0.15)
    p_in = p_cell / (0.88 + (0.90 - 0.88) * (p_cell - 5.0) / 5.0)
    i_in = (5.0 - sqrt(25.0 - 4 * 0.1 * p_in)) / (2 * 0.1)
    assert bank.input_a == pytest.approx(i_in, rel=1e-12) and bank.input_v == pytest.approx(5.0 - 0.1 * i_in)
    bank.charge(5.0, 1.0)
    assert bank.energy_in_j == pytest.approx(p_in * 1.0, rel=1e-12)
    assert bank.charge_in_c == pytest.approx(i_in * 1.0, rel=1e-12)
    assert bank.soc == pytest.approx(0.5 + cc / (100 * 3.6), rel=1e-12)


def test_the_charge_tapers_in_constant_voltage_and_stops_when_full():
    bank = tiny_bank(0.95)  # OCV 4.12 V: (4.2 - 4.12) / 0.15 = 0.53 A, under the constant current
    bank.charge(5.0, 0.0)
    tapering = bank._i_charge
    assert 0.1 < tapering < DEFAULT_CHARGE["cc_a"]
    bank.charge(5.0, 600.0)
    assert bank.full and bank.input_a == 0.0 and bank.soc >= 1.0
    bank.charge(0.0, 0.0)  # the source taken away: the next one charges again
    assert not bank.full


def test_an_empty_unit_wakes_when_charged():
    bank = tiny_bank(0.0)
    bank.on, bank.off_reason = False, "under-voltage protection of the cell"
    bank.charge(5.0, 1.0)
    assert bank.on and bank.input_a > 0


def charged(tmp_path, method):
    with SimRig(load_rig("sim-charge"), load_dut("fake-tiny"), tmp_path / "sim", tmp_path / "flash") as sim:
        record = run_test(sim.port, load_label(LABEL), LABEL, method, load_profile(method.profile), sim.rig,
                          Options(rate_hz=10), tmp_path / "data")
    return record, sim.truth


def test_a_recharge_measures_the_energy_put_in_against_the_simulators_truth(tmp_path):
    record, truth = charged(tmp_path, load_method("recharge"))
    charge = record["steps"][1]
    assert charge["type"] == "recharge" and charge["events"][-1]["name"] == "charge_done"
    assert record["charged_full"] == 1
    print(f"energy in {record['energy_in_wh']:.5f} Wh, truth {truth['charged_in_wh']:.5f} Wh; "
          f"{record['charge_in_mah']:.3f} mAh, truth {truth['charged_in_mah']:.3f} mAh")
    assert record["energy_in_wh"] == pytest.approx(truth["charged_in_wh"], rel=0.005)
    assert record["charge_in_mah"] == pytest.approx(truth["charged_in_mah"], rel=0.005)
    assert record["charge_efficiency"] == pytest.approx(record["energy_wh"] / record["energy_in_wh"])
    assert 0.5 < record["charge_efficiency"] < 0.9
    assert record["charge_before_discharge_mah"] == 0  # counted from the recharge: the empty run is not credited
    checks = {check["id"]: check for check in record["verdict"]["checks"]}
    assert checks["charge_efficiency"]["ok"] and checks["charged_full"]["ok"]  # graded: the method's profile charge


def test_three_cycles_grade_the_best_with_each_charge_efficiency(tmp_path):
    record, _ = charged(tmp_path, load_method("cycles"))
    capacities = record["cycle_capacities_mah"]
    print(f"cycles {capacities} mAh, best {record['best_cycle']}")
    assert len(capacities) == 3 and record["capacity_mah"] == max(capacities)
    assert capacities[record["best_cycle"] - 1] == max(capacities)
    results = record["steps"]  # empty, charge1, cycle1, charge2, cycle2, charge3, the last discharge
    for n in (1, 2, 3):
        energy_in = next(v for k, v in results[2 * n - 1]["measurements"].items() if k.endswith("energy_in_wh"))
        energy_out = next(v for k, v in results[2 * n]["measurements"].items() if k.endswith("energy_wh"))
        assert record[f"charge{n}_charge_efficiency"] == pytest.approx(energy_out / energy_in, rel=1e-12)
    best = results[2 * record["best_cycle"]]["measurements"]
    assert record["energy_wh"] == next(v for k, v in best.items() if k.endswith("energy_wh"))


def test_a_charge_that_never_ends_times_out_and_the_relay_opens(tmp_path):
    method_file = tmp_path / "short-charge.toml"
    method_file.write_text('[method]\nname = "short-charge"\ntitle = "a minute of charge, then a rest"\n'
                           'verdict = "grade"\nprofile = "gbt35590"\nprovenance = "a test"\n\n'
                           '[[step]]\ntype = "discharge"\nname = "empty"\n\n'
                           '[[step]]\ntype = "recharge"\nmax_s = 60\n\n[[step]]\ntype = "rest"\nseconds = 60\n'
                           '\n[[step]]\ntype = "discharge"\nseconds = 10\n')
    record, truth = charged(tmp_path, load_method(str(method_file)))
    assert record["steps"][1]["events"][-1]["name"] == "charge_timeout" and record["charged_full"] == 0
    assert record["charge_duration_s"] == pytest.approx(60, abs=0.2)
    # had the relay stayed closed through the rest, the unit would have taken twice as much
    assert record["energy_in_wh"] == pytest.approx(truth["charged_in_wh"], rel=0.005)


def test_a_rig_without_a_charging_path_is_refused_before_the_test(capsys, tmp_path, monkeypatch):
    with pytest.raises(RigFileError, match="charging path"):
        plans_for(load_method("recharge"), load_label(LABEL), Options(), load_rig("sim"))
    monkeypatch.setenv("PBGRADE_DATA", str(tmp_path))
    assert cli.main(["run", "--rig", "sim", "--method", "recharge", "--sim-dut", "fake-tiny"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "charging path" in err[-1] and not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


SIM_CHARGE = (ROOT / "rigs" / "sim-charge.toml").read_text()


@pytest.mark.parametrize("edit, words", [
    (("[input_sensor]", "[other]"), ["other", "not a known field"]),
    (("[charger]\nrelay_pin = 15", "[sim_]\nrelay_pin = 15"), ["sim_"]),
    (("address = 0x41", "address = 0x40"), ["[input_sensor] address = 0x40", "its own"]),
    (("max_current_a = 4.0\naverages = 16\nconversion_us = 1100\n\n[charger]",
      "max_current_a = 8.0\naverages = 16\nconversion_us = 1100\n\n[charger]"), ["[sensor]'s chip and max_current_a"]),
    (("max_input_current_a = 3.0", "max_input_current_a = 5.0"), ["max_input_current_a"]),
    (("relay_pin = 15 ", "# "), ["relay_pin"]),
])
def test_a_bad_charging_path_is_refused_in_one_line(tmp_path, edit, words):
    assert edit[0] in SIM_CHARGE
    rig = tmp_path / "rig.toml"
    rig.write_text(SIM_CHARGE.replace(*edit, 1))
    with pytest.raises(RigFileError) as e:
        load_rig(rig)
    assert "\n" not in str(e.value) and all(w in str(e.value) for w in words), str(e.value)


def test_a_charger_without_its_input_sensor_is_refused(tmp_path):
    rig = tmp_path / "rig.toml"
    start, end = SIM_CHARGE.index("[input_sensor]"), SIM_CHARGE.index("[charger]")
    rig.write_text(SIM_CHARGE[:start] + SIM_CHARGE[end:])
    with pytest.raises(RigFileError, match=r"\[charger\] needs \[input_sensor\]"):
        load_rig(rig)
