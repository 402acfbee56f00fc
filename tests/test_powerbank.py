"""The power-bank model's behaviours, one at a time (rigs/sim/powerbank.py)."""
import copy

import pytest

from powerbank import FOREVER, ModelBank

BASE = {
    "cell": {"capacity_mah": 1000, "internal_r_ohm": 0.05, "cutoff_v": 3.0},
    "converter": {"efficiency": [[1.0, 0.8], [10.0, 0.9]]},
    "output": {"level_v": 5.1, "droop_ohm": 0.05, "cable_ohm": 0.01},
}


def bank(**sections):
    return ModelBank({**BASE, **sections}, seed=1)


def run(b, current_a, seconds):
    """Hold a current the way the world does: up to each switching moment."""
    while seconds > 0:
        step = min(seconds, max(b.until_change(current_a), 1e-6))
        b.step(current_a, step)
        seconds -= step


def test_output_droops_with_load_and_cable():
    b = bank()
    assert b.voltage(0.0) == pytest.approx(5.1)
    assert b.voltage(2.0) == pytest.approx(5.1 - 2.0 * 0.06)


def test_energy_is_conserved_through_the_converter():
    b = bank()
    soc0 = b.soc
    _, v_start, _ = b._cell(1.0)
    run(b, 1.0, 600)
    _, v_end, _ = b._cell(1.0)
    p_out = (5.1 - 0.05) * 1.0
    p_cell = p_out / (0.8 + (0.9 - 0.8) * (p_out - 1) / 9)
    cell_charge_c = (soc0 - b.soc) * 1000 * 3.6
    # what the cell gave, at its terminal voltage, is the output power over the efficiency
    assert cell_charge_c * (v_start + v_end) / 2 == pytest.approx(p_cell * 600, rel=0.005)  # the OCV is not linear
    assert b.delivered_c == pytest.approx(600.0)
    assert b.energy_j == pytest.approx((5.1 - 0.06) * 600)


def test_under_voltage_protection_ends_the_discharge():
    b = bank()
    run(b, 2.0, 3 * 3600)
    assert not b.on and b.off_reason == "under-voltage protection of the cell"
    assert 0 < b.soc < 0.1


def test_foldback_lowers_the_output_before_the_cutoff():
    b = bank(cell={**BASE["cell"], "foldback_v": 3.5})
    seen = []
    while b.on:
        run(b, 1.0, 10)
        seen.append(b.voltage(1.0))
    full = 5.1 - 0.06
    assert seen[0] == pytest.approx(full)
    assert any(0 < v < full * 0.9 for v in seen)  # it folded back before switching off


def test_over_current_trips_after_its_delay_and_recovers():
    b = bank(protection={"ocp_a": 2.0, "ocp_delay_s": 0.05, "ocp_recover_s": 2.0})
    run(b, 1.9, 10)
    assert b.on
    run(b, 2.5, 0.049)
    assert b.on
    run(b, 2.5, 0.002)
    assert not b.on and b.off_reason == "over-current protection"
    run(b, 0.0, 1.9)
    assert not b.on
    run(b, 0.0, 0.2)
    assert b.on  # hiccup mode: back after 2 s


@pytest.mark.parametrize("delay_s", [0.001, 0.020])
def test_a_protection_acts_at_its_delay_to_the_microsecond(delay_s):
    # the world steps a bank up to its next switching moment, whatever the time between two looks: a
    # 1 ms protection cuts at 1 ms, which a sensor converting every 0.66 ms then sees (tests/test_trip_times.py)
    b = bank(protection={"ocp_a": 2.0, "ocp_delay_s": delay_s, "short_delay_s": delay_s})
    assert b.advance(2.5, 1.0) == pytest.approx(delay_s, abs=1e-9) and not b.on
    b = bank(protection={"ocp_a": 2.0, "ocp_delay_s": 0.5, "short_delay_s": delay_s})
    assert b.advance(b.short_current(0.05), 1.0) == pytest.approx(delay_s, abs=1e-9) and not b.on


def test_over_current_can_latch():
    b = bank(protection={"ocp_a": 2.0, "ocp_delay_s": 0.0, "ocp_recover_s": -1})
    run(b, 2.5, 0.01)
    run(b, 0.0, 600)
    assert not b.on
    b.load_connected()  # re-plugging resets the latch
    assert b.on


def test_light_load_switches_the_unit_off():
    b = bank(protection={"auto_off_below_a": 0.1, "auto_off_after_s": 30})
    run(b, 0.05, 29.9)
    assert b.on
    run(b, 1.0, 10)  # a real load resets the timer
    run(b, 0.05, 29.9)
    assert b.on
    run(b, 0.05, 0.2)
    assert not b.on and b.off_reason == "auto shut-off at light load"
    b.load_connected()  # a load plugged in wakes it
    assert b.on


def test_intermittent_contact_drops_the_output_on_schedule():
    b = bank(contact={"dropout_every_s": 100, "dropout_s": 0.3})
    assert b.until_change(1.0) == pytest.approx(100)
    run(b, 1.0, 100.1)
    assert b.voltage(1.0) == 0.0 and b.on
    assert b.until_change(0.0) == pytest.approx(0.2)
    run(b, 0.0, 0.25)
    assert b.voltage(1.0) > 5


def test_temperature_rises_with_load_and_settles():
    b = bank(thermal={"c_per_w": 10, "tau_s": 60, "ambient_c": 25})
    run(b, 2.0, 600)
    loss_w = (5.1 - 0.1) * 2.0 * (1 / 0.9 - 1)
    assert b.temp_c == pytest.approx(25 + 10 * loss_w, rel=0.05)


def test_noise_is_seeded():
    noisy = {"output": {**BASE["output"], "noise_mv": 5}}
    a, b, c = (ModelBank({**BASE, **noisy}, seed=s) for s in (1, 1, 2))
    va = [a.sensed_voltage(1.0) for _ in range(100)]
    assert va == [b.sensed_voltage(1.0) for _ in range(100)]
    assert va != [c.sensed_voltage(1.0) for _ in range(100)]
    assert 0.002 < (sum((v - 5.04) ** 2 for v in va) / 100) ** 0.5 < 0.008


def test_nothing_switches_by_itself_without_protections():
    assert bank().until_change(1.0) >= FOREVER / 2


def test_requested_level_sets_the_output_and_its_protection():
    pd = bank(output={**BASE["output"], "levels": [[5.1, 3.0], [9.0, 2.0]], "level_v": 9.0})
    assert pd.voltage(0.0) == pytest.approx(9.0)
    assert pd.ocp_a == pytest.approx(2.2)  # 110 % of the 9 V level's rated current, unless the file says


def test_short_circuit_trips_fast_and_a_reconnected_load_wakes_the_unit():
    b = bank(protection={"ocp_a": 2.5, "ocp_delay_s": 0.5})
    into_short = b.short_current(0.05)
    assert into_short == pytest.approx(5.1 / (0.05 + 0.01 + 0.05)) and into_short > b.short_a
    run(b, into_short, 0.0004)
    assert b.on  # the output capacitors carry it for a moment ...
    run(b, into_short, 0.0002)
    assert not b.on and b.off_reason == "short-circuit protection"  # ... then it cuts, long before ocp_delay_s
    assert b.short_current(0.05) == 0.0
    cell_soc = b.soc
    b.load_connected()
    assert b.on and b.soc == cell_soc  # the short did not draw on the cell


def test_the_cell_cuts_the_output_at_its_true_instant_inside_a_step():
    """From the same state near the end, a discharge in whole-second steps delivers what one in 1 ms steps
    does: the protection cuts the output where the cell's voltage reaches it inside the step, not at the
    step's end (which made every simulated discharge end on a reading's instant; bench accuracy)."""
    b = bank()
    while b.soc > 0.02:
        b.step(1.0, 1.0)
    coarse, fine = copy.deepcopy(b), copy.deepcopy(b)
    while coarse.on:
        coarse.step(1.0, 1.0)
    while fine.on:
        fine.step(1.0, 0.001)
    one_step_j = 1.0 * 5.05 * 1.0  # a whole coarse step's energy: what a cut at its end could be off by
    assert abs(coarse.energy_j - fine.energy_j) < one_step_j / 20
    assert coarse.off_reason == fine.off_reason == "under-voltage protection of the cell"
