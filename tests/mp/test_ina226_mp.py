# INA226 driver and simulated chip under the real micropython: key checks, the
# zero-allocation promise of the raw reads, and a register checksum per seed
# that tests/test_ina226.py compares with CPython's.
from ina226 import INA226
from ina226_sim import SimINA226
from inafakes import (Fixed, allocated, check_alert, fake_ina, first_result, print_checksums, ramp_checksum, refused,
                      reg, rigger)
from mpcases import run

rig = rigger(SimINA226, INA226)


def codes(bus, ina):
    power = reg(bus, 0x03)
    return ina.bus_raw(), ina.shunt_raw(), ina.current_raw(), power


def checksum_ina226(seed):
    return ramp_checksum(rig, seed, 140, codes)


def test_datasheet_example():
    # Datasheet "Configure/Measure/Calculate Example": 2 mOhm, 1 mA/bit -> CAL 0A00h.
    fake = fake_ina(0x2260)
    ina = INA226(fake, shunt_ohms=0.002, max_current_a=20)
    assert (ina.current_lsb_a, ina.cal, fake.regs[0x05]) == (0.001, 2560, 0x0A00)
    fake.regs.update({0x01: 0x1F40, 0x02: 0x2570, 0x04: 0x2710, 0x03: 0x12B8})
    assert (ina.shunt_raw(), ina.bus_raw(), ina.current_raw()) == (8000, 9584, 10000)
    assert abs(ina.voltage() - 11.98) < 1e-9 and abs(ina.current() - 10.0) < 1e-9
    assert abs(ina.power() - 119.8) < 1e-9
    fake.regs[0x04] = 0xFC18
    fake.regs[0x01] = 0x8300
    assert (ina.current_raw(), ina.shunt_raw()) == (-1000, -32000)


def test_raw_reads_allocate_nothing():
    n = allocated(INA226(fake_ina(0x2260), shunt_ohms=0.002, max_current_a=20))
    assert n == 0, n


def test_refuses_what_the_chip_cannot_do():
    refused(lambda: INA226(fake_ina(0x2260), shunt_ohms=0.01, max_current_a=10), ValueError, "81.92 mV")
    refused(lambda: INA226(fake_ina(0x2270)), ValueError, "0x2270")  # an INA260


def test_alerts():
    # SOL on the shunt code (2.5 uV), BOL on the bus code (1.25 mV), rounded down;
    # one limit register: the last call wins
    fake = fake_ina(0x2260, read_clears={0x06: 0x0018})  # latched: a read clears AFF and CVRF
    ina = INA226(fake)
    assert (ina.alert_over_current(2.0), ina.alert_over_current(0.99999), fake.regs[0x06]) == (8000, 3999, 0x8001)
    assert (ina.alert_over_voltage(12.0), fake.regs[0x06], fake.regs[0x07]) == (9600, 0x2001, 0x2580)
    fake.regs[0x06] = 0x2019  # AFF and CVRF: each reported once, whichever call read them
    assert ina.alert() and ina.conversion_ready() and not ina.alert() and not ina.conversion_ready()
    refused(lambda: ina.alert_over_current(8.2), ValueError, "alert threshold 8.2 A is outside")
    check_alert(rig, "alert_over_current", "amps", 2.0, 0.004, "shunt_raw", 0x06, 0x0010, 0x0001)


def test_against_the_simulated_chip():
    source = Fixed(5.0, 1.5)
    clock, bus, ina = first_result(rig, source)
    assert abs(ina.voltage() - 5.0) < 0.015 and abs(ina.current() - 1.5) < 0.003
    source.amps = -1.5
    assert ina.current_raw() > 0  # no new conversion yet
    clock.advance(ina.sample_period_us)
    assert abs(ina.current() + 1.5) < 0.003 and ina.shunt_raw() < 0 and ina.power() > 0
    source.amps = 3.5
    clock.advance(ina.sample_period_us)
    assert ina.overflow() and ina.current_raw() == 32767
    message = refused(lambda: INA226(bus, address=0x41), OSError, "does not answer")
    assert message == "INA226 at 0x41 does not answer: check wiring and address", message


def test_checksums():
    print_checksums("ina226", checksum_ina226)


if __name__ == "__main__":
    run(globals())
