# INA228 driver and simulated chip under the real micropython: key checks, the
# zero-allocation promise of the raw reads, and a register checksum per seed
# that tests/test_ina228.py compares with CPython's. Datasheet: TI SLYS021A.
from ina228 import INA228
from ina228_sim import SimINA228
from inafakes import (Fixed, Ramp, allocated, check_alert, fake_ina228, first_result, mix, print_checksums, refused,
                      rigger)
from mpcases import run

rig = rigger(SimINA228, INA228)


def checksum_ina228(seed, samples=300):
    clock, bus, ina = rig(Ramp(), seed, averages=1, conversion_us=50)
    ina.reset_accumulators()
    c = 0
    for _ in range(samples):
        clock.advance(ina.sample_period_us + 37)
        p = bus.readfrom_mem(0x40, 0x08, 3)
        for v in (ina.bus_raw(), ina.shunt_raw(), ina.current_raw(), p[0] << 16 | p[1] << 8 | p[2]):
            c = mix(c, v, 0xFFFFF)
    clock.advance(12345678)
    for v in (ina.energy_raw(), ina.charge_raw()):
        c = (c * 31 + (v & 0xFFFFFFFFFF)) % 4294967291
    return c


def test_datasheet_example():
    # 8.2.2.3 / Table 8-4: 10 A, 16.2 mOhm -> SHUNT_CAL 4050 (FD2h), 10 A / 2**19 per count
    fake = fake_ina228()
    ina = INA228(fake, shunt_ohms=0.0162, max_current_a=10)
    assert (ina.cal, fake.regs[0x02], ina.adcrange, fake.regs[0x00]) == (4050, 0x0FD2, 0, 0)
    assert ina.current_lsb_a == 10 / 2 ** 19
    fake.regs.update({0x04: 311040 << 4, 0x07: 314572 << 4, 0x05: 245760 << 4,
                      0x08: 4718604, 0x09: 1061683200, 0x0A: 1132462080})
    assert (ina.shunt_raw(), ina.current_raw(), ina.bus_raw()) == (311040, 314572, 245760)
    assert abs(ina.shunt_raw() * ina.shunt_lsb_v - 0.0972) < 1e-9
    assert abs(ina.current() - 6.0) < 1e-4 and abs(ina.voltage() - 48.0) < 1e-9
    assert abs(ina.power() - 288.0) < 0.01
    assert abs(ina.energy() - 1036800) < 1e-3 and abs(ina.charge() - 21600) < 1e-6
    fake.regs[0x04] = 0b10110100000100000000 << 4  # 8.2.2.5: -97.2 mV
    fake.regs[0x07] = 0xFFFFF0
    fake.regs[0x0A] = 0xFFFFFFFFFF
    assert (ina.shunt_raw(), ina.current_raw(), ina.charge_raw()) == (-311040, -1, -1)
    # ADCRANGE 1: 3.2 A through 10 mOhm is 32 mV; SHUNT_CAL 4 x 800, 78.125 nV per code
    ina = INA228(fake, shunt_ohms=0.01, max_current_a=3.2)
    assert (ina.adcrange, ina.cal, fake.regs[0x00], ina.shunt_lsb_v) == (1, 3200, 0x0010, 78.125e-9)
    assert ina.current_lsb_a == 3.2 / 2 ** 19 and fake.regs[0x01] == 0xBB6A
    fake.regs[0x04] = 0x7FFFF0
    assert abs(ina.shunt_raw() * ina.shunt_lsb_v - 0.04096) < 1e-7


def test_raw_reads_allocate_nothing():
    n = allocated(INA228(fake_ina228(), shunt_ohms=0.01, max_current_a=3.2))
    assert n == 0, n


def test_refuses_what_the_chip_cannot_do():
    fake = fake_ina228()
    e = refused(lambda: INA228(fake, shunt_ohms=0.01, max_current_a=20), ValueError, "163.84 mV")
    assert "\n" not in e
    refused(lambda: INA228(fake_ina228(0x2381)), ValueError, "0x2381")
    refused(lambda: INA228(fake, averages=8), ValueError, "averages")


def test_alerts():
    # 8.2.2.4: SOVL 162 mV / (312.5 nV x 16) = 7E90h, BOVL 52 V / 3.125 mV = 4100h, both armed
    fake = fake_ina228()
    ina = INA228(fake, shunt_ohms=0.0162, max_current_a=10)
    assert (ina.alert_over_current(10), ina.alert_over_voltage(52)) == (32400, 16640)
    assert (fake.regs[0x0B], fake.regs[0x0C], fake.regs[0x0E]) == (0x8000, 0x7E90, 0x4100)
    check_alert(rig, "alert_over_voltage", "volts", 12.0, 0.024, "bus_raw", 0x0B, 0x0050, 0x8000, 16,
                conversion_us=1052)


def test_against_the_simulated_chip():
    source = Fixed(5.0, 1.5)
    clock, bus, ina = first_result(rig, source)
    assert abs(ina.voltage() - 5.0) < 0.005 and abs(ina.current() - 1.5) < 0.002
    ina.reset_accumulators()
    t0 = clock.now_us
    source.amps = -1.5
    assert ina.current_raw() > 0  # no new result yet
    clock.advance(ina.sample_period_us)
    assert abs(ina.current() + 1.5) < 0.002 and ina.shunt_raw() < 0 and ina.power() > 0
    clock.advance(30000000 - (clock.now_us - t0))
    t = (clock.now_us - t0) / 1e6
    energy, charge = ina.energy(), ina.charge()
    assert abs(energy - 7.5 * t) < 0.01 * 7.5 * t, (energy, 7.5 * t)
    assert abs(charge + 1.5 * t) < 0.01 * 1.5 * t, (charge, -1.5 * t)
    ina.reset_accumulators()
    assert abs(ina.charge()) < 0.001 and ina.energy() < 0.005
    source.amps = 3.5  # 35 mV: past 3.2 A, CURRENT overflows 20 bits
    clock.advance(ina.sample_period_us)
    assert ina.overflow() and ina.current_raw() == 2 ** 19 - 1
    refused(lambda: INA228(bus, address=0x41), OSError,
            "INA228 at 0x41 does not answer: check wiring and address")


def test_checksums():
    print_checksums("ina228", checksum_ina228)


if __name__ == "__main__":
    run(globals())
