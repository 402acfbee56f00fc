# Load control under the real micropython: the closed loop holds a drifting
# simulated sink within 1 % through the simulated chip, the relay bank picks
# its combination, and update() allocates nothing in any mode (nor a CC
# set_target, which the station's ramp calls while sampling).

import load
import sensors
from clock import VirtualClock
from inafakes import heap_used
from mpcases import run
from i2cbus import SimI2C
from ina226_sim import SimINA226
from loads import CCLoad, ResistorBank
from powerbank import CurveBank
from world import World

SENSOR = {"chip": "INA226", "address": 0x40, "shunt_ohms": 0.01, "max_current_a": 4.0, "averages": 16,
          "conversion_us": 1100}
LIMITS = {"max_voltage_v": 24.0, "max_current_a": 3.5}
CC_RIG = {"sensor": SENSOR, "limits": LIMITS, "load": {"kind": "cc", "max_current_a": 5.0}}
RELAYS = [10.0, 4.7, 2.2]
RELAY_RIG = {"sensor": SENSOR, "limits": LIMITS,
             "load": {"kind": "relays", "max_current_a": 3.0, "resistors_ohm": RELAYS}}
UNCALIBRATED = (1.0, 0.0, 1.0, 0.0, 0)


def rig_on(model, rig):
    clock = VirtualClock()
    world = World(clock, CurveBank([[0, 5.1], [3000, 4.9]]), model)
    i2c = SimI2C(clock)
    i2c.attach(SimINA226(clock, world, seed=2))
    ina = sensors.make(i2c, rig["sensor"])
    ctl = load.Load(world, rig)
    ctl.calibrate(ina, UNCALIBRATED)
    return clock, world, ina, ctl


def test_a_drifting_sink_holds_its_current():
    # a sink 4 % high that drifts as it warms holds 2.1 A within 1 %
    clock, world, ina, ctl = rig_on(CCLoad(5.0, gain_error=0.04, tempco=-0.002, c_per_w=2.5, tau_s=60.0), CC_RIG)
    ctl.set_target(load.CC, 2100)
    ctl.start()
    assert abs(world.sense(clock.now_us)[1] / 2.1 - 1.04) < 0.002  # the feed-forward alone: the load's own error
    settled = []
    for k in range(1200):  # 2 minutes at 10 Hz: two thermal time constants
        clock.advance(100_000)
        n = ctl.update(ina.bus_raw(), ina.current_raw())
        if n:
            settled.append(n)
        i = world.sense(clock.now_us)[1]
        assert k < 10 or abs(i / 2.1 - 1) < 0.01, (k, i)
    assert len(settled) == 1 and 2 <= settled[0] <= 10, settled
    assert world.load.rise_c > 20  # it did warm: 2.5 degC/W x 10 W
    ctl.off()
    assert world.sense(clock.now_us)[1] == 0


def test_the_relay_bank_picks_the_closest_combination():
    # the one closest to 2.1 A at 5.1 V: 2.2 ohm
    clock, world, ina, relays = rig_on(ResistorBank(RELAYS), RELAY_RIG)
    relays.set_target(load.CC, 2100)
    relays.start()
    for _ in range(5):
        clock.advance(100_000)
        relays.update(ina.bus_raw(), ina.current_raw())
    assert world.load.mask == 0b100, world.load.mask


# -- update() allocates nothing ------------------------------------------------------


class Still:
    """A board that keeps the last drive and simulates nothing: what allocates is the controller."""

    def __init__(self):
        self.duty = 0
        self.mask = 0

    def load_drive(self, duty):
        self.duty = duty

    def load_relays(self, mask):
        self.mask = mask


BUS = [4080, 4081, 4079, 4080, 4060, 4100, 4080, 4082]  # ~5.1 V, 1.25 mV codes
WOBBLE = [0, 3, -3, 1, -1, 40, -40, 0]  # current codes around the target


def allocated(ina, rig, mode, value, step_every=0):
    ctl = load.Load(Still(), rig)
    ctl.calibrate(ina, UNCALIBRATED)
    ctl.set_target(mode, value)
    ctl.start()
    for k in range(20):
        ctl.update(BUS[k & 7], ctl.t)

    def updates():
        for k in range(2000):
            ctl.update(BUS[k & 7], ctl.t + WOBBLE[k & 7])
            if step_every and k % step_every == 0:
                ctl.set_target(load.CC, 1900 if k // step_every & 1 else 2100)

    return heap_used(updates)


def test_update_allocates_nothing():
    ina = rig_on(ResistorBank(RELAYS), RELAY_RIG)[2]
    for rig, mode, value, steps in ((CC_RIG, load.CC, 2100, 50), (CC_RIG, load.CP, 10_000, 0),
                                    (CC_RIG, load.CR, 2_400, 0), (RELAY_RIG, load.CC, 2100, 50),
                                    (RELAY_RIG, load.CR, 2_400, 0)):
        n = allocated(ina, rig, mode, value, steps)
        assert n == 0, "%s mode %d allocated %d bytes" % (rig["load"]["kind"], mode, n)


run(globals())
