"""Short circuit: the output is seen working at light load, shorted through the
rig's switch, then watched for whether it comes back."""
from ..i18n import N_
from .quantity import Quantity, plain
from .shared import OBSERVE, OFF_V, Outcome, Plan, Schema, rated_ma

SCHEMA = Schema({"short_ms": (10, 2000, 500), "observe_s": (1, 60, 5), "light_fraction": (0.01, 0.9, 0.1)})
QUANTITIES = {
    "short_trip_time_s": Quantity(N_("short-circuit protection time"),
                                  plain(N_("short-circuit protection acted within {value}"), " s", 1), "s"),
    "short_recovered": Quantity(N_("output recovered after short circuit"),
                                plain(N_("the output came back after the short: {value} (1 yes, 0 no)"), "", 0)),
    "short_protected": Quantity(N_("short-circuit protection acted"),
                                plain(N_("the unit cut a short circuit itself: {value} (1 yes, 0 no)"), "", 0)),
}
NO_SWITCH = N_("not tested: this rig has no short-circuit switch ([load] short_pin)")
OFF_BEFORE = N_("the output was off before the short circuit: not tested")
SHORTED = N_("short circuit for {seconds} s: {did}; {after}")
CUT = N_("the unit cut its output within {seconds} s (one reading every {period} s)")
FED = N_("the unit kept feeding the short ({amps} A read, the sensor's range may clip it) until the rig opened it")
BACK_AT_ONCE = N_("its output came back at light load at once (by the next reading)")
BACK_AFTER = N_("its output came back at light load after {seconds} s")
NOT_BACK = N_("its output had not come back {seconds} s later")
SAYINGS = (NO_SWITCH, OFF_BEFORE, SHORTED, CUT, FED, BACK_AT_ONCE, BACK_AFTER, NOT_BACK)  # (shared.SAYINGS)
SHORT_AFTER_MS = 2000  # the output is seen working at light load this long before the short


def measures(settings):
    return tuple(QUANTITIES)


def plan(step, label, options):
    s = step.settings
    light = {**OBSERVE, "load_ma": max(1, round(rated_ma(label) * s["light_fraction"]))}
    if not options.short_switch:
        return Plan(light, skip=NO_SWITCH)
    return Plan(light, short={"start_ms": SHORT_AFTER_MS, "ms": s["short_ms"]},
                seconds=SHORT_AFTER_MS / 1000 + s["short_ms"] / 1000 + s["observe_s"])


def measure(step, evaluation, plan_, label):
    """Protected: the current fell below the rated current while the short
    lasted (an unprotected unit feeds the short until the rig opens it).
    Recovered: after the short, at light load, the output came back."""
    unmeasured = {"short_protected": None, "short_trip_time_s": None, "short_recovered": None}
    t, v, i = evaluation.samples()
    on = next((e["t_s"] for e in evaluation.events if e["name"] == "short_on"), None)
    off = next((e["t_s"] for e in evaluation.events if e["name"] == "short_off"), None)
    if on is None or off is None or not (v[t < on] > OFF_V).any():
        return Outcome(unmeasured, [OFF_BEFORE])
    period = evaluation.period_us / 1e6
    during = (t >= on) & (t < off)
    rated_a = label.rated_output_a
    protected_at = t[during & (i < rated_a)]
    after = (t >= off) & (v > 0.9 * label.rated_output_v)
    m = {"short_protected": int(protected_at.size > 0 and i[during][-1] < rated_a),
         "short_trip_time_s": float(protected_at[0] - on + period) if protected_at.size else None,
         "short_recovered": int(after.any())}
    peak = float(i[during].max()) if during.any() else 0.0
    did = (CUT.format(seconds=f"{m['short_trip_time_s']:.1f}", period=f"{period:g}") if m["short_protected"]
           else FED.format(amps=f"{peak:.1f}"))
    return Outcome(m, [SHORTED.format(seconds=f"{off - on:.1f}", did=did, after=_came_back(t, after, off, period))])


def _came_back(t, after, off, period):
    """Whether and when the output came back after the short (after: the samples where it is back)."""
    if not after.any():
        return NOT_BACK.format(seconds=f"{t[-1] - off:.0f}")
    seconds = t[after][0] - off
    return BACK_AT_ONCE if seconds < period else BACK_AFTER.format(seconds=f"{seconds:.1f}")
