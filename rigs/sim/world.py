"""The simulated rig's output: a power bank (powerbank.py) and a load
(loads.py, external_load.py) coupled on one virtual clock, and the exact
truth about them.

The world advances the bank with the load's current whenever a sensor looks,
and keeps the exact charge and energy delivered, against which measurements
are judged. Runs under CPython and MicroPython; under MicroPython as native
code, for speed and for the firmware's heap (see powerbank.py).
"""
import micropython
from powerbank import AMBIENT_C


class World:
    """Bank and load on one virtual clock; `sense` is what a sensor sees now.

    The rig's short-circuit switch (short_ohm: MOSFET and wiring) sits across
    the output after the shunt, so the sensor sees the short's current.

    Between two looks the world keeps the load's current, the bank's voltage
    at it and their product (the power) as of the present state: only
    stepping time, changing a setting and plugging in another bank
    (plug_bank) change them, so each is computed once, not again by every
    part that needs it.

    A bank (ModelBank, CurveBank) has voltage(i), short_current(short_ohm),
    advance(i, seconds, p): a step up to its next switching moment at most,
    sensed_voltage(i, v) with the voltage the world already has, and
    skip_noise(v). A load has drawing() and heat(watts, seconds), and
    either draw(bank), which leaves the bank's voltage at its current in its
    .v, or current(bank). A setter of a load may return False: nothing
    changed.

    A setting brings the world up to now first, as a look does (and draws
    the noise a reading would); a drive the load already has changes
    nothing and does not (load_drive)."""

    @micropython.native
    def __init__(self, clock, bank, load, short_ohm=0.05):
        self.clock = clock
        self.bank = bank
        self.load = load
        self.short_ohm = short_ohm
        self.shorted = False
        self.source_v = 0.0  # the charger's source on the unit's input; 0: its relay open
        self._t_us = clock.now_us
        self._i = None  # the current now (None: to be found again) ...
        self._v = self._p = 0.0  # ... the bank's voltage at it, and voltage * current
        self._duty = None  # the drive load_drive() set last
        self._draws = hasattr(load, "draw")
        self._present()

    @micropython.native
    def plug_bank(self, bank):
        """Another unit on the output (a station's bay), from the last look on."""
        self.bank = bank
        self._present()

    @micropython.native
    def set_load_ma(self, ma):
        self._set(self.load.set_ma, ma)

    @micropython.native
    def load_drive(self, duty_u16):
        """_set(self.load.drive, duty_u16), without a bound method each sample; and
        the closed loop of firmware/load.py repeats the drive it had most of the
        time: that changes nothing, so the world need not be brought up to now
        for it (the next look does that in one step instead of two)."""
        if duty_u16 == self._duty:
            return
        self.sense(self.clock.now_us, False)
        was = self.load.drawing()
        if self.load.drive(duty_u16) is not False:
            self._changed(was)
        self._duty = duty_u16

    @micropython.native
    def load_relays(self, mask):
        self._set(self.load.relays, mask)

    @micropython.native
    def set_load(self, setter, value):
        """A setting of the load from outside the firmware: an external load's host, its series switch."""
        self._set(setter, value)

    @micropython.native
    def present(self):
        """(volts, amps) at the output as of the last look, exactly: what an external load's own meter shows."""
        return self._v, self._i

    @micropython.native
    def _set(self, setter, value):
        """The old setting held until now."""
        self._duty = None  # another setting: the next drive is a change
        self.sense(self.clock.now_us, False)
        was = self.load.drawing()
        if setter(value) is not False:
            self._changed(was)

    @micropython.native
    def _changed(self, was):
        """After a setting changed: a load appearing wakes a unit that switched
        itself off (ModelBank.load_connected)."""
        self._i = None
        if not was and self.load.drawing() and hasattr(self.bank, "load_connected"):
            self.bank.load_connected()

    @micropython.native
    def short(self, on):
        self.sense(self.clock.now_us, False)
        self.shorted = on
        self._i = None

    @micropython.native
    def charger(self, source_v):
        """The charger's relay: the source (source_v) on the unit's input from now, or none (0)."""
        self.sense(self.clock.now_us, False)
        self.source_v = source_v
        if hasattr(self.bank, "charge"):
            self.bank.charge(source_v, 0.0)  # the input as it is now, for the next look

    @micropython.native
    def _current(self):
        if self.shorted:
            return self.bank.short_current(self.short_ohm)
        return self.load.current(self.bank)

    @micropython.native
    def _present(self):
        """The load's current in the present state, the bank's voltage and the power at it."""
        if self._draws and not self.shorted:
            i = self.load.draw(self.bank)
            v = self.load.v
        else:
            i = self._current()
            v = self.bank.voltage(i)
        self._i = i
        self._v = v
        self._p = v * i

    @micropython.native
    def sense(self, now_us, reading=True):
        """Advance to now, re-evaluating the load current whenever the bank switches;
        (bus volts, amps) as a sensor sees them, unless no reading is wanted."""
        if self._i is None:
            self._present()
        if now_us > self._t_us:
            dt = (now_us - self._t_us) / 1e6
            while True:  # each step ends where the bank switches: the current may change there
                step = self.bank.advance(self._i, dt, self._p)
                self.load.heat(0.0 if self.shorted else self._p, step)  # the load's own, apart from the bank's
                if self.source_v and hasattr(self.bank, "charge"):
                    self.bank.charge(self.source_v, step)
                self._present()
                if step >= dt:  # a step is never longer than dt
                    break
                dt -= step
            self._t_us = now_us
        if reading:
            return self.bank.sensed_voltage(self._i, self._v), self._i
        self.bank.skip_noise(self._v)  # what the reading would have drawn of the noise

    @micropython.native
    def temperature_c(self, sensor):
        """What the rig's temperature sensors read: 0 the load's heatsink, 1 the unit's case (a unit
        modelled without heat sits at the room's temperature)."""
        ambient = getattr(self.bank, "ambient_c", AMBIENT_C)
        if sensor == 0:
            return ambient + self.load.rise_c
        return getattr(self.bank, "temp_c", ambient)

    @micropython.native
    def truth(self):
        bank = self.bank
        return {"charge_mah": bank.delivered_c / 3.6, "energy_wh": bank.energy_j / 3600,
                "charged_in_mah": getattr(bank, "charge_in_c", 0.0) / 3.6,
                "charged_in_wh": getattr(bank, "energy_in_j", 0.0) / 3600,
                "virtual_s": self.clock.now_us / 1e6, "off_reason": getattr(bank, "off_reason", ""),
                "temperature_c": getattr(bank, "temp_c", None)}


class ChargerInput:
    """The unit's input as the rig's input sensor sees it (a simulated chip's source): the world brought up
    to now, then the input's voltage and current; 0 V with the charger's relay open."""

    def __init__(self, world):
        self.world = world

    @micropython.native
    def sense(self, now_us, reading=True):
        world = self.world
        world.sense(now_us, False)
        bank = world.bank
        if not hasattr(bank, "charge"):
            return world.source_v, 0.0  # a unit the simulator cannot charge (a curve) draws nothing
        return bank.input_v, bank.input_a
