# INA219 driver and simulated chip under the real micropython: key checks, the
# zero-allocation promise of the raw reads, the time a raw read takes, and a
# register checksum per seed that tests/test_ina219.py compares with CPython's.
from ina219 import INA219
from ina219_sim import SimINA219
from inafakes import (Fixed, allocated, fake_ina219, first_result, print_checksums, ramp_checksum, read_ns, refused,
                      reg, rigger)
from mpcases import run

rig = rigger(SimINA219, INA219)


def codes(bus, ina):
    power = reg(bus, 0x03)  # first: reading it clears CNVR
    return ina.bus_raw() << 3 | ina.bus_flags, ina.shunt_raw(), ina.current_raw(), power


def checksum_ina219(seed):
    return ramp_checksum(rig, seed, 84, codes)


def test_datasheet_example():
    # 9.2 Typical Application, Table 8: 2 mOhm, PGA /1, BRNG 0, 1 mA/bit -> CAL 5000h
    fake = fake_ina219()
    ina = INA219(fake, shunt_ohms=0.002, max_current_a=20, bus_range_v=16)
    assert (ina.current_lsb_a, ina.cal, fake.regs[0x05], fake.regs[0x00]) == (0.001, 20480, 0x5000, 0x019F)
    fake.regs.update({0x01: 0x07D0, 0x02: 0x5D98, 0x04: 0x2710, 0x03: 0x1766})
    assert (ina.shunt_raw(), ina.bus_raw(), ina.current_raw(), ina.bus_flags) == (2000, 2995, 10000, 0)
    assert abs(ina.voltage() - 11.98) < 1e-9 and abs(ina.current() - 10.0) < 1e-9
    assert abs(ina.power() - 119.8) < 1e-9
    fake.regs[0x04] = 0xFC18
    fake.regs[0x01] = 0xF060  # -40 mV at PGA /1
    fake.regs[0x02] = 0x5D98 | 3
    assert (ina.current_raw(), ina.shunt_raw(), ina.bus_raw(), ina.bus_flags) == (-1000, -4000, 2995, 3)
    assert ina.overflow() and ina.conversion_ready()
    assert INA219(fake_ina219(), shunt_ohms=0.015, max_current_a=5.0).cal == 13652  # 13653 with FS0 void
    assert INA219(fake_ina219()).cal == 4096  # the default: 0.1 ohm, 3.2 A on the 320 mV range
    assert not (hasattr(ina, "alert") or hasattr(ina, "alert_over_current") or hasattr(ina, "alert_over_voltage"))


def test_raw_reads_allocate_nothing():
    n = allocated(INA219(fake_ina219(), shunt_ohms=0.002, max_current_a=20, bus_range_v=16))
    assert n == 0, n


def test_refuses_what_the_chip_cannot_do():
    refused(lambda: INA219(fake_ina219(), shunt_ohms=0.1, max_current_a=3.3), ValueError, "over the 320 mV shunt range")
    refused(lambda: INA219(fake_ina219(), averages=4, conversion_us=276), ValueError, "conversion_us must be 532")
    refused(lambda: INA219(fake_ina219(config_after_reset=0x4127)), ValueError, "not an INA219")


def test_against_the_simulated_chip():
    source = Fixed(5.0, 1.5)
    clock, bus, ina = first_result(rig, source)
    assert abs(ina.voltage() - 5.0) < 0.033 and abs(ina.current() - 1.5) < 0.01
    source.amps = -1.5
    assert ina.current_raw() > 0  # no new conversion yet
    clock.advance(ina.sample_period_us)
    assert abs(ina.current() + 1.5) < 0.01 and ina.shunt_raw() < 0 and ina.power() > 0
    clock, bus, ina = rig(Fixed(5.0, 3.5), shunt_ohms=0.01)  # PGA /1, CAL 40960
    clock.advance(ina.sample_period_us)
    assert ina.overflow() and ina.current_raw() == 32767
    message = refused(lambda: INA219(bus, address=0x41), OSError, "does not answer")
    assert message == "INA219 at 0x41 does not answer: check wiring and address", message

    print("read ina219 %d ns per raw register read over the fake bus, %d over the simulated one"
          % (read_ns(INA219(fake_ina219())), read_ns(ina)))


def test_checksums():
    print_checksums("ina219", checksum_ina219)


if __name__ == "__main__":
    run(globals())
