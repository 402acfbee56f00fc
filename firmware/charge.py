"""Charge mode (protocol 4's CHARGE): on a rig with a charging path ([charger] relay, [input_sensor]) the
station's next run charges the unit instead of loading it. The run itself is the station's: its sampling
loop reads the input sensor (Station.sampled), its limits and end conditions are set here to the input's.
A module of its own, imported at the first CHARGE: a rig without the path keeps its heap."""
from micropython import const

import station
import wire

EV_CHARGE_DONE = const(35)
EV_CHARGE_TIMEOUT = const(36)


def configure(st, rx):
    """Make st's next run a charge: the load off, the charger's relay on, the input sensor sampled. The rig's
    [charger] limits the input's voltage and current and the time; the run ends when the input current
    stays below taper_ma for taper_s (a full unit draws ~0: EVENT charge_done) or after max_s
    (charge_timeout). CONFIG undoes it."""
    if st.state == station.RUNNING or not st.configured or st.ramp_slots or st.short_from:
        return station.BAD_STATE
    taper_ma, taper_s, max_s = wire.unpack_charge(rx)
    c = st.charger
    if taper_s == 0 or max_s == 0 or max_s > c["max_charge_s"]:
        return station.BAD_VALUE
    s = st.input_sensor
    st.max_bus_code = s.bus_code(c["max_input_voltage_v"])
    st.max_current_code = s.current_code(c["max_input_current_a"])
    st.max_power_code = 1 << 30  # the input's voltage and current bound its power
    st.end_code = station.NEVER
    st.collapse_code = s.current_code(taper_ma / 1000)
    st.hold_slots = taper_s * 1_000_000 // st.period
    st.run_slots = max_s * 1_000_000 // st.period
    st.below_event, st.duration_event = EV_CHARGE_DONE, EV_CHARGE_TIMEOUT
    st.charging = True
    return station.OK
