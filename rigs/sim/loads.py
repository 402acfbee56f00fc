"""The loads the rig drives itself: a MOSFET constant-current sink (CCLoad)
and a relay-switched resistor bank (ResistorBank), each with the gain error
and thermal drift of real parts; load_from() builds the one a rig file names.
A lab load the host sets over SCPI is external_load.py's; what the world
asks of a load, World's docstring says. Runs under CPython and MicroPython;
under MicroPython as native code, for speed and for the firmware's heap (see
powerbank.py).
"""
import math

import micropython


class _Load:
    """What both loads share: their parts are off the rig file's nominal values
    (gain_error, a fraction) and drift with the temperature of their heatsink
    (tempco, fraction per degree C), which rises c_per_w degrees per watt
    burnt, over tau_s: what an open-loop load gets wrong during a discharge."""

    @micropython.native
    def __init__(self, gain_error=0.0, tempco=0.0, c_per_w=0.0, tau_s=600.0):
        self.tempco = tempco
        self.c_per_w = c_per_w
        self.tau_s = tau_s
        self.rise_c = 0.0  # heatsink over ambient
        self._gain0 = 1 + gain_error
        self._gain = self._gain0  # it changes only as the heatsink warms (heat)
        self._fade = (-1.0, 0.0, -1.0, 0.0)  # (seconds, 1 - exp(-seconds / tau_s)) for the last two step lengths
        self.v = 0.0

    @micropython.native
    def heat(self, watts, seconds):
        """The heatsink over `seconds` burning `watts`; the gain follows its temperature."""
        f = self._fade
        if seconds == f[0]:
            fade = f[1]
        elif seconds == f[2]:
            fade = f[3]
        else:  # a run's steps are mostly of two lengths, sample after sample: keep both
            fade = 1 - math.exp(-seconds / self.tau_s)
            self._fade = (seconds, fade, f[0], f[1])
        rise = self.rise_c
        rise += (watts * self.c_per_w - rise) * fade
        self.rise_c = rise
        self._gain = self._gain0 * (1 + self.tempco * rise)


class CCLoad(_Load):
    """MOSFET constant-current sink: sinks its setpoint (times its gain) while
    the source can drive it.

    The setpoint comes as a drive (0..65535 of max_current_a, the PWM duty or
    DAC code, from firmware/load.py) or in mA (set_ma: the open-loop station
    and the benches). Below dropout_v
    the pass transistor saturates and the current collapses, as a real MOSFET
    load does when the output dies. The setters say whether the setpoint changed.
    """

    @micropython.native
    def __init__(self, max_current_a, dropout_v=0.5, **errors):
        _Load.__init__(self, **errors)
        self.max_current_a = max_current_a
        self.dropout_v = dropout_v
        self.setpoint_a = 0.0

    @micropython.native
    def set_ma(self, ma):
        return self._setpoint(min(ma / 1000, self.max_current_a))

    @micropython.native
    def drive(self, duty_u16):
        return self._setpoint(self.max_current_a * min(max(duty_u16, 0), 65535) / 65535)

    @micropython.native
    def _setpoint(self, amps):
        changed = amps != self.setpoint_a
        self.setpoint_a = amps
        return changed

    @micropython.native
    def drawing(self):
        return self.setpoint_a > 0

    @micropython.native
    def draw(self, bank):
        """The current it draws from the bank (none once the output is below its dropout), and the
        bank's voltage at it in self.v."""
        i = self.setpoint_a * self._gain
        if i > 0:
            v = bank.voltage(i)
            if not v < self.dropout_v:
                self.v = v
                return i
        self.v = bank.voltage(0.0)
        return 0.0


class ResistorBank(_Load):
    """Relay-switched resistors in parallel: the current is what the output
    voltage drives through them (the output's own resistance solved by
    iteration: it converges as fast as the bank is larger than it)."""

    @micropython.native
    def __init__(self, resistors_ohm, **errors):
        _Load.__init__(self, **errors)
        self.resistors_ohm = resistors_ohm
        self.mask = 0
        self.siemens = 0.0

    @micropython.native
    def relays(self, mask):
        changed = mask != self.mask
        self.mask = mask
        self.siemens = sum(1 / r for k, r in enumerate(self.resistors_ohm) if mask >> k & 1)
        return changed

    @micropython.native
    def drawing(self):
        return self.mask != 0

    @micropython.native
    def current(self, bank):
        g = self.siemens * self._gain
        i = 0.0
        for _ in range(4):
            i = bank.voltage(i) * g
        return i


@micropython.native
def load_from(rig):
    """The rig's load as built: [load] says what it is, [sim] how far its parts
    are off nominal and how they drift."""
    cfg, sim = rig["load"], rig.get("sim", {})
    errors = {"gain_error": sim.get("load_gain_error", 0.0), "tempco": sim.get("load_tempco_per_c", 0.0),
              "c_per_w": sim.get("load_c_per_w", 0.0), "tau_s": sim.get("load_tau_s", 600.0)}
    if cfg["kind"] == "relays":
        return ResistorBank(cfg["resistors_ohm"], **errors)
    return CCLoad(cfg["max_current_a"], **errors)


