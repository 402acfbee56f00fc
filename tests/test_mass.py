"""--mass-g: range-checked before any current flows, one line saying what to give; the typed mass rides in
the mass step's plan (so a re-grade weighs the same) and says its source."""
from types import SimpleNamespace

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
    step = load_method("quick").steps[-1]
    weighed = plan(step, label, Options(mass=mass.typed("128")))
    assert weighed.mass == {"grams": 128.0, "source": "typed"} and not weighed.skip
    outcome = measure(step, None, weighed, label)
    assert outcome.measurements == {"mass_g": 128.0, "label_wh_per_kg": pytest.approx(74 / 0.128)}
    assert outcome.behaviours == ["its mass, 128 g, was typed by the inspector"]
    unweighed = plan(step, label, Options())
    assert unweighed.skip and measure(step, None, unweighed, label).measurements == {
        "mass_g": None, "label_wh_per_kg": None}


SCALE = {"tare_counts": 61_000, "counts_per_g": 420.0, "known_g": 500.0, "calibrated_at": "2026-12-04T15:00:00+00:00"}


class Weighed:
    """What a mass step's evaluation holds of the scale: its WEIGHT reply, or None if it never came."""

    def __init__(self, counts=None):
        self.weight = None if counts is None else SimpleNamespace(counts=counts, readings=16)


@pytest.mark.parametrize("counts, measured, says", [
    (61_000 + 420 * 128, 128.0, "weighed on the rig's scale: 128.0 g (scale calibrated with a 500 g weight on "
                                "2026-12-04)"),
    (61_000 + 420 * 2, None, "not weighed: the scale read 2.0 g, less than any power bank"),
    (None, None, "not weighed: the scale's reading did not arrive"),
])
def test_the_scale_weighs_by_the_set_up_the_plan_keeps(counts, measured, says):
    label = load_label(DUTS / "fake-20000.label.toml")
    step = load_method("quick").steps[-1]
    weighed = plan(step, label, Options(scale=SCALE))
    assert weighed.weigh == {"readings": 16} and weighed.mass == {**SCALE, "source": "scale"}
    outcome = measure(step, Weighed(counts), weighed, label)
    assert outcome.measurements["mass_g"] == measured and outcome.behaviours[0].startswith(says)
    typed = plan(step, label, Options(scale=SCALE, mass=mass.typed("130")))
    assert typed.weigh is None and typed.mass["source"] == "typed"  # what the inspector typed wins
