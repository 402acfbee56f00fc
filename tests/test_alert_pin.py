"""The trip timing's hardware path, driver against simulated chip: alert_under_current() programs each
chip's under-current limit as its datasheet says (INA226 SBOS547 7.1.7-7.1.8 SUL, INA260 SBOS656C
8.6.5-8.6.6 UCL, INA228 SLYS021A 7.6.1.12/7.6.1.14 SUVL and SHNTUL), the simulated chip's ALERT pin
falls at the result below the limit, stays low (latched) until the flags register is read, follows
APOL and CNVR; alert_off() releases it; trip_window() switches to one conversion per result and back."""
import pytest

from ina226 import INA226
from ina226_sim import SimINA226
from ina228 import INA228
from ina228_sim import SimINA228
from ina260 import INA260
from ina260_sim import SimINA260
from inafakes import Fixed, fake_ina, fake_ina228, reg, rigger, write

CHIPS = {  # driver, simulated chip, its flags register, the config register trip_window() writes
    "INA226": (INA226, SimINA226, 0x06, 0x00),
    "INA260": (INA260, SimINA260, 0x06, 0x00),
    "INA228": (INA228, SimINA228, 0x0B, 0x01),
}


def chip(name, amps=2.0):
    driver, sim, flags, _ = CHIPS[name]
    source = Fixed(5.0, amps)
    kw = {"shunt_ohms": 0.002} if name == "INA260" else {}
    clock, bus, ina = rigger(sim, driver)(source, averages=1, conversion_us=1100 if name != "INA228" else 1052,
                                          **kw)
    return source, clock, bus, ina, bus.at(0x40), flags


def next_result(clock, ina):
    clock.advance(ina.sample_period_us)
    ina.bus_raw()  # an access: the chip completes the result


@pytest.mark.parametrize("name, amps, writes", [
    # INA226, 10 mOhm: 1 A is 10 mV = 4000 codes of 2.5 uV; Mask/Enable SUL | LEN = 4001h
    ("INA226", 1.0, [(0x06, 0x0001), (0x07, 4000), (0x06, 0x4001)]),
    # INA260: 1 A is 800 codes of 1.25 mA in its Current register; UCL | LEN
    ("INA260", 1.0, [(0x06, 0x0001), (0x07, 800), (0x06, 0x4001)]),
    # INA228, 10 mOhm at ADCRANGE 1 (3.2 A fits 40.96 mV): 1 A is 10 mV = 8000 codes of 1.25 uV; ALATCH
    ("INA228", 1.0, [(0x0B, 0x8000), (0x0D, 8000)]),  # DIAG_ALRT as it stays, then SUVL
])
def test_alert_under_current_programs_the_datasheet_limit(name, amps, writes):
    fake = fake_ina228() if name == "INA228" else fake_ina({"INA226": 0x2260, "INA260": 0x2270}[name])
    ina = CHIPS[name][0](fake, shunt_ohms=0.002 if name == "INA260" else 0.01, max_current_a=3.2)
    fake.writes.clear()
    assert ina.alert_under_current(amps) == writes[1][1]
    assert fake.writes == writes


@pytest.mark.parametrize("name", CHIPS)
def test_the_pin_falls_at_the_result_below_the_limit_and_stays_low_until_read(name):
    source, clock, bus, ina, sim, flags = chip(name)
    ina.alert_under_current(1.0)
    next_result(clock, ina)
    assert not sim.alert_low()  # 2 A: above the limit
    source.amps = 0.5
    assert not sim.alert_low()  # until a result reads it
    next_result(clock, ina)
    assert sim.alert_low()
    source.amps = 2.0
    next_result(clock, ina)
    assert sim.alert_low()  # latched: a result above does not release it ...
    reg(bus, flags)
    assert not sim.alert_low()  # ... a read of the flags does
    source.amps = 0.5
    next_result(clock, ina)
    assert sim.alert_low()
    ina.alert_off()
    assert not sim.alert_low()
    next_result(clock, ina)
    assert not sim.alert_low()  # no function armed: 0.5 A no longer alerts


def test_apol_and_cnvr_move_the_ina226_pin():
    source, clock, bus, ina, sim, flags = chip("INA226")
    write(bus, 0x06, 0x0002)  # APOL 1: active high, so the idle pin is low
    assert sim.alert_low()
    write(bus, 0x06, 0x0400)  # CNVR: the pin asserts (low) when a result is ready, until Mask/Enable is read
    next_result(clock, ina)
    assert sim.alert_low()
    reg(bus, 0x06)
    assert not sim.alert_low()


def test_on_pin_is_called_at_each_result_and_read_that_may_move_the_pin():
    source, clock, bus, ina, sim, flags = chip("INA226")
    calls = []
    sim.on_pin = lambda: calls.append((clock.now_us, sim.alert_low()))
    ina.alert_under_current(1.0)
    source.amps = 0.5
    clock.advance(ina.sample_period_us)
    sim._due()  # what SimBoard does while the firmware sleeps: the result completes on its schedule
    assert calls[-1] == (clock.now_us, True)


@pytest.mark.parametrize("name, fast, period_us", [
    ("INA226", 0x4000 | 0b010 << 6 | 0b010 << 3 | 7, 664),  # AVG 1, 332 us each
    ("INA260", 0x6000 | 0b010 << 6 | 0b010 << 3 | 7, 664),
    ("INA228", 0xB000 | 3 << 9 | 3 << 6 | 5 << 3, 560),  # 280 us each, VTCT as it was
])
def test_trip_window_converts_one_result_per_trip_period_and_back(name, fast, period_us):
    source, clock, bus, ina, sim, flags = chip(name)
    config = CHIPS[name][3]
    sampling = reg(bus, config)
    ina.trip_window(True)
    assert reg(bus, config) == fast and ina.trip_period_us == period_us == sim._period
    ina.trip_window(False)
    assert reg(bus, config) == sampling
