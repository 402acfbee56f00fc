"""--mass-g: range-checked before any current flows, one line saying what to give; the typed mass rides in
the mass step's plan (so a re-grade weighs the same) and says its source."""
import pytest

from pbgrade.cli import main
from pbgrade.label import load_label
from pbgrade.method import load_method
from pbgrade.paths import DUTS
from pbgrade.runner import Options
from pbgrade.steps import mass, measure, plan


@pytest.mark.parametrize("typed, says", [("5kg", "is not a number"), ("0.2", "outside 10 to 5000 g"),
                                         ("12000", "outside 10 to 5000 g")])
def test_a_mass_that_cannot_be_right_is_refused_in_one_line(tmp_path, monkeypatch, capsys, typed, says):
    monkeypatch.setenv("PBGRADE_DATA", str(tmp_path))
    assert main(["run", "--sim-dut", "fake-20000", "--method", "quick", "--mass-g", typed]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and "in grams" in err


def test_the_typed_mass_is_in_the_plan_and_the_record_says_its_source():
    label = load_label(DUTS / "fake-20000.label.toml")
    step = load_method("quick").steps[0]
    weighed = plan(step, label, Options(mass=mass.typed("128")))
    assert weighed.mass == {"grams": 128.0, "source": "typed"} and not weighed.skip
    outcome = measure(step, None, weighed, label)
    assert outcome.measurements == {"mass_g": 128.0, "label_wh_per_kg": pytest.approx(74 / 0.128)}
    assert outcome.behaviours == ["its mass, 128 g, was typed by the inspector"]
    unweighed = plan(step, label, Options())
    assert unweighed.skip and measure(step, None, unweighed, label).measurements == {
        "mass_g": None, "label_wh_per_kg": None}
