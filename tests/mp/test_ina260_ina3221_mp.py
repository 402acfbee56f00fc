# INA260 and INA3221 drivers and simulated chips under the real micropython: key
# checks, the zero-allocation promise of the raw reads, the time a raw read takes,
# and a register checksum per seed that tests/test_ina260.py and
# tests/test_ina3221.py compare with CPython's.
from ina260 import INA260
from ina260_sim import SimINA260
from ina3221 import INA3221
from ina3221_sim import SimINA3221
from inafakes import (Fixed, Ramp, allocated, check_alert, fake_ina, mix, print_checksums, ramp_checksum, read_ns,
                      refused, reg, rigger, write)
from mpcases import run

rig_ina260 = rigger(SimINA260, INA260)
rig_ina3221 = rigger(SimINA3221, INA3221)


def codes_ina260(bus, ina):
    return ina.bus_raw(), ina.current_raw(), reg(bus, 0x03), reg(bus, 0x06)


def checksum_ina260(seed):
    return ramp_checksum(rig_ina260, seed, 140, codes_ina260)


def checksum_ina3221(seed, samples=300):
    clock, bus, ina = rig_ina3221(Ramp(), seed, channel=2, averages=1, conversion_us=140)
    c = 0
    for _ in range(samples // 2):
        clock.advance(ina.sample_period_us)
        c = mix(mix(c, ina.bus_raw()), ina.current_raw())
    write(bus, 0x00, 0x7007)  # all three channels: offsets and noise of each
    for _ in range(samples // 2):
        clock.advance(3 * 280)
        for r in (1, 2, 3, 4, 5, 6, 0x0D, 0x0F):
            c = mix(c, reg(bus, r))
    return c


def test_ina260():
    # fixed LSBs, current 1.25 mA and bus 1.25 mV per count (8.6.2, 8.6.3)
    fake = fake_ina(0x2270)
    ina = INA260(fake)
    assert fake.regs[0x00] == 0x6527 and ina.cal == 0
    fake.regs.update({0x01: 0x2710, 0x02: 0x2580, 0x03: 0x2EE0})
    assert (ina.current_raw(), ina.bus_raw()) == (10000, 9600)
    assert abs(ina.current() - 12.5) < 1e-9 and abs(ina.voltage() - 12.0) < 1e-9
    assert abs(ina.power() - 120.0) < 1e-9
    fake.regs[0x01] = 0xFC18
    assert ina.current_raw() == -1000 and abs(ina.current() + 1.25) < 1e-9
    n = allocated(ina, shunt=False)
    assert n == 0, n
    print("read ina260 %d ns per raw register read over the fake bus" % read_ns(ina))
    assert (ina.alert_over_current(10.0), fake.regs[0x06], fake.regs[0x07]) == (8000, 0x8001, 0x1F40)  # OCL
    refused(lambda: INA260(fake, shunt_ohms=0.01), ValueError, "integrated 2 mOhm shunt")
    refused(lambda: INA260(fake, max_current_a=20), ValueError, "15 A continuous current rating")
    refused(lambda: INA260(fake_ina(0x2260)), ValueError, "0x2260: not an INA260")
    refused(lambda: INA260(fake_ina(0x2270, address=0x41)), OSError,
            "INA260 at 0x40 does not answer: check wiring and address")


def test_ina3221():
    # datasheet examples C180h = -80 mV, 7FF8h = 32.76 V (7.6.2.2, 7.6.2.3)
    fake = fake_ina(0x3220)
    ina = INA3221(fake, shunt_ohms=0.1, max_current_a=1.6, channel=3)
    assert fake.regs[0x00] == 0x1527 and ina.cal == 0
    fake.regs.update({0x05: 0xC180, 0x06: 0x7FF8})
    assert (ina.current_raw(), ina.bus_raw()) == (-2000, 4095)
    assert abs(ina.current() + 0.8) < 1e-9 and abs(ina.voltage() - 32.76) < 1e-9
    n = allocated(ina, shunt=False)
    assert n == 0, n
    print("read ina3221 %d ns per raw register read over the fake bus" % read_ns(ina))
    assert (ina.alert_over_current(-0.5), fake.regs[0x0B], fake.regs[0x0F]) == (-1250, 0xD8F0, 0x0400)  # critical 3
    refused(lambda: ina.alert_over_voltage(5.0), ValueError, "INA3221 cannot alert on bus over-voltage")
    refused(lambda: INA3221(fake, address=0x44), ValueError, "0x40..0x43")
    refused(lambda: INA3221(fake, shunt_ohms=0.1, max_current_a=2), ValueError, "163.8 mV")
    refused(lambda: INA3221(fake_ina(0x2270)), ValueError, "0x2270: not an INA3221")
    refused(lambda: INA3221(fake_ina(0x3220, address=0x41)), OSError,
            "INA3221 at 0x40 does not answer: check wiring and address")


def test_alerts_on_the_simulated_chips():
    check_alert(rig_ina260, "alert_over_current", "amps", 10.0, 0.02, "current_raw", 0x06, 0x0010, 0x0001)
    check_alert(rig_ina3221, "alert_over_current", "amps", 1.0, 0.005, "current_raw", 0x0F, 0x0100, 0x0400,
                channel=2)


def test_ina260_against_the_simulated_chip():
    source = Fixed(5.0, 1.5)
    clock, bus, ina = rig_ina260(source)
    assert not ina.conversion_ready()
    clock.advance(ina.sample_period_us)
    assert ina.conversion_ready() and not ina.conversion_ready()
    assert abs(ina.voltage() - 5.0) < 0.014 and abs(ina.current() - 1.5) < 0.009
    source.amps = -1.5
    clock.advance(ina.sample_period_us)
    assert abs(ina.current() + 1.5) < 0.009 and ina.power() > 0


def test_ina3221_against_the_simulated_chip():
    source = Fixed(12.0, 1.0)
    clock, bus, ina = rig_ina3221(source, channel=2)
    clock.advance(ina.sample_period_us)
    assert ina.conversion_ready()
    assert abs(ina.voltage() - 12.0) < 0.06 and abs(ina.current() - 1.0) < 0.004
    assert reg(bus, 0x01) == reg(bus, 0x02) == reg(bus, 0x05) == reg(bus, 0x06) == 0  # disabled


def test_checksums():
    print_checksums("ina260", checksum_ina260)
    print_checksums("ina3221", checksum_ina3221)


if __name__ == "__main__":
    run(globals())
