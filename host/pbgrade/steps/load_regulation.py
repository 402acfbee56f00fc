"""Load regulation: the output at light load, then at the rated current, and the
ripple and noise the sensor can see at the rated current."""
import numpy as np

from ..i18n import N_
from .quantity import Quantity, plain, voltage_ratio
from .shared import OBSERVE, OFF_V, Outcome, Plan, Schema, skipped_on_external_load, rated_ma

SCHEMA = Schema({"light_fraction": (0.01, 0.9, 0.1), "seconds": (1, 600, 10)})
QUANTITIES = {
    "noise_mv_rms": Quantity(N_("ripple and noise (RMS)"),
                             plain(N_("ripple and noise at rated current read {value} RMS"), " mV", 1), "mV"),
    "loaded_voltage_ratio": Quantity(N_("output voltage at rated current against rated"),
                                     voltage_ratio(N_("output read {value} at the rated current")), "%"),
    "loaded_voltage_v": Quantity(N_("output voltage at rated current"),
                                 plain(N_("at the rated current the output read {value}"), " V", 2), "V"),
    "ripple_mv_pp": Quantity(N_("ripple and noise (peak to peak)"),
                             plain(N_("ripple and noise at rated current read {value} peak to peak"), " mV", 1), "mV"),
    "load_regulation": Quantity(N_("load regulation"),
                                plain(N_("from light to rated load the output fell by {value}"), " %", 1, 100), "%"),
    "light_load_voltage_v": Quantity(N_("output voltage at light load"),
                                     plain(N_("at light load the output read {value}"), " V", 2), "V"),
}

OFF_AT_RATED = N_("the output was off at the rated current: regulation not measured")
RIPPLE = N_("ripple and noise at the rated current: {pp} mV peak to peak, {rms} mV RMS, seen from DC to {hz} Hz "
            "(sensor noise included); switching ripple above that needs an oscilloscope")
RIPPLE_AVERAGED = N_("ripple and noise at the rated current: {pp} mV peak to peak, {rms} mV RMS, seen from DC to "
                     "{hz} Hz, each reading averaged over {ms} ms (sensor noise included); switching ripple above "
                     "that needs an oscilloscope")
SAYINGS = (OFF_AT_RATED, RIPPLE, RIPPLE_AVERAGED)  # what it says the unit did (shared.SAYINGS)


def measures(settings):
    return tuple(QUANTITIES)


def plan(step, label, options):
    s, full_ma = step.settings, rated_ma(label)
    light_ma = max(1, round(full_ma * s["light_fraction"]))
    return skipped_on_external_load(options) or Plan(
        {**OBSERVE, "load_ma": light_ma},
        {"step_ma": full_ma - light_ma, "step_ms": round(s["seconds"] * 1000), "max_ma": full_ma},
        seconds=2 * s["seconds"])


def _phase_mean(t, v, start, end):
    """Mean voltage over the second half of a phase: the load has settled."""
    mask = (t >= (start + end) / 2) & (t < end) & (v > OFF_V)
    return float(v[mask].mean()) if mask.any() else None


def measure(step, evaluation, plan_, label):
    t, v, _ = evaluation.samples()
    seconds = step.settings["seconds"]
    light, loaded = _phase_mean(t, v, 0, seconds), _phase_mean(t, v, seconds, 2 * seconds)
    m = {"light_load_voltage_v": light, "loaded_voltage_v": loaded,
         "loaded_voltage_ratio": None if loaded is None else loaded / label.rated_output_v,
         "load_regulation": None if None in (light, loaded) else (light - loaded) / light,
         "ripple_mv_pp": None, "noise_mv_rms": None}
    if not loaded:
        return Outcome(m, [OFF_AT_RATED])
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
    seen = {"pp": f"{m['ripple_mv_pp']:.1f}", "rms": f"{m['noise_mv_rms']:.1f}",
            "hz": f"{1e6 / evaluation.period_us / 2:g}"}
    return [RIPPLE_AVERAGED.format(**seen, ms=f"{window_ms:g}") if window_ms else RIPPLE.format(**seen)]
