"""Load control (firmware/load.py) on the simulated chip and load, in virtual
time: the closed loop holds its target within 1 % where the open loop drifts
off, constant power and resistance hold too, the relay bank switches the
closest combination without chattering, settling after a step is counted,
and the rig file's [load] section is checked."""
import importlib.util
import math
import sys
import types

import pytest

import load
import sensors
import simboard
from clock import VirtualClock
from conftest import FIRMWARE, ROOT
from i2cbus import SimI2C
from pbgrade.rig import RigFileError, channels, load_rig
from pbgrade.simdut import load_dut
from loads import load_from
from powerbank import CurveBank, bank_from
from world import World

UNCALIBRATED = (1.0, 0.0, 1.0, 0.0, 0)
# the load's parts as rigs/sim.toml describes them: 3 % high, -0.2 %/degC, 2.5 degC/W over 300 s
DRIFT = {"load_gain_error": 0.03, "load_tempco_per_c": -0.002, "load_c_per_w": 2.5, "load_tau_s": 300.0}
NOMINAL = {"load_gain_error": 0.0, "load_tempco_per_c": 0.0, "load_c_per_w": 0.0, "load_tau_s": 300.0}
SMALL_INT = 1 << 30  # the RP2040's small ints: anything larger is allocated on the heap


def sim_rig(name="sim", **sim):
    """A shipped sim rig whose load is as nominal unless sim says otherwise."""
    rig = load_rig(name)
    rig["sim"].update(NOMINAL, **sim)
    return rig


class Rig:
    """The station's share of load control without the station: every period
    a reading, its codes to the controller. The world takes the board's
    load_drive and load_relays, so it is the controller's board."""

    def __init__(self, rig, bank):
        self.clock = VirtualClock()
        self.world = World(self.clock, bank, load_from(rig))
        i2c = SimI2C(self.clock)
        i2c.attach(simboard._chip(rig["sensor"], rig["sim"], self.clock, self.world))
        self.ina = sensors.make(i2c, rig["sensor"])
        self.ctl = load.Load(self.world, rig)
        self.ctl.calibrate(self.ina, UNCALIBRATED)
        self.settled = []

    def sample(self, period_us=1_000_000, closed=True):
        """One sample; the true output voltage and current until the next."""
        self.clock.advance(period_us)
        bus, cur = self.ina.bus_raw(), self.ina.current_raw()
        if closed:
            n = self.ctl.update(bus, cur)
            if n:
                self.settled.append(n)
        i = self.world.sense(self.clock.now_us)[1]
        return self.world.bank.voltage(i), i


def honest():
    return bank_from(load_dut(ROOT / "rigs/sim/duts/honest-10000.toml"), 1)


def falling():
    """An output falling 5.2 V -> 4.2 V over 2000 mAh: CP and CR targets move with it."""
    return CurveBank([(0, 5.2), (2000, 4.2)])


def discharge_deviation(closed):
    """Largest |I / 2.1 A - 1| over a discharge of honest-10000 to 4.0 V, after 10 s; and its hours."""
    r = Rig(sim_rig(**DRIFT), honest())
    r.ctl.set_target(load.CC, 2100)
    r.ctl.start()
    worst, seconds = 0.0, 0
    while True:
        v, i = r.sample(closed=closed)
        seconds += 1
        if v < 4.0:
            return worst, seconds / 3600
        if seconds > 10:
            worst = max(worst, abs(i / 2.1 - 1))


def test_closed_loop_holds_rated_current_where_open_loop_drifts_off():
    open_worst, hours = discharge_deviation(closed=False)
    assert hours > 3 and open_worst > 0.02  # 3 % high when cold, the heatsink then pulls it below
    closed_worst, hours = discharge_deviation(closed=True)
    assert hours > 3 and closed_worst < 0.01, closed_worst


def test_the_load_really_drifts_with_its_heatsink():
    r = Rig(sim_rig(**DRIFT), honest())
    r.ctl.set_target(load.CC, 2100)
    r.ctl.start()
    cold = r.sample(closed=False)[1]
    for _ in range(1800):
        warm = r.sample(closed=False)[1]
    rise = 2.5 * 5.0 * warm  # degC per W times the load's watts
    assert cold == pytest.approx(2.1 * 1.03, rel=0.002)
    assert warm == pytest.approx(2.1 * 1.03 * (1 - 0.002 * rise * (1 - math.exp(-6))), rel=0.01)


def test_settling_after_a_step_is_counted():
    r = Rig(sim_rig(**DRIFT), honest())
    r.ctl.set_target(load.CC, 1000)
    r.ctl.start()
    for _ in range(30):
        r.sample()
    first = list(r.settled)
    assert len(first) == 1 and 3 <= first[0] <= 8  # from 3 % off, a quarter of the error per sample
    r.ctl.set_target(load.CC, 2100)  # the gain it learnt holds at the new setpoint: settled at once
    for _ in range(30):
        _, i = r.sample()
    assert r.settled == first + [1] and i == pytest.approx(2.1, rel=0.01)
    exact = Rig(sim_rig(), honest())  # a load as nominal: the feed-forward alone is within 1 %
    exact.ctl.set_target(load.CC, 2100)
    exact.ctl.start()
    for _ in range(15):
        exact.sample()
    assert exact.settled == [1]


@pytest.mark.parametrize("mode, value, held", [
    (load.CP, 10_000, lambda v, i: v * i / 10.0),  # 10 W
    (load.CR, 2_400, lambda v, i: v / i / 2.4),  # 2.4 ohm
])
def test_constant_power_and_resistance_hold_their_target(mode, value, held):
    r = Rig(sim_rig(**DRIFT), falling())
    r.ctl.set_target(mode, value)
    r.ctl.start()
    currents = []
    for k in range(3000):
        v, i = r.sample()
        currents.append(i)
        if k > 10:
            assert held(v, i) == pytest.approx(1, abs=0.01), (k, v, i)
    assert abs(currents[-1] - currents[20]) > 0.1  # the current followed the voltage


def test_constant_power_draws_nothing_below_von():
    r = Rig(sim_rig(), CurveBank([(0, 5.0), (10, 5.0), (10.01, 0.3), (20, 0.3)]))
    r.ctl.set_target(load.CP, 10_000)
    r.ctl.start()
    seen = [r.sample()[1] for _ in range(40)]
    assert seen[5] == pytest.approx(2.0, rel=0.01) and seen[-1] == 0  # the output died: no rush into it


def test_off_switches_the_load_off_at_once_and_updates_then_do_nothing():
    r = Rig(sim_rig(), honest())
    r.ctl.set_target(load.CC, 2100)
    r.ctl.start()
    r.sample()
    r.ctl.off()
    assert r.world.sense(r.clock.now_us)[1] == 0
    assert r.sample()[1] == 0 and r.ctl.update(4000, 17000) == 0


RELAYS = [10.0, 4.7, 2.2]


def relay_rig():
    rig = sim_rig()
    rig["load"] = {"kind": "relays", "max_current_a": 3.0, "resistors_ohm": RELAYS}
    return rig


def test_relay_bank_picks_the_closest_combination_as_the_voltage_falls():
    r = Rig(relay_rig(), CurveBank([(0, 5.2), (1500, 3.4)]))
    r.ctl.set_target(load.CC, 2100)
    r.ctl.start()
    masks = []
    for _ in range(3000):
        v, i = r.sample()
        mask = r.world.load.mask
        if not masks or masks[-1] != mask:
            masks.append(mask)
        options = [v * sum(1 / RELAYS[k] for k in range(3) if m >> k & 1) for m in range(8)]
        best = min(abs(o - 2.1) for o in options)
        assert abs(i - 2.1) <= best + 2.1 / 64 + 0.01, (v, i, mask)  # within the anti-chatter margin
    assert masks[0] == 0b100  # 2.2 ohm: 2.3 A at 5.1 V, the closest to 2.1 A
    assert 0b101 in masks  # 2.2 || 10 ohm once the voltage fell
    assert len(masks) == len(set(masks))  # each switched in once, in order: no chatter on a boundary


def test_relays_do_not_chatter_where_two_combinations_are_as_close():
    # 2.1 A lies halfway between 2.2 and 2.2 || 10 ohm at 4.1625 V: the output creeps across it
    r = Rig(relay_rig(), CurveBank([(0, 4.17), (500, 4.155)]))
    r.ctl.set_target(load.CC, 2100)
    r.ctl.start()
    switched = 0
    for _ in range(600):
        before = r.world.load.mask
        r.sample()
        switched += r.world.load.mask != before
    assert switched <= 2  # the first choice, at most one change: relays wear with every switch


def test_fixed_point_products_stay_small_ints_on_every_sim_chip():
    for name in ("sim", "sim-ina219", "sim-ina228", "sim-ina260", "sim-ina3221"):
        r = Rig(sim_rig(name), honest())
        c = r.ctl
        codes = 1 << 16  # largest bus or current code after the 20-bit chips' shift
        assert c.max_code < 1 << 15 and codes * c.cc_m < SMALL_INT, name
        max_cmd = c.max_code * ((load._ONE + load._AUTHORITY) >> 6)
        assert max_cmd < SMALL_INT and (max_cmd >> 13) * c.ff_m < SMALL_INT, name
        assert (c.max_code // 8) << load._LEARN < SMALL_INT, name
        for mohm in (500, 2_400, 100_000):
            c.set_target(load.CR, mohm)
            assert codes * c.cr_m < SMALL_INT, (name, mohm)
        watts = r.world.bank.level_v * 3.5
        c.set_target(load.CP, int(watts * 1000))
        assert c.cp_k < SMALL_INT, name


# -- the board layer: PWM, DAC and relay pins ----------------------------------------


class Pin:
    OUT = 1

    def __init__(self, n, mode=None, value=None):
        self.n, self.level = n, value

    def value(self, level):
        self.level = level


class Output:
    """A PWM or DAC channel: what was last written."""

    def __init__(self, pin, **kw):
        self.pin, self.written = pin, kw.get("duty_u16")

    def duty_u16(self, duty):
        self.written = duty

    write = duty_u16


class ADC:
    """An ADC pin reading an NTC divider (10 k B3950 to ground, 10 k to 3V3) at `celsius`; as an ESP32's
    (esp32), it reads up to about 1 V unless the pin was set to 11 dB."""
    celsius = 25.0
    esp32 = False
    ATTN_11DB = 3

    def __init__(self, pin, atten=None):
        self.pin, self.atten = pin, atten

    def _volts(self):
        r = 10_000 * math.exp(3950 * (1 / (self.celsius + 273.15) - 1 / 298.15))
        volts = 3.3 * r / (r + 10_000)
        return min(volts, 1.0) if self.esp32 and self.atten != self.ATTN_11DB else volts

    def read_u16(self):
        return round(65535 * self._volts() / 3.3)

    def read_uv(self):
        return round(1e6 * self._volts())


def machine_module(monkeypatch, platform="rp2"):
    """firmware/board_machine.py on a fake `machine` (and its console on nothing), as on `platform`."""
    machine = types.ModuleType("machine")
    machine.I2C, machine.Pin, machine.PWM, machine.DAC, machine.ADC = (lambda *a, **kw: object()), Pin, Output, Output, ADC
    machine.unique_id = lambda: bytes.fromhex("e6614104033f5b2c")  # an RP2040's flash ID
    monkeypatch.setitem(sys.modules, "machine", machine)
    spec = importlib.util.spec_from_file_location("board_machine", FIRMWARE / "board_machine.py")
    board_machine = importlib.util.module_from_spec(spec)  # not in sys.modules: gone with the fake
    monkeypatch.setattr(ADC, "esp32", platform == "esp32")
    with monkeypatch.context() as m:
        m.setattr(sys, "platform", platform)
        spec.loader.exec_module(board_machine)
    monkeypatch.setattr(board_machine, "select",
                        types.SimpleNamespace(poll=lambda: types.SimpleNamespace(register=lambda *a: None), POLLIN=1))
    monkeypatch.setattr(board_machine, "time", types.SimpleNamespace(ticks_us=0, ticks_diff=0, ticks_add=0))
    console = types.SimpleNamespace(buffer=None)
    monkeypatch.setattr(board_machine, "sys", types.SimpleNamespace(stdin=console, stdout=console))
    return board_machine


def machine_board(monkeypatch, load_table, pins, platform="rp2"):
    rig = {"rig": {"board": platform}, "pins": {"i2c_id": 0, "sda": 4, "scl": 5, **pins},
           "load": {"max_current_a": 5.0, **load_table}, "sensor": {}}  # no ALERT pin wired
    return machine_module(monkeypatch, platform).Board(rig)


def test_a_board_with_three_channels_gives_each_its_pins_calibration_and_usb_serial(monkeypatch):
    board_machine = machine_module(monkeypatch)
    made, started = [], []

    class CDCInterface:  # micropython-lib usb-device-cdc's, as far as the board uses it
        def __init__(self, **kw):
            self.kw, self.out = kw, bytearray()
            made.append(self)

        def write(self, buf):
            self.out += bytes(buf)
            return len(buf)

    usb, device, cdc = (types.ModuleType(n) for n in ("usb", "usb.device", "usb.device.cdc"))
    usb.device, cdc.CDCInterface = device, CDCInterface
    device.get = lambda: types.SimpleNamespace(init=lambda *itfs, **kw: started.append((itfs, kw)))
    for module in (usb, device, cdc):
        monkeypatch.setitem(sys.modules, module.__name__, module)
    boards = board_machine.boards(channels(load_rig("pico-3ch")))
    assert [b.name for b in boards] == ["rp2/ch1", "rp2/ch2", "rp2/ch3"]  # IDENTITY names each channel
    assert [b.flash for b in boards] == ["", "ch2-", "ch3-"]  # each its own calibration file
    assert [b._pwm.pin.n for b in boards] == [15, 13, 11] and [b._short.n for b in boards] == [14, 12, 10]
    assert boards[0].i2c is boards[1].i2c is boards[2].i2c  # one bus
    assert len(made) == 2 and started == [(tuple(made), {"builtin_driver": True})]  # channel 1 on the built-in
    assert (boards[1]._in, boards[2]._in) == (made[0], made[1]) and made[0].kw["timeout"] == 500
    boards[2].serial_out.write(bytearray(b"abcdef"), 4)  # as the station's link writes: buffer, length
    assert made[1].out == b"abcd"


def test_board_drives_the_pwm_the_dac_and_the_relays(monkeypatch):
    pwm = machine_board(monkeypatch, {"kind": "cc"}, {"load_pwm": 15})
    assert pwm._pwm.written == 0
    pwm.load_drive(27525)
    assert (pwm._pwm.pin.n, pwm._pwm.written) == (15, 27525)
    dac = machine_board(monkeypatch, {"kind": "dac"}, {"load_dac": 25})
    assert dac._dac.written == 0
    dac.load_drive(0xABCD)
    assert (dac._dac.pin.n, dac._dac.written) == (25, 0xAB)  # the ESP32's DAC has 8 bits
    relays = machine_board(monkeypatch, {"kind": "relays", "resistors_ohm": RELAYS}, {"load_relays": [16, 17, 18]})
    assert [p.level for p in relays._relays] == [0, 0, 0]  # open from the start
    relays.load_relays(0b101)
    assert [(p.n, p.level) for p in relays._relays] == [(16, 1), (17, 0), (18, 1)]


# -- the rig file's [load] section ------------------------------------------------

SIM = (ROOT / "rigs" / "sim.toml").read_text()
PICO = (ROOT / "rigs" / "pico-ina226.toml").read_text()
RELAY_LOAD = '[load]\nkind = "relays"\nmax_current_a = 3.0\nresistors_ohm = [10.0, 4.7, 2.2]\n'


def rig_text(text, load_table, pins=""):
    start = text.index("\n[load]\n") + 1
    end = text.index("\n[limits]") + 1
    text = text[:start] + load_table + "\n" + text[end:]
    return text.replace("load_pwm = 15", pins) if pins is not None else text


def test_a_relay_rig_loads(tmp_path):
    path = tmp_path / "relays.toml"
    path.write_text(rig_text(PICO, RELAY_LOAD, "load_relays = [17, 18, 19]"))  # GP16 is the ALERT pin
    rig = load_rig(path)
    assert rig["load"]["resistors_ohm"] == RELAYS and rig["pins"]["load_relays"] == [17, 18, 19]


@pytest.mark.parametrize("text, words", [
    (rig_text(SIM, '[load]\nkind = "mosfet"\nmax_current_a = 5.0\n'), ["kind = 'mosfet'", "cc, dac, relays, scpi"]),
    (rig_text(SIM, '[load]\nkind = "relays"\nmax_current_a = 3.0\n'), ["resistors_ohm is missing"]),
    (rig_text(SIM, '[load]\nkind = "cc"\nmax_current_a = 5.0\nresistors_ohm = [10.0]\n'),
     ["resistors_ohm", '"relays" only']),
    (rig_text(SIM, RELAY_LOAD.replace("10.0, 4.7", '"ten", 4.7')), ["resistors_ohm", "list of numbers"]),
    (rig_text(SIM, RELAY_LOAD.replace("[10.0, 4.7, 2.2]", "[10.0, 0, 2.2]")), ["1 to 8 positive"]),
    (rig_text(SIM, RELAY_LOAD.replace("[10.0, 4.7, 2.2]", "[10.0, -4.7, 2.2]")), ["resistors_ohm", "negative"]),
    (rig_text(SIM, '[load]\nkind = "scpi"\nmax_current_a = 5.0\nresource = "GPIB::1::INSTR"\n'),
     ["the simulated rig's external load is its own", 'resource = "sim"']),
    (rig_text(PICO, '[load]\nkind = "scpi"\nmax_current_a = 5.0\nresource = "GPIB::1::INSTR"\n', ""),
     ["[pins] load_enable is missing"]),
    (rig_text(PICO, RELAY_LOAD, "load_relays = [16, 17]"), ["load_relays", "one pin per", "(3), got 2"]),
    (rig_text(PICO, RELAY_LOAD, ""), ["[pins] load_relays is missing"]),
    (rig_text(PICO, '[load]\nkind = "dac"\nmax_current_a = 5.0\n'), ["[pins] load_dac is missing"]),
    (PICO.replace("load_pwm = 15", "load_pwm = 15.5"), ["load_pwm", "whole number"]),
    (PICO.replace("[limits]", "[limits]\nmax_dut_temp_c = 45"), ["max_dut_temp_c needs a temperature sensor",
                                                                 "[pins] ntc_dut"]),
])
def test_bad_load_section_is_refused_in_one_line(tmp_path, text, words):
    path = tmp_path / "rig.toml"
    path.write_text(text)
    with pytest.raises(RigFileError) as e:
        load_rig(path)
    assert "\n" not in str(e.value) and str(path) in str(e.value)
    for w in words:
        assert w in str(e.value), str(e.value)


# -- an external electronic load over SCPI, against pyvisa-sim ------------------------

ELOAD = """
spec: "1.1"
devices:
  eload:
    eom:
      TCPIP INSTR: {q: "\\n", r: "\\n"}
    error:
      error_queue:
        - q: "SYST:ERR?"
          default: '0,"No error"'
          command_error: '-222,"Data out of range"'
    dialogues:
      - q: "*IDN?"
        r: "SIM,ELOAD-150,1,1.0"
      - q: "MEAS:VOLT?"
        r: "5.0012"
      - q: "MEAS:CURR?"
        r: "2.0993"
    properties:
      function:
        default: CURR
        getter: {q: "FUNC?", r: "{:s}"}
        setter: {q: "FUNC {:s}"}
        specs: {valid: [CURR, POW, RES], type: str}
      current:
        default: 0.0
        getter: {q: "CURR?", r: "{:.4f}"}
        setter: {q: "CURR {:.4f}"}
        specs: {min: 0, max: 30, type: float}
      power:
        default: 0.0
        getter: {q: "POW?", r: "{:.4f}"}
        setter: {q: "POW {:.4f}"}
        specs: {min: 0, max: 150, type: float}
      resistance:
        default: 1000.0
        getter: {q: "RES?", r: "{:.4f}"}
        setter: {q: "RES {:.4f}"}
        specs: {min: 0.05, max: 1000, type: float}
      input:
        default: "ON"
        getter: {q: "INP?", r: "{:s}"}
        setter: {q: "INP {:s}"}
        specs: {valid: ["ON", "OFF"], type: str}
resources:
  TCPIP::192.168.1.50::INSTR:
    device: eload
"""
RESOURCE = "TCPIP::192.168.1.50::INSTR"


@pytest.fixture
def eload(tmp_path):
    pytest.importorskip("pyvisa_sim")
    from pbgrade.scpi_load import ScpiLoad
    path = tmp_path / "eload.yaml"
    path.write_text(ELOAD)
    return lambda resource=RESOURCE: ScpiLoad(resource, max_current_a=3.5, backend=f"{path}@sim")


def test_scpi_load_is_set_switched_and_read(eload):
    with eload() as el:
        q = el.inst.query
        assert el.identity == "SIM,ELOAD-150,1,1.0" and q("INP?") == "OFF"  # off from the start
        el.set_target("CC", 2.1)
        el.on()
        assert (q("FUNC?"), float(q("CURR?")), q("INP?")) == ("CURR", 2.1, "ON")
        assert el.measured() == (5.0012, 2.0993)
        el.set_target("CR", 2.4)
        assert (q("FUNC?"), float(q("RES?"))) == ("RES", 2.4)
        el.inst.close = lambda: None  # to see the load after the block
    assert q("INP?") == "OFF"


@pytest.mark.filterwarnings("ignore:read string")  # the missing load's empty answer
def test_scpi_load_refusals_stop_the_test(eload):
    from pbgrade.scpi_load import ScpiLoadError
    el = eload()
    with pytest.raises(ScpiLoadError, match="over the rig's 3.5 A"):
        el.set_target("CC", 4.0)
    with pytest.raises(ScpiLoadError, match=r"refused 'RES 0.0100'.*-222"):
        el.set_target("CR", 0.01)  # the load's own range
    with pytest.raises(ValueError, match="CC, CP, CR"):
        el.set_target("CV", 5.0)
    with pytest.raises(ScpiLoadError, match="did not answer") as e:
        eload("TCPIP::10.0.0.9::INSTR")
    assert "\n" not in str(e.value)
    el.inst.close = lambda: None
    with pytest.raises(RuntimeError), el:  # an error in the test still switches the input off
        el.on()
        raise RuntimeError("the run broke")
    assert el.inst.query("INP?") == "OFF"


@pytest.mark.parametrize("platform", ["rp2", "esp32"])  # an ESP32's ADC must be set to read the whole divider
def test_board_reads_its_ntcs_against_thresholds_worked_out_once(monkeypatch, platform):
    board = machine_board(monkeypatch, {"kind": "cc"}, {"load_pwm": 15, "ntc_dut": 26}, platform)
    assert board._ntc[0] is None and board._ntc[1].pin.n == 26
    for celsius in (0.0, 25.0, 45.0, 80.0):
        ADC.celsius = celsius
        reading = board.temperature_raw(1)
        assert board.temperature_code(1, celsius - 0.5) < reading < board.temperature_code(1, celsius + 0.5)
        assert board.temperature_c(1) == pytest.approx(celsius, abs=0.1)  # what IDENTITY says (protocol 3)
    assert board.temperature_c(0) is None  # no NTC on the load: nothing reported
    monkeypatch.setattr(ADC, "celsius", 200.0)  # beyond an NTC's range: a shorted sensor, not a temperature
    assert board.temperature_c(1) is None


DISCHARGE_AT = """
[method]
name = "load-{load}"
title = "a minute at constant {load}"
verdict = "grade"
profile = "mini"
provenance = "test"

[[step]]
type = "discharge"
load = "{load}"
seconds = 60
"""


@pytest.mark.parametrize("kind", ["power", "resistance"])
def test_a_method_discharges_at_constant_power_or_resistance(tmp_path, kind):
    """The step's power (or resistance) is the one that draws the rated 2.1 A at 5 V: 10.5 W, 2.381 Ohm."""
    from test_e2e import run_record
    from test_profile import MINIMAL

    (tmp_path / "mini.toml").write_text(MINIMAL.replace('"capacity_ratio"', '"short_energy_wh"'))
    (tmp_path / "method.toml").write_text(DISCHARGE_AT.format(load=kind))
    record, _ = run_record(tmp_path, "--method", tmp_path / "method.toml", "--profile", tmp_path / "mini.toml")
    step = record["steps"][0]
    assert step["settings"]["load"] == kind
    mean_w = step["measurements"]["short_energy_wh"] * 3600 / 60
    if kind == "power":
        assert mean_w == pytest.approx(10.5, rel=0.01)
    else:
        assert mean_w == pytest.approx(step["measurements"]["mean_voltage_v"] ** 2 / (5 / 2.1), rel=0.01)
    assert isinstance(step["load_settling"], list)  # the loop settled, and the record says when


def test_a_load_kind_the_method_cannot_have_is_refused(tmp_path):
    from pbgrade.method import MethodError, load_method

    (tmp_path / "m.toml").write_text(DISCHARGE_AT.format(load="magic"))
    with pytest.raises(MethodError, match="'magic' is not a load kind: use one of current, power, resistance"):
        load_method(tmp_path / "m.toml")
