"""INA260 driver (firmware/ina260.py) against the datasheet's register formats and
against the simulated chip (rigs/sim/ina260_sim.py) on the simulated bus.
Datasheet: TI SBOS656C."""
import pytest

from conftest import MP_TESTS
from ina260 import INA260
from ina260_sim import SimINA260
from inafakes import Fixed, fake_ina, micropython_checksums, reg, rigger, seed_codes, settle, sim_bus, spread, write
from inafakes import check_alert

MP_SCRIPT = MP_TESTS / "test_ina260_ina3221_mp.py"
rig = rigger(SimINA260, INA260)


# --- driver against datasheet numbers -------------------------------------------------

def test_fixed_lsbs_and_register_codes():
    # 8.6.2 Current: 1.25 mA/LSB, two's complement; 8.6.3 Bus: 1.25 mV/LSB, bit 15 = 0;
    # 8.6.4 Power: 10 mW/LSB
    fake = fake_ina(0x2270)
    ina = INA260(fake)
    assert (ina.current_lsb_a, ina.bus_lsb_v, ina.cal) == (0.00125, 0.00125, 0)
    assert (ina.CHIP, ina.SAMPLE_FORMAT) == (4, 1)
    fake.regs.update({0x01: 0x2710, 0x02: 0x2580, 0x03: 0x2EE0})
    assert (ina.current_raw(), ina.bus_raw()) == (10000, 9600)
    assert ina.current() == pytest.approx(12.5)
    assert ina.voltage() == pytest.approx(12.0)
    assert ina.power() == pytest.approx(120.0)
    fake.regs.update({0x01: 0xFC18, 0x02: 0x7FFF})  # -1000: the DUT back-feeds
    assert ina.current_raw() == -1000 and ina.current() == pytest.approx(-1.25)
    assert ina.bus_raw() == 0x7FFF and ina.voltage() == pytest.approx(40.95875)
    fake.regs[0x01] = 0x8000
    assert ina.current_raw() == -32768 and ina.current() == pytest.approx(-40.96)
    assert ina.bus_code(3.0) == 2400 and ina.current_code(-0.5) == -400
    assert ina.current_code(15.0) == 12000


def test_reset_then_config_no_calibration():
    fake = fake_ina(0x2270)
    ina = INA260(fake, averages=16, conversion_us=1100)
    # reserved bits 14..12 = 110 as at reset (6127h), AVG 010, VBUSCT = ISHCT = 100, MODE 111
    assert fake.writes == [(0x00, 0x8000), (0x00, 0x6527)]
    assert ina.sample_period_us == 2 * 1100 * 16
    ina = INA260(fake, averages=1, conversion_us=1100)
    assert fake.writes[-1] == (0x00, 0x6127) and ina.sample_period_us == 2200  # the power-on default
    ina = INA260(fake, averages=1024, conversion_us=8244)
    assert fake.writes[-1] == (0x00, 0x6FFF)
    ina = INA260(fake, averages=1, conversion_us=140)
    assert fake.writes[-1] == (0x00, 0x6007) and ina.sample_period_us == 280
    assert all(r != 0x05 for r, _ in fake.writes)


def test_status_flags():
    fake = fake_ina(0x2270, read_clears={0x06: 0x0008})  # reading Mask/Enable clears CVRF
    ina = INA260(fake)
    fake.regs[0x06] = 0x0008
    assert ina.conversion_ready() and not ina.overflow()
    fake.regs[0x06] = 0x0004
    assert ina.overflow() and not ina.conversion_ready()


@pytest.mark.parametrize("amps, code", [(10.0, 8000), (2.0, 1600), (1.2512, 1000), (-1.25, -1000), (40.9575, 32766)])
def test_alert_over_current_is_ocl_on_the_current_code(amps, code):
    # 8.6.5: OCL (bit 15) compares the Current register, 1.25 mA per code, rounded down
    fake = fake_ina(0x2270)
    ina = INA260(fake)
    fake.writes.clear()
    assert ina.alert_over_current(amps) == code
    assert fake.writes == [(0x06, 0x0001), (0x07, code & 0xFFFF), (0x06, 0x8001)]
    assert ina.alert_over_voltage(12.0) == 9600 and (fake.regs[0x06], fake.regs[0x07]) == (0x2001, 9600)
    with pytest.raises(ValueError, match=r"outside \[-40.96, 40.95875\) A"):
        ina.alert_over_current(40.95875)


def test_alert_trips_and_latches_on_the_simulated_chip():
    # 10 A: 8000 codes; margin 0.2 %, 16 codes
    check_alert(rig, "alert_over_current", "amps", 10.0, 0.02, "current_raw", 0x06, 0x0010, 0x0001)


@pytest.mark.parametrize("shunt", [0.01, 0.001, 0.0021, 0])
def test_other_shunt_refused(shunt):
    fake = fake_ina(0x2270)
    with pytest.raises(ValueError) as e:
        INA260(fake, shunt_ohms=shunt)
    assert str(e.value) == "the INA260 has an integrated 2 mOhm shunt: shunt_ohms must be 0.002, not %r" % shunt
    assert fake.writes == []


@pytest.mark.parametrize("max_a", [15.01, 20.0, 41.0])
def test_over_15_amps_refused(max_a):
    with pytest.raises(ValueError) as e:
        INA260(fake_ina(0x2270), max_current_a=max_a)
    assert "15 A continuous current rating" in str(e.value) and "\n" not in str(e.value)


def test_15_amps_accepted():
    assert INA260(fake_ina(0x2270), max_current_a=15).current_code(15) == 12000


@pytest.mark.parametrize("kw", [dict(averages=8), dict(conversion_us=1000), dict(max_current_a=0)])
def test_bad_arguments_refused(kw):
    with pytest.raises(ValueError):
        INA260(fake_ina(0x2270), **kw)


@pytest.mark.parametrize("mfr, die", [(0x5449, 0x2260), (0x5449, 0x3220), (0x1234, 0x2270)])
def test_other_chip_refused(mfr, die):
    fake = fake_ina(die)
    fake.regs[0xFE] = mfr
    with pytest.raises(ValueError) as e:
        INA260(fake)
    assert "0x%04x" % die in str(e.value) and "not an INA260" in str(e.value)
    assert fake.writes == []


def test_die_revision_accepted():
    reference = fake_ina(0x2270)
    INA260(reference)
    fake = fake_ina(0x2271)  # DID is bits 15..4, RID bits 3..0 (8.6.8)
    INA260(fake)
    assert fake.writes == reference.writes and fake.regs == {**reference.regs, 0xFF: 0x2271}  # configured alike


def test_no_answer_is_one_line_oserror():
    with pytest.raises(OSError) as e:
        INA260(fake_ina(0x2270, address=0x41))
    assert str(e.value) == "INA260 at 0x40 does not answer: check wiring and address"


# --- driver against the simulated chip --------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("volts, amps", [(5.0, 1.5), (20.0, 3.0), (3.7, -2.0), (12.0, 0.05), (9.0, 14.9)])
def test_reads_back_source_within_datasheet_accuracy(seed, volts, amps):
    clock, bus, ina = rig(Fixed(volts, amps), seed)
    settle(clock, ina)
    # 7.5 Electrical Characteristics, max column: current sense offset 5 mA, system current
    # sense gain error 0.15 %, bus offset 7.5 mV, bus gain error 0.1 %; plus one LSB of rounding
    v_tol = volts * 0.001 + 0.0075 + 0.00125
    i_tol = abs(amps) * 0.0015 + 0.005 + 0.00125
    assert abs(ina.voltage() - volts) <= v_tol
    assert abs(ina.current() - amps) <= i_tol
    # the power register truncates to 10 mW
    assert abs(ina.power() - volts * abs(amps)) <= volts * i_tol + abs(amps) * v_tol + 0.01


def test_negative_current_and_unsigned_power():
    clock, bus, ina = rig(Fixed(5.0, -1.0))
    settle(clock, ina)
    assert ina.current_raw() < 0
    assert ina.current() == pytest.approx(-1.0, abs=0.008)
    assert ina.power() == pytest.approx(5.0, rel=0.01)


def test_conversion_timing_and_cvrf():
    source = Fixed(5.0, 1.0)
    clock, bus, ina = rig(source, averages=4, conversion_us=588)
    t0 = clock.now_us
    assert ina.bus_raw() == 0  # nothing converted yet after reset
    clock.advance(t0 + ina.sample_period_us - 200 - clock.now_us)
    assert not ina.conversion_ready()
    clock.advance(100)
    assert ina.conversion_ready() and not ina.conversion_ready()
    assert ina.bus_raw() == pytest.approx(4000, abs=10) and ina.current_raw() == pytest.approx(800, abs=5)
    source.volts = 6.0
    assert ina.bus_raw() == pytest.approx(4000, abs=10)  # registers change only when a conversion completes
    clock.advance(ina.sample_period_us)
    assert ina.conversion_ready() and ina.bus_raw() == pytest.approx(4800, abs=10)


def test_clipping_and_power_overflow():
    source = Fixed(36.0, 30.0)  # 24000 current * 28800 bus counts / 6400 = 108000 > 0xFFFF
    clock, bus, ina = rig(source)
    settle(clock, ina)
    assert ina.overflow() and bus.readfrom_mem(0x40, 0x03, 2) == b"\xff\xff"
    source.amps = 1.0
    settle(clock, ina)
    assert not ina.overflow()
    source.amps = 50.0  # past the ADC's 40.96 A
    settle(clock, ina)
    assert ina.current_raw() == 32767
    source.amps = -50.0
    settle(clock, ina)
    assert ina.current_raw() == -32768
    source.volts = 45.0
    settle(clock, ina)
    assert ina.bus_raw() == 0x7FFF


def test_sim_reset_ids_modes_and_missing_registers():
    source = Fixed(5.0, 1.0)
    clock, bus = sim_bus(SimINA260, source)
    assert (reg(bus, 0x00), reg(bus, 0x06), reg(bus, 0xFE), reg(bus, 0xFF)) == (0x6127, 0, 0x5449, 0x2270)
    clock.advance(2200)  # power-on default: AVG 1, 1.1 ms each, current+bus continuous
    assert reg(bus, 0x01) == pytest.approx(800, abs=5) and reg(bus, 0x02) == pytest.approx(4000, abs=10)
    assert reg(bus, 0x03) == pytest.approx(500, abs=2)  # 800 * 4000 / 6400
    write(bus, 0x05, 0x1234)  # no calibration register at 05h, no current register at 04h
    assert (reg(bus, 0x04), reg(bus, 0x05)) == (0, 0)
    write(bus, 0x07, 0xABCD)
    assert reg(bus, 0x07) == 0xABCD
    write(bus, 0x00, 0x8000)  # RST: power-on values
    assert (reg(bus, 0x00), reg(bus, 0x07)) == (0x6127, 0)
    write(bus, 0x00, 0x6000)  # power-down
    before = reg(bus, 0x02)
    source.volts = 9.0
    clock.advance(100000)
    assert reg(bus, 0x02) == before and not reg(bus, 0x06) & 0x0008
    write(bus, 0x00, 0x6003)  # triggered current+bus, 140 us each: one conversion
    clock.advance(280)
    assert reg(bus, 0x06) & 0x0008 and reg(bus, 0x02) == pytest.approx(7200, abs=10)
    source.volts = 3.0
    clock.advance(100000)
    assert not reg(bus, 0x06) & 0x0008 and reg(bus, 0x02) == pytest.approx(7200, abs=10)


def test_averaging_reduces_noise():
    fast = spread(rig, "current_raw", averages=1, conversion_us=140)
    assert fast > spread(rig, "current_raw", averages=64, conversion_us=1100) <= 1


def test_seed_sets_errors_reproducibly():
    def codes(seed):
        return seed_codes(rig, seed, 12.0, 2.0, 140, "current_raw")
    assert codes(7) == codes(7) != codes(8)


def test_same_seed_same_registers_under_micropython():
    got, want = micropython_checksums(MP_SCRIPT, "ina260")
    assert got == want
    assert len({line.split()[3] for line in want}) == len(want)
