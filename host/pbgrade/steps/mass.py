"""Mass against energy: the unit's mass, typed by the inspector (--mass-g), against
the cell energy its label claims. Cells hold at most so many Wh per kg (profiles/quick.toml cites the
datasheets), so a label whose energy would need more cell mass than the whole unit weighs cannot be true.
What it cannot see: ballast added to a fake (a steel plate weighs like cells)."""
from ..i18n import N_
from ..traceability import TraceError
from .quantity import Quantity
from .shared import OBSERVE, Outcome, Plan, Schema

SCHEMA = Schema({})
MASS_RANGE_G = (10.0, 5000.0)  # a power bank; outside it, a typo (or kg, or ounces)


def _density(value, threshold, label, translate):
    """value and threshold in Wh/kg of the label's cell energy over the unit's mass."""
    energy = label.rated_energy_wh
    return (translate(N_("this unit weighs {mass} g ({density} Wh/kg of the label's cell energy)")).format(
                mass=f"{energy / value * 1000:,.0f}", density=f"{value:,.0f}"),
            translate(N_("{threshold} Wh/kg: {energy} Wh of cells weighs at least {least} g")).format(
                threshold=f"{threshold:,.0f}", energy=f"{energy:.0f}", least=f"{energy / threshold * 1000:,.0f}"))


def _grams(value, threshold, label, translate):
    return translate(N_("the unit weighs {value} g")).format(value=f"{value:,.0f}"), f"{threshold:,.0f} g"


QUANTITIES = {
    "mass_g": Quantity(N_("mass of the unit"), _grams, "g"),
    "label_wh_per_kg": Quantity(N_("cell energy on the label per kg of the unit"), _density, "Wh/kg"),
}
TYPED = N_("its mass, {grams} g, was typed by the inspector")
NO_MASS = N_("not weighed: no --mass-g was given")
SAYINGS = (TYPED, NO_MASS)


def measures(settings):
    return tuple(QUANTITIES)


def plan(step, label, options):
    """One second without load (the output seen before the first load); the mass typed rides in the plan,
    which the run's journal keeps, so a re-grade weighs the same."""
    if options.mass is None:
        return Plan(dict(OBSERVE), skip=NO_MASS)
    return Plan(dict(OBSERVE), seconds=1, mass=dict(options.mass))


def measure(step, evaluation, plan_, label):
    grams = plan_.mass["grams"]
    return Outcome({"mass_g": grams, "label_wh_per_kg": label.rated_energy_wh / grams * 1000},
                   [TYPED.format(grams=f"{grams:g}")])


def typed(text):
    """--mass-g as the plan's mass, range-checked; None if not given. TraceError: one line saying what to give."""
    if text is None:
        return None
    try:
        grams = float(text)
    except ValueError:
        raise TraceError(f"--mass-g {text!r} is not a number: give the unit's mass in grams, e.g. --mass-g 212") \
            from None
    low, high = MASS_RANGE_G
    if not low <= grams <= high:
        raise TraceError(f"--mass-g {grams:g} is outside {low:g} to {high:g} g: give the unit's mass in grams "
                         f"(not kg or ounces), e.g. --mass-g 212")
    return {"grams": grams, "source": "typed"}
