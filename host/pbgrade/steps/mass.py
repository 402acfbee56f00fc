"""Mass against energy: the unit's mass, typed by the inspector (--mass-g) or weighed on the rig's scale, against
the cell energy its label claims. Cells hold at most so many Wh per kg (profiles/quick.toml cites the
datasheets), so a label whose energy would need more cell mass than the whole unit weighs cannot be true.
What it cannot see: ballast added to a fake (a steel plate weighs like cells)."""
from ..i18n import N_
from ..traceability import typed_number
from .quantity import Quantity
from .shared import OBSERVE, Outcome, Plan, Schema

SCHEMA = Schema({})
MASS_RANGE_G = (10.0, 5000.0)  # a power bank; outside it, a typo (or kg, or ounces)
SCALE_READINGS = 16  # 1.6 s at the HX711's 10 samples/s: a quarter of one reading's noise


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
WEIGHED = N_("weighed on the rig's scale: {grams} g (scale calibrated with a {known} g weight on {date})")
NO_MASS = N_("not weighed: the rig has no scale and no `--mass-g` was given")
NO_READING = N_("not weighed: the scale's reading did not arrive")
EMPTY = N_("not weighed: the scale read {grams} g, less than any power bank: put the unit on the platform, or tare "
           "the scale again")
SAYINGS = (TYPED, WEIGHED, NO_MASS, NO_READING, EMPTY)


def measures(settings):
    return tuple(QUANTITIES)


def plan(step, label, options):
    """One second without load (a step takes readings); the mass typed, or the scale's set-up it is weighed
    with, rides in the plan, which the run's journal keeps, so a re-grade weighs the same."""
    if options.mass is not None:
        return Plan(dict(OBSERVE), seconds=1, mass=dict(options.mass))
    if options.scale is not None:
        return Plan(dict(OBSERVE), seconds=1, mass={**options.scale, "source": "scale"},
                    weigh={"readings": SCALE_READINGS})
    return Plan(dict(OBSERVE), skip=NO_MASS)


def grams(counts, scale):
    """A scale's raw reading in grams, by its set-up (`pbgrade scale`: tare_counts, counts_per_g)."""
    return (counts - scale["tare_counts"]) / scale["counts_per_g"]


def measure(step, evaluation, plan_, label):
    mass = plan_.mass
    if mass["source"] == "typed":
        weighed, said = mass["grams"], TYPED.format(grams=f"{mass['grams']:g}")
    elif evaluation.weight is None:
        return Outcome(dict.fromkeys(QUANTITIES), [NO_READING])
    else:
        weighed = grams(evaluation.weight.counts, mass)
        if weighed < MASS_RANGE_G[0]:
            return Outcome(dict.fromkeys(QUANTITIES), [EMPTY.format(grams=f"{weighed:.1f}")])
        said = WEIGHED.format(grams=f"{weighed:.1f}", known=f"{mass['known_g']:g}", date=mass["calibrated_at"][:10])
    return Outcome({"mass_g": weighed, "label_wh_per_kg": label.rated_energy_wh / weighed * 1000}, [said])


def typed(text):
    """--mass-g as the plan's mass, range-checked; None if not given (TraceError: one line saying what to give)."""
    value = typed_number(text, "--mass-g", MASS_RANGE_G, "g", "the unit's mass in grams", " (not kg or ounces)", 212)
    return None if value is None else {"grams": value, "source": "typed"}
