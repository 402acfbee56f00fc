"""Over-current: the load ramps up from the rated current until the unit's protection
trips (or the rig's limit), then watches whether the output comes back."""
import numpy as np

from ..i18n import N_
from .quantity import Quantity, plain
from .shared import OBSERVE, OFF_V, PERIOD_US, Outcome, Plan, Schema, rated_ma, skipped_on_external_load, trip_time_ms

SCHEMA = Schema({"max_fraction": (1.05, 3.0, 1.6), "step_fraction": (0.01, 0.5, 0.05),
                 "step_s": (0.2, 10, 1.0), "observe_s": (1, 120, 10)})
QUANTITIES = {
    "ocp_below_rated": Quantity(N_("over-current protection below rated current"),
                                plain(N_("protection tripped below the rated current: {value} (1 yes, 0 no)"), "", 0)),
    "ocp_recovered": Quantity(N_("output recovered after over-current protection"),
                              plain(N_("the output came back after the trip: {value} (1 yes, 0 no)"), "", 0)),
    "ocp_trip_time_ms": Quantity(N_("over-current protection trip time"),
                                 plain(N_("over-current protection took {value} to trip"), " ms", 1), "ms"),
    "ocp_trip_resolution_ms": Quantity(N_("resolution of the over-current protection trip time"),
                                       plain(N_("the over-current trip time is known to {value}"), " ms", 2), "ms"),
    "ocp_trip_a": Quantity(N_("over-current protection trip current"),
                           plain(N_("over-current protection tripped at {value}"), " A", 2), "A"),
    "ocp_trip_ratio": Quantity(N_("over-current protection trip current against rated"),
                               plain(N_("over-current protection tripped at {value} of the rated current"), " %", 0,
                                     100), "%"),
}
OFF_BEFORE = N_("the output was off before the over-current step began")
NO_TRIP = N_("no over-current trip up to {amps} A ({percent} of rated), the most this rig draws")
TRIPPED = N_("over-current protection tripped at {amps} A ({percent} of rated), {ms} ms (to {resolution} ms) after "
             "the current was raised to it; {after}")
CAME_BACK = N_("the output came back after {seconds} s (auto-recovery)")
STAYED_OFF = N_("the output stayed off for the {seconds} s observed (latched, or slower to recover)")
SAYINGS = (OFF_BEFORE, NO_TRIP, TRIPPED, CAME_BACK, STAYED_OFF)  # what it says the unit did (shared.SAYINGS)
RAMP_HEADROOM = 0.98  # the ramp stops this far below the rig's limit: the load's ripple and the
# sensor's noise at the limit itself would trip the device's own protection


def measures(settings):
    return tuple(QUANTITIES)


def plan(step, label, options):
    s, full_ma = step.settings, rated_ma(label)
    step_ma = max(1, round(full_ma * s["step_fraction"]))
    top_ma = max(full_ma, min(round(full_ma * s["max_fraction"]), round(options.max_current_ma * RAMP_HEADROOM)))
    steps = -(-(top_ma - full_ma) // step_ma)
    return skipped_on_external_load(options) or Plan(
        {**OBSERVE, "load_ma": full_ma},
        {"step_ma": step_ma, "step_ms": round(s["step_s"] * 1000), "max_ma": top_ma},
        seconds=steps * s["step_s"] + s["observe_s"])


def measure(step, evaluation, plan_, label):
    t, v, _ = evaluation.samples()
    ramp, rated_ma = plan_.ramp, plan_.config["load_ma"]
    slots = ramp["step_ms"] * 1000 // PERIOD_US
    k = np.round(t * 1e6 / PERIOD_US).astype(int)
    setpoint_ma = np.minimum(rated_ma + (k // slots) * ramp["step_ma"], ramp["max_ma"])
    up = v > OFF_V
    if not up.any():
        return Outcome({"ocp_trip_ratio": None, "ocp_below_rated": None},
                       [OFF_BEFORE])
    first_up = np.flatnonzero(up)[0]
    down = np.flatnonzero(~up[first_up:])
    if down.size == 0:
        top = ramp["max_ma"] / 1000
        return Outcome({"ocp_trip_ratio": None, "ocp_below_rated": 0, "ocp_trip_a": None},
                       [NO_TRIP.format(amps=f"{top:g}", percent=f"{top * 1000 / rated_ma:.0%}")])
    trip = first_up + down[0]
    trip_ma = int(setpoint_ma[trip])  # the step during which it gave up
    step_began = t[np.flatnonzero(setpoint_ma == trip_ma)[0]]
    trip_ms, resolution_ms = trip_time_ms(evaluation, max(t[trip] - step_began, PERIOD_US / 1e6))
    back = np.flatnonzero(up[trip:])
    recovered = back.size > 0
    after = (CAME_BACK.format(seconds=f"{t[trip + back[0]] - t[trip]:.1f}") if recovered
             else STAYED_OFF.format(seconds=f"{t[-1] - t[trip]:.0f}"))
    return Outcome({"ocp_trip_a": trip_ma / 1000, "ocp_trip_ratio": trip_ma / rated_ma,
                    "ocp_trip_time_ms": trip_ms, "ocp_trip_resolution_ms": resolution_ms,
                    "ocp_below_rated": int(trip_ma < rated_ma), "ocp_recovered": int(recovered)},
                   [TRIPPED.format(amps=f"{trip_ma / 1000:.2f}", percent=f"{trip_ma / rated_ma:.0%}",
                                   ms=f"{trip_ms:.1f}", resolution=f"{resolution_ms:g}", after=after)])
