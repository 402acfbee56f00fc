"""INA219 driver (firmware/ina219.py) against datasheet examples and against the
simulated chip (rigs/sim/ina219_sim.py) on the simulated bus (rigs/sim/i2cbus.py).
Datasheet: TI SBOS448G."""
import pytest

from clock import VirtualClock
from conftest import MP_TESTS
from i2cbus import SimI2C
import ina219
from ina219 import INA219
from ina219_sim import SimINA219
from ina226_sim import SimINA226
from inafakes import Fixed, fake_ina219, micropython_checksums, reg, rigger, seed_codes, settle, sim_bus, spread, write

MP_SCRIPT = MP_TESTS / "test_ina219_mp.py"
rig = rigger(SimINA219, INA219)


# --- driver against datasheet numbers -------------------------------------------------

def test_datasheet_register_results_example():
    # 9.2 Typical Application, Table 8 "Register Results": 10 A load, 2 mOhm, VCM 12 V,
    # PGA /1 (40 mV), BRNG = 0; Current_LSB 1 mA -> CAL 5000h (20480), config 019Fh;
    # shunt 07D0h, bus 5D98h (>> 3 = 0BB3h = 2995), current 2710h, power 1766h.
    # The example rounds its 457.78 uA minimum LSB up to 1 mA; this driver's 1-2-5
    # rounding gives 1 mA from max_current_a 20 (20 A / 2**15 = 610 uA; 40 mV, PGA /1).
    fake = fake_ina219()
    ina = INA219(fake, shunt_ohms=0.002, max_current_a=20, bus_range_v=16)
    assert (ina.current_lsb_a, ina.cal, ina.pga_v) == (0.001, 20480, 0.04)
    assert fake.writes == [(0x00, 0x8000), (0x05, 0x5000), (0x00, 0x019F)]
    fake.regs.update({0x01: 0x07D0, 0x02: 0x5D98, 0x04: 0x2710, 0x03: 0x1766})
    assert (ina.shunt_raw(), ina.bus_raw(), ina.current_raw()) == (2000, 2995, 10000)
    assert ina.bus_flags == 0
    assert ina.voltage() == pytest.approx(11.98)
    assert ina.current() == pytest.approx(10.0)
    assert ina.power() == pytest.approx(119.8)
    # equations 4 and 5 on the example's codes
    assert 2000 * 20480 // 4096 == 10000 and 10000 * 2995 // 5000 == 5990 == 0x1766


def test_datasheet_example_max_expected_current():
    # Same circuit, the example's own max expected current 15 A: equation 2 gives
    # 457.76 uA (the example prints 457.78 uA, which is 15 / 32767, not 15 / 2**15);
    # rounded up to 500 uA here (the datasheet picks 1 mA), CAL 40960.
    ina = INA219(fake_ina219(), shunt_ohms=0.002, max_current_a=15, bus_range_v=16)
    assert (ina.current_lsb_a, ina.cal, ina.pga_v) == (0.0005, 40960, 0.04)
    assert round(15 / 2**15 * 1e8) == 45776 and round(15 / 32767 * 1e8) == 45778


@pytest.mark.parametrize("shunt, max_a, lsb, cal", [
    (0.1, 3.2, 1e-4, 4096),      # 97.7 uA -> 100 uA: the common R100 breakout, PGA /8
    (0.1, 0.4, 2e-5, 20480),     # 12.2 uA -> 20 uA
    (0.01, 3.2, 1e-4, 40960),    # CAL above 0x7FFF: FS15 is a calibration bit
    (0.015, 5.0, 2e-4, 13652),   # trunc(13653.33) = 13653, odd: FS0 is void -> 13652
    (0.007, 4.0, 2e-4, 29256),   # trunc(29257.14) = 29257 -> 29256
    (0.0005, 10.0, 2e-3, 40960),  # 305 uA -> CAL 163840 would not fit: LSB >= 1.25 mA -> 2 mA
    (0.002, 20.0, 1e-3, 20480),
])
def test_current_lsb_and_cal(shunt, max_a, lsb, cal):
    fake = fake_ina219()
    ina = INA219(fake, shunt_ohms=shunt, max_current_a=max_a)
    assert ina.current_lsb_a == pytest.approx(lsb, rel=1e-12)
    assert ina.cal == cal == fake.regs[0x05]
    assert ina.current_lsb_a >= max_a / 2**15 and cal <= 0xFFFE and cal % 2 == 0
    # the true LSB 0.04096 / (cal * R) is within 2 / cal of the nominal one
    assert 0.04096 / (cal * shunt) == pytest.approx(lsb, rel=2 / cal)


@pytest.mark.parametrize("shunt, max_a, pga_v, pg", [
    (0.1, 0.4, 0.04, 0),    # exactly 40 mV still fits /1
    (0.1, 0.41, 0.08, 1),
    (0.1, 0.8, 0.08, 1),
    (0.1, 0.81, 0.16, 2),
    (0.1, 1.6, 0.16, 2),
    (0.1, 2.0, 0.32, 3),
    (0.1, 3.2, 0.32, 3),    # 3.2 * 0.1 is 0.32000000000000006 in floats: still accepted
    (0.01, 3.2, 0.04, 0),
    (0.05, 3.2, 0.16, 2),
])
def test_pga_is_smallest_range_that_holds_max_current(shunt, max_a, pga_v, pg):
    fake = fake_ina219()
    ina = INA219(fake, shunt_ohms=shunt, max_current_a=max_a)
    assert ina.pga_v == pga_v
    assert fake.regs[0x00] >> 11 & 3 == pg and fake.regs[0x00] >> 13 & 1 == 1  # BRNG 32 V by default


@pytest.mark.parametrize("kw, adc, period", [
    (dict(averages=1, conversion_us=84), 0b0000, 168),
    (dict(averages=1, conversion_us=148), 0b0001, 296),
    (dict(averages=1, conversion_us=276), 0b0010, 552),
    (dict(), 0b0011, 1064),
    (dict(averages=2), 0b1001, 2120),
    (dict(averages=16, conversion_us=532), 0b1100, 17020),
    (dict(averages=128), 0b1111, 136200),
])
def test_adc_settings_and_sample_period(kw, adc, period):
    fake = fake_ina219()
    ina = INA219(fake, **kw)
    config = fake.writes[-1][1]
    assert config >> 7 & 15 == adc and config >> 3 & 15 == adc and config & 7 == 0b111
    assert ina.sample_period_us == period


def test_reset_then_cal_then_config_written():
    fake = fake_ina219(reads=[])
    INA219(fake, shunt_ohms=0.1, max_current_a=3.2, bus_range_v=16)
    assert fake.writes == [(0x00, 0x8000), (0x05, 4096), (0x00, 0x199F)]
    assert fake.reads[:2] == [0x00, 0x00]  # first contact, then the reset value check


def test_signed_registers_and_codes():
    fake = fake_ina219()
    ina = INA219(fake)  # 0.1 ohm, 3.2 A: 100 uA/bit, PGA /8
    # 8.6.3.1: -320 mV is 8300h at PGA /8; -40 mV is F060h at PGA /1
    fake.regs.update({0x01: 0x8300, 0x04: 0xFC18, 0x02: 0xFFF8})
    assert ina.shunt_raw() == -32000
    assert ina.current_raw() == -1000 and ina.current() == pytest.approx(-0.1)
    assert ina.bus_raw() == 8191 and ina.voltage() == pytest.approx(32.764)
    fake.regs[0x01] = 0xF060
    assert ina.shunt_raw() == -4000
    assert ina.bus_lsb_v == 0.004
    assert ina.bus_code(3.0) == 750 and ina.current_code(-0.5) == -5000
    assert ina.current_code(3.2) == 32000


def test_bus_register_flags():
    fake = fake_ina219(reads=[])
    ina = INA219(fake)
    fake.regs[0x02] = 0x5D98 | 0x0002  # CNVR
    assert ina.bus_raw() == 2995 and ina.bus_flags == 2
    fake.reads.clear()
    assert ina.conversion_ready() and fake.reads == [0x02, 0x03]  # the power read clears CNVR
    assert not ina.overflow()
    fake.regs[0x02] = 0x5D98 | 0x0001  # OVF
    assert ina.bus_raw() == 2995 and ina.bus_flags == 1
    fake.reads.clear()
    assert ina.overflow() and not ina.conversion_ready() and fake.reads == [0x02, 0x02]


@pytest.mark.parametrize("shunt, max_a", [(0.1, 3.3), (0.01, 33.0), (1.0, 0.33)])
def test_shunt_range_overflow_refused(shunt, max_a):
    with pytest.raises(ValueError, match="over the 320 mV shunt range: use max_current_a <= ") as e:
        INA219(fake_ina219(), shunt_ohms=shunt, max_current_a=max_a)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("kw, message", [
    (dict(averages=3), "averages must be one of"),
    (dict(averages=4, conversion_us=276), "averaging 4 samples converts at 12 bits: conversion_us must be 532, not 276"),
    (dict(averages=1, conversion_us=588), "conversion_us must be one of"),
    (dict(bus_range_v=26), "bus_range_v must be one of"),
    (dict(shunt_ohms=0), "above 0"),
    (dict(max_current_a=0), "above 0"),
])
def test_bad_arguments_refused(kw, message):
    fake = fake_ina219()
    with pytest.raises(ValueError, match=message) as e:
        INA219(fake, **kw)
    assert "\n" not in str(e.value) and fake.writes == []


def test_no_answer_is_one_line_oserror():
    with pytest.raises(OSError) as e:
        INA219(fake_ina219(address=0x41))
    assert str(e.value) == "INA219 at 0x40 does not answer: check wiring and address"
    with pytest.raises(OSError) as e:
        INA219(SimI2C(VirtualClock()), address=0x45)
    assert str(e.value) == "INA219 at 0x45 does not answer: check wiring and address"


def test_other_chip_refused():
    fake = fake_ina219(config_after_reset=0x4127)
    with pytest.raises(ValueError, match="reads configuration 0x4127 after a reset: not an INA219") as e:
        INA219(fake)
    assert "\n" not in str(e.value) and (0x05, 4096) not in fake.writes
    clock, bus = sim_bus(SimINA226, Fixed(5.0, 0.0))  # a simulated INA226 where an INA219 is expected
    with pytest.raises(ValueError, match="0x4127"):
        INA219(bus)


def test_no_alert_function():
    # The INA219 has no ALERT pin and no limit registers (Table 2 ends at 05h): no alert
    # API, unlike the INA226, INA228, INA260 and INA3221 drivers, and the docstring says so.
    assert [n for n in ("alert", "alert_over_current", "alert_over_voltage") if hasattr(INA219, n)] == []
    assert "No alert function" in ina219.__doc__


# --- driver against the simulated chip --------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("volts, amps, shunt, max_a", [
    (5.0, 1.5, 0.1, 3.2),     # PGA /8
    (20.0, 3.0, 0.01, 3.2),   # PGA /1
    (3.7, -2.0, 0.05, 3.0),   # PGA /4, back-feeding
    (12.0, 0.05, 0.1, 0.4),   # PGA /1
    (9.0, 0.7, 0.1, 0.8),     # PGA /2
])
def test_reads_back_source_within_datasheet_accuracy(seed, volts, amps, shunt, max_a):
    clock, bus, ina = rig(Fixed(volts, amps), seed, shunt_ohms=shunt, max_current_a=max_a)
    settle(clock, ina)
    # 7.5 Electrical Characteristics, INA219A max column: current and bus voltage
    # measurement error 0.5 %, offset (RTI) 100/125/150/200 uV at PGA /1../8; plus an
    # LSB of rounding (bus: 2, the bus offset being only plotted)
    offset_v = {0.04: 100e-6, 0.08: 125e-6, 0.16: 150e-6, 0.32: 200e-6}[ina.pga_v]
    v_tol = volts * 0.005 + 2 * 0.004
    i_tol = abs(amps) * 0.005 + offset_v / shunt + ina.current_lsb_a
    assert abs(ina.voltage() - volts) <= v_tol
    assert abs(ina.current() - amps) <= i_tol
    assert abs(ina.shunt_raw() * 10e-6 - amps * shunt) <= abs(amps) * shunt * 0.005 + offset_v + 10e-6
    # the power register truncates to 20 current LSBs
    assert abs(ina.power() - volts * abs(amps)) <= volts * i_tol + abs(amps) * v_tol + 20 * ina.current_lsb_a
    assert ina.bus_flags == 2 and not ina.overflow()  # CNVR set, no overflow


def test_current_and_power_registers_follow_equations_4_and_5():
    source = Fixed(11.98, 10.0)
    clock, bus, ina = rig(source, shunt_ohms=0.002, max_current_a=20, bus_range_v=16)
    for amps in (10.0, -7.5, 0.3, 19.0):
        source.amps = amps
        write(bus, 0x00, 0x019B)  # shunt and bus, triggered: one conversion, then the reads
        settle(clock, ina)
        shunt, cur, code = ina.shunt_raw(), ina.current_raw(), ina.bus_raw()
        assert reg(bus, 0x05) == ina.cal == 20480
        assert cur == int(shunt * 20480 / 4096)  # truncated towards zero
        assert reg(bus, 0x03) == abs(cur) * code // 5000
        assert cur == pytest.approx(amps * 1000, abs=abs(amps) * 5 + 50 + 1)  # 1 mA LSB


def test_negative_current():
    clock, bus, ina = rig(Fixed(5.0, -1.0))
    settle(clock, ina)
    assert ina.shunt_raw() < 0 and ina.current_raw() < 0
    assert ina.current() == pytest.approx(-1.0, abs=0.005 + 0.002 + 0.0001)
    assert ina.power() == pytest.approx(5.0, rel=0.011)  # the power register is unsigned


def test_conversion_timing_and_cnvr():
    source = Fixed(5.0, 1.0)
    clock, bus, ina = rig(source, averages=4)
    t0 = clock.now_us  # the CONFIG write that started conversions
    assert ina.sample_period_us == 2 * 2130
    assert ina.bus_raw() == 0 and ina.bus_flags == 0  # nothing converted yet after reset
    clock.advance(t0 + ina.sample_period_us - 200 - clock.now_us)
    assert not ina.conversion_ready()  # read done at t0 + period - 80 us
    clock.advance(100)
    assert ina.bus_raw() == pytest.approx(1250, abs=10) and ina.bus_flags & 2
    assert ina.bus_flags & 2  # reading the bus register does not clear CNVR ...
    assert ina.conversion_ready()
    assert not ina.conversion_ready()  # ... reading the power register does
    code = ina.bus_raw()
    source.volts = 6.0
    assert ina.bus_raw() == code  # registers change only when a conversion completes
    clock.advance(ina.sample_period_us)
    assert ina.conversion_ready() and ina.bus_raw() == pytest.approx(1500, abs=10)


def test_averaging_reduces_noise():
    fast = spread(rig, "shunt_raw", averages=1, conversion_us=84)
    assert fast > spread(rig, "shunt_raw", averages=128) <= 3


def test_overflow_flag_and_clipping():
    # 10 mOhm, 3.2 A: PGA /1, CAL 40960, so the current register overflows
    # above 32767 * 100 uA = 3.2767 A while the shunt still reads up to 40 mV
    source = Fixed(5.0, 3.5)
    clock, bus, ina = rig(source, shunt_ohms=0.01, max_current_a=3.2)
    assert ina.cal == 40960 and ina.pga_v == 0.04
    settle(clock, ina)
    assert ina.overflow() and ina.current_raw() == 32767
    assert ina.bus_raw() and ina.bus_flags & 1
    source.amps = 1.0
    settle(clock, ina)
    assert not ina.overflow()
    source.amps = 10.0  # 100 mV, past the 40 mV full scale
    settle(clock, ina)
    assert ina.shunt_raw() == 4000
    source.amps = -10.0
    settle(clock, ina)
    assert ina.shunt_raw() == -4000 and ina.current_raw() == -32768
    source.volts = 40.0
    settle(clock, ina)
    assert ina.bus_raw() == 8000


@pytest.mark.parametrize("pg, full, positive, negative", [
    (0, 4000, 0x0FA0, 0xF060), (1, 8000, 0x1F40, 0xE0C0), (2, 16000, 0x3E80, 0xC180), (3, 32000, 0x7D00, 0x8300)])
def test_shunt_register_clips_per_pga_as_table_7(pg, full, positive, negative):
    # 8.6.3.1, Figures 20-23 and Table 7: out-of-range inputs read as the full-scale code
    source = Fixed(5.0, 0.0)
    clock, bus = sim_bus(SimINA219, source, shunt_ohms=0.1)
    write(bus, 0x00, 0x399F & ~0x1800 | pg << 11)
    for amps, want in ((full * 2e-4, positive), (-full * 2e-4, negative)):  # twice full scale
        source.amps = amps
        clock.advance(1064)
        assert reg(bus, 0x01) == want
    source.amps = full * 1e-4 * 0.5  # half scale: the sign bits above the range are 0
    clock.advance(1064)
    assert reg(bus, 0x01) >> (12 + pg) == 0
    source.amps = -full * 1e-4 * 0.5
    clock.advance(1064)
    assert reg(bus, 0x01) >> (12 + pg) == (1 << (4 - pg)) - 1  # ... or all 1


def test_sim_reset_cal_and_modes():
    source = Fixed(5.0, 1.0)
    clock, bus = sim_bus(SimINA219, source)
    assert [reg(bus, r) for r in range(6)] == [0x399F, 0, 0, 0, 0, 0]
    write(bus, 0x05, 0xFFFF)
    assert reg(bus, 0x05) == 0xFFFE  # FS0 is void
    write(bus, 0x05, 4096)
    clock.advance(1064)
    assert reg(bus, 0x04) == pytest.approx(10000, abs=30) and reg(bus, 0x03) == pytest.approx(2500, abs=30)
    assert reg(bus, 0x02) & 3 == 0  # the power read above cleared CNVR
    write(bus, 0x00, 0x8000)  # RST: all registers to power-on values
    assert [reg(bus, r) for r in (0x00, 0x04, 0x05)] == [0x399F, 0, 0]
    write(bus, 0x05, 4096)
    clock.advance(1064)
    assert reg(bus, 0x02) & 2
    write(bus, 0x00, 0x3998)  # power-down: CNVR kept, no conversions
    before = reg(bus, 0x02)
    assert before & 2
    source.volts = 9.0
    clock.advance(100000)
    assert reg(bus, 0x02) == before
    write(bus, 0x00, 0x399B)  # shunt+bus triggered: CNVR cleared, one conversion after 40 us wake-up
    assert not reg(bus, 0x02) & 2
    clock.advance(1064 + 40 - 2 * 120 - 1)
    assert not reg(bus, 0x02) & 2  # read done 1 us before 1064 + 40 us
    clock.advance(1)
    assert reg(bus, 0x02) & 2 and reg(bus, 0x02) >> 3 == pytest.approx(2250, abs=10)
    source.volts = 3.0
    clock.advance(100000)
    assert reg(bus, 0x02) >> 3 == pytest.approx(2250, abs=10)
    write(bus, 0x00, 0x399B)  # writing a triggered mode again starts another conversion
    clock.advance(1064)
    assert reg(bus, 0x02) >> 3 == pytest.approx(750, abs=10)
    write(bus, 0x00, 0x399C)  # ADC off: no conversions
    source.volts = 4.0
    clock.advance(100000)
    assert reg(bus, 0x02) >> 3 == pytest.approx(750, abs=10)
    write(bus, 0x00, 0x399E)  # bus only, continuous: shunt keeps its last value
    shunt = reg(bus, 0x01)
    source.amps = 2.0
    clock.advance(1000)
    assert reg(bus, 0x02) >> 3 == pytest.approx(1000, abs=10) and reg(bus, 0x01) == shunt
    write(bus, 0x00, 0x199F)  # BRNG 16 V: clips at 4000 (assumed, as the shunt does)
    source.volts = 20.0
    clock.advance(1064)
    assert reg(bus, 0x02) >> 3 == 4000
    bus.writeto_mem(0x40, 0x02, b"\x12\x34")  # read-only
    assert reg(bus, 0x02) >> 3 == 4000


def test_seed_sets_errors_reproducibly():
    def codes(seed):
        return seed_codes(rig, seed, 12.0, 2.0, 84, "shunt_raw")
    assert codes(7) == codes(7) != codes(8)


def test_same_seed_same_registers_under_micropython():
    got, want = micropython_checksums(MP_SCRIPT, "ina219")
    assert got == want
    assert len({line.split()[3] for line in want}) == len(want)
