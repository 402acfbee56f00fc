"""Short circuit: the output is seen working at light load, shorted through the
rig's switch, then watched for whether it comes back."""
from .. import wire
from ..i18n import N_
from .quantity import Quantity, plain
from .shared import OBSERVE, OFF_V, Outcome, Plan, Schema, rated_ma, trip_time_ms

SCHEMA = Schema({"short_ms": (10, 2000, 500), "observe_s": (1, 60, 5), "light_fraction": (0.01, 0.9, 0.1)})
QUANTITIES = {
    "short_trip_time_ms": Quantity(N_("short-circuit protection time"),
                                   plain(N_("short-circuit protection acted within {value}"), " ms", 1), "ms"),
    "short_trip_resolution_ms": Quantity(N_("resolution of the short-circuit protection time"),
                                         plain(N_("the short-circuit protection time is known to {value}"), " ms",
                                               2), "ms"),
    "short_peak_a": Quantity(N_("highest current read during the short circuit (a conversion's average)"),
                             plain(N_("the highest current read during the short was {value}"), " A", 2), "A"),
    "short_peak_clipped": Quantity(N_("short-circuit current clipped at the sensor's range"),
                                   plain(N_("the short-circuit current reached the sensor's range: {value} (1 yes, "
                                            "0 no)"), "", 0)),
    "short_recovered": Quantity(N_("output recovered after short circuit"),
                                plain(N_("the output came back after the short: {value} (1 yes, 0 no)"), "", 0)),
    "short_protected": Quantity(N_("short-circuit protection acted"),
                                plain(N_("the unit cut a short circuit itself: {value} (1 yes, 0 no)"), "", 0)),
}
NO_SWITCH = N_("not tested: this rig has no short-circuit switch ([load] short_pin)")
OFF_BEFORE = N_("the output was off before the short circuit: not tested")
SHORTED = N_("short circuit for {seconds} s: {did}; {after}")
CUT = N_("the unit cut its output {ms} ms (to {resolution} ms) after the short began")
FED = N_("the unit kept feeding the short until the rig opened it")
PEAK = N_("{amps} A read at most (each reading a {us} us average: a shorter spike reads lower)")
CLIPPED = N_("peak >= {amps} A: clipped at the sensor's range")
BACK_AT_ONCE = N_("its output came back at light load at once (by the next reading)")
BACK_AFTER = N_("its output came back at light load after {seconds} s")
NOT_BACK = N_("its output had not come back {seconds} s later")
SAYINGS = (NO_SWITCH, OFF_BEFORE, SHORTED, CUT, FED, PEAK, CLIPPED, BACK_AT_ONCE, BACK_AFTER,
           NOT_BACK)  # (shared.SAYINGS)
# The shunt voltage each chip reads at most, where a current code of the sample format does not end first
# (firmware/ina*.py; the INA228 reads +-40.96 mV instead where its max_current_a fits that, ADCRANGE 1)
SHUNT_RANGE_V = {"INA226": 0.08192, "INA260": 0.08192, "INA219": 0.32, "INA228": 0.16384, "INA3221": 0.1638}
CODE_MAX = {1: 0x7FFF, 2: 0x7FFFF}  # the largest current code of IDENTITY's sample_format 1 (16 bit), 2 (20 bit)
# the shunt conversion a reading in the trip window averages over (firmware/ina*.py; the INA3221 keeps its rate)
TRIP_CONVERSION_US = {"INA226": 332, "INA260": 332, "INA228": 280, "INA219": 532}

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
    unmeasured = dict.fromkeys(QUANTITIES)
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
    protected = int(protected_at.size > 0 and i[during][-1] < rated_a)
    trip_ms, resolution_ms = trip_time_ms(evaluation, protected_at[0] - on + period) if protected else (None, None)
    peak = max(float(i[during].max()) if during.any() else 0.0, _window_peak_a(evaluation))
    clip_a = sensor_range_a(evaluation.identity, evaluation.calibration)
    clipped = int(peak >= clip_a)
    m = {"short_protected": protected, "short_trip_time_ms": trip_ms, "short_trip_resolution_ms": resolution_ms,
         "short_peak_a": peak, "short_peak_clipped": clipped, "short_recovered": int(after.any())}
    chip = wire.SENSORS.get(evaluation.identity.sensor)
    read = CLIPPED.format(amps=f"{clip_a:.2f}") if clipped else PEAK.format(
        amps=f"{peak:.1f}", us=TRIP_CONVERSION_US.get(chip, evaluation.identity.sensor_period_us))
    did = CUT.format(ms=f"{trip_ms:.1f}", resolution=f"{resolution_ms:g}") if protected else FED
    said = [SHORTED.format(seconds=f"{off - on:.1f}", did=did, after=_came_back(t, after, off, period))]
    return Outcome(m, said + [read])


def _window_peak_a(evaluation):
    """The highest current the device read between samples while the short lasted (EVENT trip_peak), scaled
    as a sample is; 0 from a device that does not send it."""
    codes = [e["value"] for e in evaluation.events if e["name"] == "trip_peak"]
    if not codes:
        return 0.0
    cal = evaluation.calibration
    return max(codes) * evaluation.identity.current_lsb_a * cal.i_gain + cal.i_offset_a


def sensor_range_a(identity, calibration):
    """The largest current the rig's sensor reads, as the host scales it: its current code's end or its
    shunt range, whichever comes first, less one LSB (a reading there may have been clipped). A protocol 5
    device says it (IDENTITY current_code_max, from the driver's own range choice: the INA219's PGA);
    for an older device's journal it is worked out from the chip's fixed ranges."""
    lsb = identity.current_lsb_a
    codes = identity.current_code_max
    if codes is None:
        chip = wire.SENSORS.get(identity.sensor)
        shunt_v = SHUNT_RANGE_V.get(chip, float("inf"))
        ohms = identity.shunt_uohm / 1e6
        if chip == "INA228" and lsb * (1 << 19) * ohms <= 0.04096 * 1.001:  # the driver's ADCRANGE 1
            shunt_v = 0.04096
        codes = min(CODE_MAX[identity.sample_format], shunt_v / ohms / lsb)
    return (codes - 1) * lsb * calibration.i_gain + calibration.i_offset_a


def _came_back(t, after, off, period):
    """Whether and when the output came back after the short (after: the samples where it is back)."""
    if not after.any():
        return NOT_BACK.format(seconds=f"{t[-1] - off:.0f}")
    seconds = t[after][0] - off
    return BACK_AT_ONCE if seconds < period else BACK_AFTER.format(seconds=f"{seconds:.1f}")
