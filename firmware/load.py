"""Load control: holds the current, power or resistance the host asks for,
on the station's own readings, whatever the load's parts are really worth.

The rig's [load] kind says what there is to drive:

- "cc" (PWM into an RC filter) or "dac": a MOSFET sink. Its drive starts from
  the rig's nominal full scale (feed-forward), so the first sample is already
  within the load's gain error; an integral loop on the current error then
  learns that gain, as it drifts with the heatsink's temperature. The loop
  learns a gain, not an offset, so a learnt gain still holds after a setpoint
  step and while constant-power and constant-resistance targets move with
  the voltage.
- "relays": a relay-switched resistor bank. The combination closest to the
  target is switched in, and chosen again as the voltage falls; a margin
  keeps the relays from chattering on a boundary.
- "scpi": an external electronic load, set by the host over SCPI. The
  device switches it in and out through a relay or MOSFET in series
  (pins.load_enable), so a limit still cuts it on the device's own; it still
  reports when the current settled.

update() runs once per sample on raw register codes in integer arithmetic
that stays below 2**30 (the RP2040's small ints), so it allocates nothing.
Codes of 20-bit chips are shifted to 16 bits first: plenty for 1 %.
"""
from array import array

import micropython
from micropython import const

CC = const(0)  # set_target value in mA
CP = const(1)  # mW
CR = const(2)  # mOhm
SETTLE_HOLD = const(10)  # samples in a row within 1 % of the target that count as settled

_ONE = const(1 << 19)  # the learnt gain 1.0: 19 fraction bits (13 of them multiply a code)
_AUTHORITY = const(1 << 16)  # the loop corrects the nominal full scale by at most 1/8 ...
_LEARN = const(17)  # ... a quarter of the relative error per sample: (e << 17) // t
_G_BITS = const(13)  # relay bank conductances in current codes per bus code, 13 fraction bits
_VON_V = 1.0  # below this the output is off: a constant-power target draws nothing, as an electronic load's Von


def _fixed(x):
    """A positive factor as (m, s), m / 2**s within 1/4096 of x: a 16-bit code
    times m stays a small int."""
    s = 0
    while x * (1 << s) < 4096:
        s += 1
    return round(x * (1 << s)), s


def _siemens(ohms, mask):
    return sum(1 / ohms[k] for k in range(len(ohms)) if mask >> k & 1)


class Load:
    """The rig's load: board drives it, rig["load"] says what it is, rig["limits"] caps the current."""

    def __init__(self, board, rig):
        cfg = rig["load"]
        self.board = board
        self.kind = cfg["kind"]
        self.full_scale_a = cfg["max_current_a"]
        self.max_a = min(self.full_scale_a, rig["limits"]["max_current_a"])
        ohms = cfg.get("resistors_ohm", ())
        combos = sorted(range(1 << len(ohms)), key=lambda m: _siemens(ohms, m))
        self.masks = bytes(combos)  # relay combinations by conductance, ascending
        self.siemens = [_siemens(ohms, m) for m in combos]
        self.gain = _ONE
        self.on = False
        self.mode = CC
        self.cc = 0
        self.bus = 0  # the last bus code seen: where a CP or CR target starts
        self.t = 0  # the current code the present drive aims at
        self.sel = 0  # relays: index of the present combination
        self.sel_bus = 0  # relays: the bus code it was chosen at
        self.steps = -1  # samples since the last step, -1 once settled
        self.inside = 0

    def calibrate(self, sensor, calibration):
        """Code conversions for this sensor and calibration (true = gain x measured
        + offset): call before set_target, again after a calibration."""
        shift = 4 if sensor.SAMPLE_FORMAT == 2 else 0
        vg, vo, ig, io = calibration[:4]
        self.shift = shift
        self.kv = vg * sensor.bus_lsb_v * (1 << shift)  # volts per bus code
        self.vo = vo
        self.ki = 1 / (ig * sensor.current_lsb_a * (1 << shift))  # current codes per ampere
        self.io_code = round(io * self.ki)
        self.max_code = round(self.max_a * self.ki) - self.io_code
        self.cc_m, self.cc_s = _fixed(self.ki / 1000)
        self.ff_m, self.ff_s = _fixed(65535 / (self.ki * self.full_scale_a))  # duty per current code
        self.von = round((_VON_V - vo) / self.kv)
        self.g = array("i", [round(s * self.kv * self.ki * (1 << _G_BITS)) for s in self.siemens])

    def set_target(self, mode, value):
        """CC mA, CP mW or CR mOhm; a step if the load is on. A CC target costs
        no allocation, so the station may ramp it while sampling; CP and CR
        targets are converted in floats (ValueError: a power the codes cannot
        hold)."""
        if mode == CC:
            self.cc = (value * self.cc_m >> self.cc_s) - self.io_code
        elif mode == CR:
            ohms = value / 1000
            self.cr_m, self.cr_s = _fixed(self.kv * self.ki / ohms)
            self.cr_c = self.io_code - round(self.vo / ohms * self.ki)
        elif mode == CP:
            self.cp_k = round(value / 1000 * self.ki / self.kv)
            if self.cp_k >= 1 << 30:
                raise ValueError("constant power %d mW is out of range" % value)
            self.cp_b = round(self.vo / self.kv)
        else:
            raise ValueError("load mode %d: use CC, CP or CR" % mode)
        self.mode = mode
        if self.on:
            self.start()

    def start(self):
        """Switch the load on at the target (a step: settling is counted again)."""
        self.on = True
        self.steps = 0
        self.inside = 0
        self.t = self._target(self.bus)
        self._drive(True)

    def off(self):
        """Switch the load off now."""
        self.on = False
        if self.kind == "relays":
            self.board.load_relays(0)
        elif self.kind == "scpi":
            self.board.load_enable(False)
        else:
            self.board.load_drive(0)

    @micropython.native  # its state would need a heap frame on every call: over 11 words
    def update(self, bus, cur):
        """One sample's codes, taken with the present drive: learn, then drive for
        the next sample. Returns, once after a step, the number of samples until
        the current stayed within 1 % (SETTLE_HOLD samples in a row), else 0."""
        if not self.on:
            return 0
        bus >>= self.shift
        t = self.t
        e = t - (cur >> self.shift)
        if self.kind != "relays" and t > 0 and -(t >> 3) <= e <= t >> 3:
            # a larger error is not the load's gain: the output collapsing, a step
            self.gain = min(max(self.gain + (e << _LEARN) // t, _ONE - _AUTHORITY), _ONE + _AUTHORITY)
        settled = 0
        if self.steps >= 0:
            self.steps += 1
            band = t // 100 or 1  # a code either side, whatever the resolution
            if t > 0 and -band <= e <= band:
                self.inside += 1
                if self.inside == SETTLE_HOLD:
                    settled = self.steps - SETTLE_HOLD + 1
                    self.steps = -1
            else:
                self.inside = 0
        self.bus = bus
        self.t = self._target(bus)
        self._drive(False)
        return settled

    def _target(self, bus):
        """The current code the mode asks for at this bus code."""
        mode = self.mode
        if mode == CC:
            t = self.cc
        elif mode == CR:
            t = (bus * self.cr_m >> self.cr_s) - self.cr_c
        elif bus >= self.von:
            t = self.cp_k // max(bus + self.cp_b, 1) - self.io_code
        else:
            t = 0
        return min(max(t, 0), self.max_code)

    @micropython.native
    def _drive(self, choose):
        if self.kind == "scpi":
            if choose:
                self.board.load_enable(True)
            return
        if self.kind != "relays":
            cmd = self.t * (self.gain >> 6) >> 13
            self.board.load_drive(min(cmd * self.ff_m >> self.ff_s, 65535))
            return
        bus = self.bus
        if bus <= 0 or (bus < self.sel_bus >> 1 and not choose):
            return  # no reading yet, or the output collapsed: rather than close every relay
        g = self.g
        want = (self.t << _G_BITS) // bus
        lo, hi = 0, len(g) - 1
        while lo < hi:
            mid = (lo + hi) >> 1
            if g[mid] < want:
                lo = mid + 1
            else:
                hi = mid
        if lo and want - g[lo - 1] < g[lo] - want:
            lo -= 1
        if choose or abs(g[lo] - want) + (want >> 6) < abs(g[self.sel] - want):
            self.sel = lo
            self.sel_bus = bus
            self.board.load_relays(self.masks[lo])
