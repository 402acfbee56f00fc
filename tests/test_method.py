"""Method files: the built-in ones load; a bad one is refused in one line
that names the file, the line and the fix."""
import pytest

from pbgrade import steps
from pbgrade.cli import main
from pbgrade.label import Label
from pbgrade.method import MethodError, Step, builtin_methods, load_method
from pbgrade.runner import Options

FULL = load_method("full").path


def test_builtin_methods_load():
    assert builtin_methods() == ["cycles", "discharge", "eol", "full", "quick", "recharge"]
    full = load_method("full")
    assert [s.type for s in full.steps] == ["no_load", "rest", "load_regulation", "over_current", "short_circuit",
                                            "discharge"]
    assert full.profile == "gbt35590" and load_method("quick").verdict == "screen"
    assert [s.type for s in load_method("quick").steps][-2:] == ["discharge", "mass"]  # mass last: see quick.toml
    assert load_method("quick").steps[-2].settings["seconds"] == 120


def edited(tmp_path, old, new):
    text = open(FULL).read()
    assert old in text
    path = tmp_path / "method.toml"
    path.write_text(text.replace(old, new, 1))
    return path, path.read_text().splitlines()


@pytest.mark.parametrize("old, new, words, line_of", [
    ("seconds = 600", "secs = 600", ["secs is not a known field"], "secs = 600"),
    ("seconds = 600", "seconds = -5", ["seconds = -5 is outside"], "seconds = -5"),
    ("seconds = 600", 'seconds = "ten minutes"', ["seconds must be a number"], 'seconds = "ten minutes"'),
    ('type = "rest"', 'type = "nap"', ["type = 'nap' is not a step type"], 'type = "nap"'),
    ("short_ms = 500", "short_ms = 5000", ["short_ms = 5000 is outside 10-2000"], "short_ms = 5000"),
    ("current_fraction = 1.0", "cycles = 3", ["cycles is not a known field"], "cycles = 3"),
    ('verdict = "grade"', 'verdict = "vibes"', ["verdict = 'vibes' is not a verdict kind"], 'verdict = "vibes"'),
    ('[[step]]\ntype = "discharge"\ncurrent_fraction = 1.0', '', ['no [[step]] with type = "discharge"'], None),
])
def test_bad_method_is_refused_naming_the_line(tmp_path, old, new, words, line_of):
    path, lines = edited(tmp_path, old, new)
    with pytest.raises(MethodError) as caught:
        load_method(path)
    message = str(caught.value)
    assert "\n" not in message
    for w in words:
        assert w in message
    if line_of:
        assert f"method.toml:{lines.index(line_of) + 1}:" in message


def test_unknown_method_lists_the_builtins():
    with pytest.raises(MethodError, match="use one of cycles, discharge, eol, full, quick, recharge"):
        load_method("nosuch")


def test_short_circuit_plan_needs_the_rigs_switch():
    step = next(s for s in load_method("full").steps if s.type == "short_circuit")
    label = Label(cell_capacity_mah=10000, cell_voltage_v=3.7, rated_capacity_mah=6000, rated_output_v=5.0,
                  rated_output_a=2.1)
    with_switch = steps.plan(step, label, Options(max_current_ma=3500, short_switch=True))
    assert with_switch.short == {"start_ms": 2000, "ms": 500} and with_switch.seconds == 2 + 0.5 + 5
    assert with_switch.config["load_ma"] == 210 and not with_switch.skip
    without = steps.plan(step, label, Options(max_current_ma=3500))
    assert without.short is None and "no short-circuit switch" in without.skip


@pytest.mark.parametrize("limit_ma, top_ma", [(3500, 3360), (5000, 3360), (3000, 2940), (2000, 2100)])
def test_over_current_ramp_stops_short_of_the_rigs_limit(limit_ma, top_ma):
    """160 % of 2.1 A is 3.36 A: the ramp goes there, or to 98 % of the rig's limit, never below the rated current."""
    step = next(s for s in load_method("full").steps if s.type == "over_current")
    label = Label(cell_capacity_mah=10000, cell_voltage_v=3.7, rated_capacity_mah=6000, rated_output_v=5.0,
                  rated_output_a=2.1)
    assert steps.plan(step, label, Options(max_current_ma=limit_ma)).ramp["max_ma"] == top_ma


@pytest.mark.parametrize("command, names", [("methods", ["cycles", "discharge", "eol", "full", "quick", "recharge"]),
                                            ("profiles", ["charge", "eol", "gbt35590", "quick", "tiers"])])
def test_methods_and_profiles_are_listed_one_line_each(capsys, command, names):
    assert main([command]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == names
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)  # each with its title


def test_a_step_lists_what_it_measures_in_a_fixed_order():
    """The order a record lists the quantities in, whatever PYTHONHASHSEED; a named step prefixes them."""
    no_load, *_, discharge, mass = load_method("quick").steps
    assert steps.measured_by(mass) == ("mass_g", "label_wh_per_kg")
    assert steps.measured_by(no_load) == ("no_load_voltage_ratio", "no_load_voltage_v")
    assert steps.measured_by(discharge)[-3:] == ("collapsed", "voltage_slope_v_per_min", "short_energy_wh")
    half = Step("discharge", {**discharge.settings, "seconds": 0}, "half")
    assert steps.measured_by(half)[:2] == ("half_capacity_mah", "half_energy_wh")
