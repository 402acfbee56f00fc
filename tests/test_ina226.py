"""INA226 driver (firmware/ina226.py) against datasheet examples and against the
simulated chip (rigs/sim/ina226_sim.py) on the simulated bus (rigs/sim/i2cbus.py).
Datasheet: TI SBOS547."""
import pytest

from conftest import MP_TESTS
from ina226 import INA226
from ina226_sim import SimINA226
from inafakes import Fixed, fake_ina, micropython_checksums, rigger, seed_codes, settle, sim_bus, spread
from inafakes import check_alert, reg, write

MP_SCRIPT = MP_TESTS / "test_ina226_mp.py"
rig = rigger(SimINA226, INA226)


# --- driver against datasheet numbers -------------------------------------------------

def test_datasheet_configure_measure_calculate_example():
    # Table "Configure/Measure/Calculate Example": 10 A load, 2 mOhm shunt, VBUS 12 V,
    # Current_LSB 1 mA -> CAL 0A00h; shunt 1F40h, bus 2570h, current 2710h, power 12B8h.
    fake = fake_ina(0x2260)
    ina = INA226(fake, shunt_ohms=0.002, max_current_a=20)
    assert (ina.current_lsb_a, ina.cal) == (0.001, 2560)
    assert fake.regs[0x05] == 0x0A00
    fake.regs.update({0x01: 0x1F40, 0x02: 0x2570, 0x04: 0x2710, 0x03: 0x12B8})
    assert (ina.shunt_raw(), ina.bus_raw(), ina.current_raw()) == (8000, 9584, 10000)
    assert ina.voltage() == pytest.approx(11.98)
    assert ina.current() == pytest.approx(10.0)
    assert ina.power() == pytest.approx(119.8)


@pytest.mark.parametrize("shunt, max_a, lsb, cal", [
    (0.01, 3.2, 1e-4, 5120),     # 3.2 / 2**15 = 97.7 uA -> 100 uA
    (0.1, 0.8, 5e-5, 1024),      # 24.4 uA -> 50 uA
    (0.015, 5.0, 2e-4, 1706),    # 0.00512 / (200e-6 * 0.015) = 1706.67, truncated
    (0.001, 3.0, 2e-4, 25600),   # 3 / 2**15 = 91.6 uA would need CAL 55924 > 0x7FFF
    (0.002, 20.0, 1e-3, 2560),
])
def test_current_lsb_and_cal(shunt, max_a, lsb, cal):
    fake = fake_ina(0x2260)
    ina = INA226(fake, shunt_ohms=shunt, max_current_a=max_a)
    assert ina.current_lsb_a == pytest.approx(lsb, rel=1e-12)
    assert ina.cal == cal == fake.regs[0x05]
    assert ina.current_lsb_a >= max_a / 2**15 and cal <= 0x7FFF


def test_reset_then_cal_then_config_written():
    fake = fake_ina(0x2260)
    ina = INA226(fake, averages=16, conversion_us=1100)
    # AVG 010 (16), VBUSCT = VSHCT = 100 (1.1 ms), MODE 111, reserved bits as at reset
    assert fake.writes == [(0x00, 0x8000), (0x05, 5120), (0x00, 0x4527)]
    assert ina.sample_period_us == 2 * 1100 * 16
    fake.writes.clear()
    ina = INA226(fake, averages=1, conversion_us=140)
    assert fake.writes[-1] == (0x00, 0x4007) and ina.sample_period_us == 280
    ina = INA226(fake, averages=1024, conversion_us=8244)
    assert fake.writes[-1] == (0x00, 0x4FFF)


def test_signed_registers_and_codes():
    fake = fake_ina(0x2260)
    ina = INA226(fake)  # 100 uA/bit
    # Shunt Voltage Register example: -80 mV is 8300h
    fake.regs.update({0x01: 0x8300, 0x04: 0xFC18, 0x02: 0x7FFF})
    assert ina.shunt_raw() == -32000
    assert ina.current_raw() == -1000 and ina.current() == pytest.approx(-0.1)
    assert ina.bus_raw() == 32767 and ina.voltage() == pytest.approx(40.95875)
    assert ina.bus_lsb_v == 0.00125
    assert ina.bus_code(3.0) == 2400 and ina.current_code(-0.5) == -5000
    assert ina.current_code(3.2) == 32000


def test_status_flags():
    fake = fake_ina(0x2260, read_clears={0x06: 0x0008})  # reading Mask/Enable clears CVRF
    ina = INA226(fake)
    fake.regs[0x06] = 0x0008
    assert ina.conversion_ready() and not ina.overflow()
    fake.regs[0x06] = 0x0004
    assert ina.overflow() and not ina.conversion_ready()


@pytest.mark.parametrize("shunt, max_a", [(0.01, 10.0), (0.1, 1.0), (0.002, 41.0)])
def test_shunt_range_overflow_refused(shunt, max_a):
    with pytest.raises(ValueError, match="over the 81.92 mV shunt range: use max_current_a <= ") as e:
        INA226(fake_ina(0x2260), shunt_ohms=shunt, max_current_a=max_a)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("kw", [dict(averages=8), dict(conversion_us=1000), dict(shunt_ohms=0),
                                dict(max_current_a=0)])
def test_bad_arguments_refused(kw):
    with pytest.raises(ValueError):
        INA226(fake_ina(0x2260), **kw)


@pytest.mark.parametrize("mfr, die", [(0x5449, 0x2270), (0x5449, 0x3220), (0x1234, 0x2260)])
def test_other_chip_refused(mfr, die):
    fake = fake_ina(die)
    fake.regs[0xFE] = mfr
    with pytest.raises(ValueError, match="0x%04x" % die):
        INA226(fake)
    assert fake.writes == []


def test_no_answer_is_one_line_oserror():
    with pytest.raises(OSError) as e:
        INA226(fake_ina(0x2260, address=0x40), address=0x45)
    assert str(e.value) == "INA226 at 0x45 does not answer: check wiring and address"


# --- alert limits (6.3.1.2 Alert Pin, 7.1.7 Mask/Enable, 7.1.8 Alert Limit) ----------------

@pytest.mark.parametrize("shunt, max_a, amps, code", [
    (0.01, 3.2, 2.0, 8000),  # 20 mV / 2.5 uV: 1F40h
    (0.01, 3.2, 1.00001, 4000), (0.01, 3.2, 0.99999, 3999),  # rounded down: trips for any reading above
    (0.01, 3.2, -0.5, -2000),  # two's complement, F830h
    (0.002, 20.0, 25.0, 20000),  # 50 mV: 4E20h
    (0.1, 0.8, 0.8191, 32764)])
def test_alert_over_current_is_sol_on_the_shunt_voltage_code(shunt, max_a, amps, code):
    fake = fake_ina(0x2260)
    ina = INA226(fake, shunt_ohms=shunt, max_current_a=max_a)
    fake.writes.clear()
    fake.reads = []
    assert ina.alert_over_current(amps) == code
    # function off (LEN only), limit, a read that drops a flag latched before, SOL | LEN
    assert fake.writes == [(0x06, 0x0001), (0x07, code & 0xFFFF), (0x06, 0x8001)] and fake.reads == [0x06]


@pytest.mark.parametrize("volts, code", [(12.0, 9600), (3.0, 2400), (3.0012, 2400), (40.9575, 32766)])
def test_alert_over_voltage_is_bol_on_the_bus_code(volts, code):
    fake = fake_ina(0x2260)
    ina = INA226(fake)
    assert ina.alert_over_voltage(volts) == code
    assert (fake.regs[0x06], fake.regs[0x07]) == (0x2001, code)


def test_one_limit_register_the_last_call_wins():
    fake = fake_ina(0x2260)
    ina = INA226(fake)
    ina.alert_over_voltage(12.0)
    ina.alert_over_current(2.0)
    assert (fake.regs[0x06], fake.regs[0x07]) == (0x8001, 8000)
    ina.alert_over_voltage(12.0)
    assert (fake.regs[0x06], fake.regs[0x07]) == (0x2001, 9600)


@pytest.mark.parametrize("arm, value, message", [
    ("alert_over_current", 8.2, "alert threshold 8.2 A is outside [-8.192, 8.19175) A"),  # past 81.92 mV
    ("alert_over_voltage", 40.95875, "alert threshold 40.95875 V is outside [0, 40.95875) V"),  # 7FFFh: never exceeded
    ("alert_over_voltage", -0.001, "alert threshold -0.001 V is outside [0, 40.95875) V")])
def test_alert_threshold_out_of_range_refused(arm, value, message):
    fake = fake_ina(0x2260)
    with pytest.raises(ValueError) as e:
        getattr(INA226(fake), arm)(value)
    assert str(e.value) == message + ", the readings the chip can compare"


def test_alert_flag_and_what_reading_mask_enable_clears():
    # latched: a read of Mask/Enable clears AFF and CVRF; the driver keeps what one of
    # alert(), conversion_ready() and overflow() cleared for the one that asks
    fake = fake_ina(0x2260, read_clears={0x06: 0x0018})
    ina = INA226(fake)
    fake.regs[0x06] = 0x8019  # SOL, AFF, CVRF, LEN
    assert ina.alert() and ina.conversion_ready()
    assert not ina.conversion_ready() and not ina.alert()
    fake.regs[0x06] = 0x8019
    assert ina.conversion_ready() and ina.alert() and not ina.alert()
    fake.regs[0x06] = 0x8015  # AFF, OVF
    assert ina.overflow() and ina.alert() and not ina.conversion_ready()


@pytest.mark.parametrize("arm, name, threshold, margin, raw", [
    ("alert_over_current", "amps", 2.0, 0.004, "shunt_raw"),  # 8000 codes, margin 16
    ("alert_over_voltage", "volts", 12.0, 0.024, "bus_raw")])  # 9600 codes, margin 19
def test_alert_trips_and_latches_on_the_simulated_chip(arm, name, threshold, margin, raw):
    # margins of 0.2 %: 5.5's typical gain error (0.02 %), offset and noise, with room
    check_alert(rig, arm, name, threshold, margin, raw, 0x06, 0x0010, 0x0001)


@pytest.mark.parametrize("function, limit, alert", [
    (0x8000, 3900, True), (0x8000, 4100, False),  # SOL: shunt 4000 codes > limit
    (0x4000, 4100, True), (0x4000, 3900, False),  # SUL: shunt < limit
    (0x2000, 3900, True), (0x1000, 4100, True), (0x1000, 3900, False),  # BOL, BUL: bus 4000 codes
    (0x0800, 1900, True), (0x0800, 2100, False),  # POL: power 2000 codes
    (0xC000, 4100, False), (0x0000, 0, False)])  # SOL wins over SUL; no function
def test_sim_alert_functions_transparent(function, limit, alert):
    clock, bus = sim_bus(SimINA226, Fixed(5.0, 1.0))
    write(bus, 0x05, 5120)  # 100 uA per current code
    write(bus, 0x07, limit)
    write(bus, 0x06, function)  # LEN 0: AFF follows each conversion
    clock.advance(2 * 2200)
    assert bool(reg(bus, 0x06) & 0x0010) == alert


# --- the simulated bus ------------------------------------------------------------------

def test_bus_nak_scan_and_timing():
    clock, bus = sim_bus(SimINA226, Fixed(5.0, 0.0), address=0x44)
    assert bus.scan() == [0x44]
    with pytest.raises(OSError) as e:
        bus.readfrom_mem(0x40, 0xFE, 2)
    assert e.value.args[0] == 5
    t = clock.now_us
    assert bus.readfrom_mem(0x44, 0xFE, 2) == b"\x54\x49"
    assert clock.now_us - t == 120  # (9 * 5 + 3) bits at 2.5 us
    bus.readfrom_mem_into(0x44, 0xFF, bytearray(1))
    bus.readfrom_mem_into(0x44, 0xFF, bytearray(1))
    assert clock.now_us - t == 120 + 195  # 39 bits = 97.5 us each, remainder carried
    bus.writeto_mem(0x44, 0x07, b"\x12\x34")
    assert clock.now_us - t == 120 + 195 + 95  # 9 * 4 + 2 bits
    assert bus.readfrom_mem(0x44, 0x07, 4) == b"\x12\x34\x12\x34"


# --- driver against the simulated chip --------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("volts, amps", [(5.0, 1.5), (20.0, 3.0), (3.7, -2.0), (12.0, 0.05)])
def test_reads_back_source_within_datasheet_accuracy(seed, volts, amps):
    clock, bus, ina = rig(Fixed(volts, amps), seed)
    settle(clock, ina)
    # 5.5 Electrical Characteristics, max column: gain error 0.1 %, shunt offset 10 uV,
    # bus offset 7.5 mV; plus one LSB of rounding
    v_tol = volts * 0.001 + 0.0075 + 0.00125
    i_tol = abs(amps) * 0.001 + 10e-6 / 0.01 + ina.current_lsb_a
    assert abs(ina.voltage() - volts) <= v_tol
    assert abs(ina.current() - amps) <= i_tol
    assert abs(ina.shunt_raw() * 2.5e-6 - amps * 0.01) <= abs(amps) * 0.01 * 0.001 + 10e-6 + 2.5e-6
    # the power register truncates to 25 current LSBs
    assert abs(ina.power() - volts * abs(amps)) <= volts * i_tol + abs(amps) * v_tol + 25 * ina.current_lsb_a


def test_negative_current():
    clock, bus, ina = rig(Fixed(5.0, -1.0))
    settle(clock, ina)
    assert ina.shunt_raw() < 0 and ina.current_raw() < 0
    assert ina.current() == pytest.approx(-1.0, abs=0.002)
    assert ina.power() == pytest.approx(5.0, rel=0.005)  # the power register is unsigned


def test_conversion_timing_and_cvrf():
    source = Fixed(5.0, 1.0)
    clock, bus, ina = rig(source, averages=4, conversion_us=588)
    t0 = clock.now_us  # the CONFIG write that started conversions
    assert ina.sample_period_us == 2 * 588 * 4
    assert ina.bus_raw() == 0  # nothing converted yet after reset
    clock.advance(t0 + ina.sample_period_us - 200 - clock.now_us)
    assert not ina.conversion_ready()  # read done at t0 + period - 80 us
    clock.advance(100)
    assert ina.conversion_ready()
    assert not ina.conversion_ready()  # reading Mask/Enable cleared it
    code = ina.bus_raw()
    assert code == pytest.approx(4000, abs=10)
    source.volts = 6.0
    assert ina.bus_raw() == code  # registers change only when a conversion completes
    clock.advance(ina.sample_period_us)
    assert ina.conversion_ready() and ina.bus_raw() == pytest.approx(4800, abs=10)


def test_averaging_reduces_noise():
    fast = spread(rig, "shunt_raw", averages=1, conversion_us=140)
    assert fast > spread(rig, "shunt_raw", averages=64, conversion_us=1100) <= 1


def test_overflow_flag_and_clipping():
    source = Fixed(5.0, 3.5)  # 35 mV: shunt code 14000, current 14000 * 5120 / 2048 > 32767
    clock, bus, ina = rig(source)
    settle(clock, ina)
    assert ina.overflow() and ina.current_raw() == 32767
    source.amps = 1.0
    settle(clock, ina)
    assert not ina.overflow()
    source.amps = 10.0  # 100 mV, past the shunt full scale
    settle(clock, ina)
    assert ina.shunt_raw() == 32767
    source.amps = -10.0
    settle(clock, ina)
    assert ina.shunt_raw() == -32768 and ina.current_raw() == -32768
    source.volts = 45.0
    settle(clock, ina)
    assert ina.bus_raw() == 0x7FFF


def test_sim_reset_ids_cal_and_modes():
    source = Fixed(5.0, 1.0)
    clock, bus = sim_bus(SimINA226, source)

    def reg(r):
        b = bus.readfrom_mem(0x40, r, 2)
        return b[0] << 8 | b[1]

    def write(r, v):
        bus.writeto_mem(0x40, r, bytes((v >> 8, v & 0xFF)))

    assert (reg(0x00), reg(0x05), reg(0xFE), reg(0xFF)) == (0x4127, 0, 0x5449, 0x2260)
    write(0x05, 0xFFFF)
    assert reg(0x05) == 0x7FFF  # bit 15 reserved
    write(0x05, 5120)
    clock.advance(2200)
    assert reg(0x04) == pytest.approx(10000, abs=10) and reg(0x03) == pytest.approx(2000, abs=5)
    write(0x00, 0x8000)  # RST: all registers to power-on values
    assert (reg(0x00), reg(0x05)) == (0x4127, 0)
    write(0x00, 0x4000)  # power-down: no conversions
    before = reg(0x02)
    source.volts = 9.0
    clock.advance(100000)
    assert reg(0x02) == before and not reg(0x06) & 0x0008
    write(0x00, 0x4003)  # triggered shunt+bus, 140 us each: exactly one conversion
    clock.advance(280)
    assert reg(0x06) & 0x0008 and reg(0x02) == pytest.approx(7200, abs=10)
    source.volts = 3.0
    clock.advance(100000)
    assert not reg(0x06) & 0x0008 and reg(0x02) == pytest.approx(7200, abs=10)
    write(0x00, 0x4006)  # bus only, continuous: shunt keeps its last value
    shunt = reg(0x01)
    source.amps = 2.0
    clock.advance(1000)
    assert reg(0x02) == pytest.approx(2400, abs=10) and reg(0x01) == shunt


def test_seed_sets_errors_reproducibly():
    def codes(seed):
        return seed_codes(rig, seed, 12.0, 2.0, 140, "shunt_raw")
    assert codes(7) == codes(7) != codes(8)


def test_same_seed_same_registers_under_micropython():
    got, want = micropython_checksums(MP_SCRIPT, "ina226")
    assert got == want
    assert len({line.split()[3] for line in want}) == len(want)
