"""What each step of a method asks of the rig, when it is done, and what it
measured. `plan` is all the device needs (its CONFIG and RAMP); `measure`
works on the step's Evaluation alone, so a re-grade from the journal gets
the same numbers as the live run.

Measurements are plain numbers (None: not measured); behaviours are
sentences for the record: what the unit did that is worth knowing but is not
a failure (a unit switching itself off without load).
"""
from dataclasses import dataclass, field

import numpy as np

from .profile import measurements_from

PERIOD_US = 100_000  # 10 samples/s unless the run's options say otherwise
OFF_V = 1.0  # below this the output is off
SHORT_AFTER_MS = 2000  # the output is seen working at light load this long before the short
OBSERVE = {"period_us": PERIOD_US, "load_ma": 0, "end_mv": 0, "collapse_ma": 0, "hold_ms": 1000,
           "flush_ms": 1000}  # load off, nothing ends the run but its time or STOP


@dataclass
class Plan:
    config: dict
    ramp: dict | None = None
    seconds: float = 0.0  # 0: until the device ends the run
    short: dict | None = None
    load_mode: dict | None = None  # LOAD_MODE body: constant power or resistance instead of CONFIG's current
    skip: str = ""  # why the step cannot run on this rig (it is recorded, not run)


@dataclass
class Outcome:
    measurements: dict = field(default_factory=dict)
    behaviours: list = field(default_factory=list)


RAMP_HEADROOM = 0.98  # an over-current ramp stops this far below the rig's limit: the load's ripple and the
# sensor's noise at the limit itself would trip the device's own protection


def plan(step, label, options):
    """The device settings for a step, from the label and the step's settings."""
    s = step.settings
    rated_ma = round(label.rated_output_a * 1000)
    if step.type in ("no_load", "rest"):
        return Plan(dict(OBSERVE), seconds=s["seconds"])
    if options.external_load and step.type in ("load_regulation", "over_current"):
        return Plan(dict(OBSERVE), skip="not tested: the host sets an external load, and cannot follow the device's "
                                  "current steps sample by sample; a cc or dac load can")
    if step.type == "load_regulation":
        light_ma = max(1, round(rated_ma * s["light_fraction"]))
        return Plan({**OBSERVE, "load_ma": light_ma},
                    {"step_ma": rated_ma - light_ma, "step_ms": round(s["seconds"] * 1000), "max_ma": rated_ma},
                    seconds=2 * s["seconds"])
    if step.type == "short_circuit":
        light = {**OBSERVE, "load_ma": max(1, round(rated_ma * s["light_fraction"]))}
        if not options.short_switch:
            return Plan(light, skip="not tested: this rig has no short-circuit switch ([load] short_pin)")
        return Plan(light, short={"start_ms": SHORT_AFTER_MS, "ms": s["short_ms"]},
                    seconds=SHORT_AFTER_MS / 1000 + s["short_ms"] / 1000 + s["observe_s"])
    if step.type == "over_current":
        step_ma = max(1, round(rated_ma * s["step_fraction"]))
        top_ma = max(rated_ma, min(round(rated_ma * s["max_fraction"]), round(options.max_current_ma * RAMP_HEADROOM)))
        steps = -(-(top_ma - rated_ma) // step_ma)
        return Plan({**OBSERVE, "load_ma": rated_ma},
                    {"step_ma": step_ma, "step_ms": round(s["step_s"] * 1000), "max_ma": top_ma},
                    seconds=steps * s["step_s"] + s["observe_s"])
    config = options.config(label)
    config["load_ma"] = round(rated_ma * s["current_fraction"])
    config["collapse_ma"] = config["load_ma"] // 2
    return Plan(config, seconds=s["seconds"], load_mode=_load_mode(s, label))


def _load_mode(settings, label):
    """The constant power (mW) or resistance (mOhm) that draws current_fraction of the rated current at the
    rated voltage; None for a constant current (CONFIG's)."""
    amperes = label.rated_output_a * settings["current_fraction"]
    if settings["load"] == "power":
        return {"mode": "CP", "value": round(label.rated_output_v * amperes * 1000)}
    if settings["load"] == "resistance":
        return {"mode": "CR", "value": round(label.rated_output_v / amperes * 1000)}
    return None


def measure(step, evaluation, plan_, label):
    """The step's measurements (named with its prefix) and behaviours; a step the rig
    could not run measured nothing, and says why."""
    if plan_.skip:
        outcome = Outcome(dict.fromkeys(measured_by(step)), [plan_.skip])
    else:
        outcome = _MEASURE[step.type](step, evaluation, plan_, label)
    if step.name:
        outcome.measurements = {f"{step.name}_{k}": v for k, v in outcome.measurements.items()}
    return outcome


def _switched_off(t, v, what):
    """A sentence if the output was up and then went off for good during the step."""
    up = v > OFF_V
    if up.any() and not up[-1]:
        off_at = t[np.flatnonzero(up)[-1] + 1]
        return [f"the unit switched its output off after {off_at:.0f} s {what} "
                f"(many units do this to save their cell; not a failure)"]
    return []


def _no_load(step, evaluation, plan_, label):
    t, v, _ = evaluation.samples()
    up = v[v > OFF_V]
    volts = float(up.mean()) if up.size else None
    return Outcome({"no_load_voltage_v": volts,
                    "no_load_voltage_ratio": None if volts is None else volts / label.rated_output_v},
                   _switched_off(t, v, "without load"))


def _rest(step, evaluation, plan_, label):
    t, v, _ = evaluation.samples()
    return Outcome({}, _switched_off(t, v, "while resting without load"))


def _phase_mean(t, v, start, end):
    """Mean voltage over the second half of a phase: the load has settled."""
    mask = (t >= (start + end) / 2) & (t < end) & (v > OFF_V)
    return float(v[mask].mean()) if mask.any() else None


def _load_regulation(step, evaluation, plan_, label):
    t, v, _ = evaluation.samples()
    seconds = step.settings["seconds"]
    light, loaded = _phase_mean(t, v, 0, seconds), _phase_mean(t, v, seconds, 2 * seconds)
    m = {"light_load_voltage_v": light, "loaded_voltage_v": loaded,
         "loaded_voltage_ratio": None if loaded is None else loaded / label.rated_output_v,
         "load_regulation": None if None in (light, loaded) else (light - loaded) / light,
         "ripple_mv_pp": None, "noise_mv_rms": None}
    if not loaded:
        return Outcome(m, ["the output was off at the rated current: regulation not measured"])
    return Outcome(m, _ripple(t, v, seconds, evaluation, m))


def _ripple(t, v, seconds, evaluation, m):
    """Ripple and noise at the rated current, as far as the sensor can see them.

    The settled half of the loaded phase, less its linear trend: peak to peak
    and RMS. Each reading is the sensor's average over its conversion time and
    the readings come at the sample rate, so this sees only what is slower than
    half the sample rate; a boost converter's switching ripple (100 kHz-2 MHz)
    is averaged away, and needs an oscilloscope at 20 MHz bandwidth."""
    mask = (t >= 1.5 * seconds) & (t < 2 * seconds) & (v > OFF_V)
    if mask.sum() < 5:
        return []
    tt, vv = t[mask], v[mask]
    residual = vv - np.polyval(np.polyfit(tt, vv, 1), tt)
    m["ripple_mv_pp"] = float(np.ptp(residual) * 1000)
    m["noise_mv_rms"] = float(residual.std() * 1000)
    ident = evaluation.identity
    window_ms = ident.sensor_period_us / 1000 if ident else None
    seen = f"{1e6 / evaluation.period_us / 2:g} Hz"
    averaged = f", each reading averaged over {window_ms:g} ms" if window_ms else ""
    return [f"ripple and noise at the rated current: {m['ripple_mv_pp']:.1f} mV peak to peak, "
            f"{m['noise_mv_rms']:.1f} mV RMS, seen from DC to {seen}{averaged} (sensor noise included); "
            f"switching ripple above that needs an oscilloscope"]


def _over_current(step, evaluation, plan_, label):
    t, v, _ = evaluation.samples()
    ramp, rated_ma = plan_.ramp, plan_.config["load_ma"]
    slots = ramp["step_ms"] * 1000 // PERIOD_US
    k = np.round(t * 1e6 / PERIOD_US).astype(int)
    setpoint_ma = np.minimum(rated_ma + (k // slots) * ramp["step_ma"], ramp["max_ma"])
    up = v > OFF_V
    if not up.any():
        return Outcome({"ocp_trip_ratio": None, "ocp_below_rated": None},
                       ["the output was off before the over-current step began"])
    first_up = np.flatnonzero(up)[0]
    down = np.flatnonzero(~up[first_up:])
    if down.size == 0:
        top = ramp["max_ma"] / 1000
        return Outcome({"ocp_trip_ratio": None, "ocp_below_rated": 0, "ocp_trip_a": None},
                       [f"no over-current trip up to {top:g} A ({top * 1000 / rated_ma:.0%} of rated), "
                        f"the most this rig draws"])
    trip = first_up + down[0]
    trip_ma = int(setpoint_ma[trip])  # the step during which it gave up
    step_began = t[np.flatnonzero(setpoint_ma == trip_ma)[0]]
    back = np.flatnonzero(up[trip:])
    recovered = back.size > 0
    words = (f"the output came back after {t[trip + back[0]] - t[trip]:.1f} s (auto-recovery)" if recovered
             else f"the output stayed off for the {t[-1] - t[trip]:.0f} s observed (latched, or slower to recover)")
    return Outcome({"ocp_trip_a": trip_ma / 1000, "ocp_trip_ratio": trip_ma / rated_ma,
                    "ocp_trip_time_s": float(t[trip] - step_began), "ocp_below_rated": int(trip_ma < rated_ma),
                    "ocp_recovered": int(recovered)},
                   [f"over-current protection tripped at {trip_ma / 1000:.2f} A "
                    f"({trip_ma / rated_ma:.0%} of rated) within {max(t[trip] - step_began, PERIOD_US / 1e6):.1f} s; {words}"])


def _short_circuit(step, evaluation, plan_, label):
    """Protected: the current fell below the rated current while the short
    lasted (an unprotected unit feeds the short until the rig opens it).
    Recovered: after the short, at light load, the output came back."""
    unmeasured = {"short_protected": None, "short_trip_time_s": None, "short_recovered": None}
    t, v, i = evaluation.samples()
    on = next((e["t_s"] for e in evaluation.events if e["name"] == "short_on"), None)
    off = next((e["t_s"] for e in evaluation.events if e["name"] == "short_off"), None)
    if on is None or off is None or not (v[t < on] > OFF_V).any():
        return Outcome(unmeasured, ["the output was off before the short circuit: not tested"])
    period = evaluation.period_us / 1e6
    during = (t >= on) & (t < off)
    rated_a = label.rated_output_a
    protected_at = t[during & (i < rated_a)]
    after = (t >= off) & (v > 0.9 * label.rated_output_v)
    m = {"short_protected": int(protected_at.size > 0 and i[during][-1] < rated_a),
         "short_trip_time_s": float(protected_at[0] - on + period) if protected_at.size else None,
         "short_recovered": int(after.any())}
    peak = float(i[during].max()) if during.any() else 0.0
    words = [f"short circuit for {off - on:.1f} s: " + (
        f"the unit cut its output within {m['short_trip_time_s']:.1f} s (one reading every {period:g} s)"
        if m["short_protected"] else f"the unit kept feeding the short ({peak:.1f} A read, the sensor's range "
                                     f"may clip it) until the rig opened it")
        + (f"; its output came back at light load {_after(t[after][0] - off, period)}" if m["short_recovered"]
           else f"; its output had not come back {t[-1] - off:.0f} s later")]
    return Outcome(m, words)


def _after(seconds, period):
    return "at once (by the next reading)" if seconds < period else f"after {seconds:.1f} s"


def _discharge(step, evaluation, plan_, label):
    t_end = evaluation.end_event
    if not plan_.seconds:  # to the end: the full set the profiles grade
        m = measurements_from(evaluation.integrator, evaluation.voltage, label)
        last_v = evaluation.last[1] if evaluation.last else 0.0
        m["stopped_by_itself"] = int(last_v < OFF_V)
        cut_by_test = t_end is not None and t_end["name"] == "end_voltage"
        words = [] if last_v < OFF_V or not cut_by_test else [
            f"the output was still at {last_v:.2f} V when the test ended below its end-of-discharge voltage: "
            f"the unit's own over-discharge cut-off was not reached"]
        return Outcome(m, words)
    # a short discharge: never a capacity, only what minutes can tell
    t, v, i = evaluation.samples()
    loaded = (i >= plan_.config["collapse_ma"] / 1000) & (v > OFF_V)
    collapsed = int(t_end is not None and t_end["t_s"] < plan_.seconds)
    m = {"short_energy_wh": evaluation.integrator.energy_wh, "collapsed": collapsed,
         "min_voltage_v": evaluation.voltage.sustained_min_v, "mean_voltage_v": evaluation.voltage.mean_v,
         "voltage_ratio_min": None, "voltage_ratio_max": None, "voltage_slope_v_per_min": None,
         "interruptions": evaluation.voltage.interruptions}
    if evaluation.voltage.sustained_min_v is not None:
        m["voltage_ratio_min"] = evaluation.voltage.sustained_min_v / label.rated_output_v
        m["voltage_ratio_max"] = evaluation.voltage.sustained_max_v / label.rated_output_v
    if loaded.sum() >= 10:
        m["voltage_slope_v_per_min"] = float(np.polyfit(t[loaded] / 60, v[loaded], 1)[0])
    words = [f"the output collapsed after {t_end['t_s']:.0f} s at the rated current"] if collapsed else []
    return Outcome(m, words)


_MEASURE = {"no_load": _no_load, "rest": _rest, "load_regulation": _load_regulation,
            "over_current": _over_current, "short_circuit": _short_circuit, "discharge": _discharge}

# what each step can measure, so a profile asking for something else is refused before the test
FULL_DISCHARGE = ("capacity_mah", "energy_wh", "efficiency", "capacity_ratio", "min_voltage_v", "max_voltage_v",
                  "mean_voltage_v", "voltage_ratio_min", "voltage_ratio_max", "duration_s", "samples_lost",
                  "interruptions", "longest_interruption_s", "stopped_by_itself")
SHORT_DISCHARGE = ("short_energy_wh", "collapsed", "min_voltage_v", "mean_voltage_v", "voltage_ratio_min",
                   "voltage_ratio_max", "voltage_slope_v_per_min", "interruptions")
MEASURES = {"no_load": ("no_load_voltage_v", "no_load_voltage_ratio"), "rest": (),
            "load_regulation": ("light_load_voltage_v", "loaded_voltage_v", "loaded_voltage_ratio",
                                "load_regulation", "ripple_mv_pp", "noise_mv_rms"),
            "over_current": ("ocp_trip_a", "ocp_trip_ratio", "ocp_trip_time_s", "ocp_below_rated", "ocp_recovered"),
            "short_circuit": ("short_protected", "short_trip_time_s", "short_recovered")}


def measured_by(step):
    names = MEASURES.get(step.type) or (SHORT_DISCHARGE if step.settings.get("seconds") else FULL_DISCHARGE)
    return {f"{step.name}_{n}" if step.name else n for n in names}
