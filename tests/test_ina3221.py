"""INA3221 driver (firmware/ina3221.py) against datasheet examples and against the
simulated chip (rigs/sim/ina3221_sim.py) on the simulated bus.
Datasheet: TI SBOS576."""
import pytest

from clock import VirtualClock
from conftest import MP_TESTS
from ina3221 import INA3221
from ina3221_sim import SimINA3221
from inafakes import Fixed, fake_ina, micropython_checksums, reg, rigger, seed_codes, settle, sim_bus, spread, write
from inafakes import check_alert

MP_SCRIPT = MP_TESTS / "test_ina260_ina3221_mp.py"
rig = rigger(SimINA3221, INA3221)


def signed13(v):
    return (v - 0x10000 if v & 0x8000 else v) >> 3


def signed15(v):
    return (v - 0x10000 if v & 0x8000 else v) >> 1


# --- driver against datasheet numbers -------------------------------------------------

def test_datasheet_register_examples():
    # 7.6.2.2 Channel-1 shunt voltage: -80 mV is C180h; full scale 7FF8h = 163.8 mV, 40 uV/LSB.
    # 7.6.2.3 Channel-1 bus voltage: full scale 7FF8h = 32.76 V, 8 mV/LSB.
    fake = fake_ina(0x3220)
    ina = INA3221(fake, shunt_ohms=0.1, max_current_a=1.6)
    assert (ina.CHIP, ina.SAMPLE_FORMAT, ina.cal) == (5, 1, 0)
    assert (ina.bus_lsb_v, ina.current_lsb_a) == (0.008, pytest.approx(0.0004))
    fake.regs.update({0x01: 0xC180, 0x02: 0x7FF8})
    assert ina.current_raw() == ina.shunt_raw() == -2000
    assert ina.current_raw() * 40e-6 == pytest.approx(-0.080)
    assert ina.current() == pytest.approx(-0.8)  # -80 mV across 0.1 ohm
    assert ina.bus_raw() == 4095 and ina.voltage() == pytest.approx(32.76)
    fake.regs.update({0x01: 0x7FF8, 0x02: 0x1388})
    assert ina.current_raw() == 4095 and ina.current() == pytest.approx(1.638)
    assert ina.bus_raw() == 625 and ina.voltage() == pytest.approx(5.0)
    fake.regs[0x01] = 0x8000
    assert ina.current_raw() == -4096 and ina.current() == pytest.approx(-1.6384)
    assert ina.bus_code(3.0) == 375 and ina.current_code(-0.5) == -1250


def test_current_lsb_follows_shunt():
    assert INA3221(fake_ina(0x3220), shunt_ohms=0.01, max_current_a=16).current_lsb_a == pytest.approx(0.004)
    assert INA3221(fake_ina(0x3220), shunt_ohms=0.05, max_current_a=3).current_code(1.0) == 1250


@pytest.mark.parametrize("channel, config, shunt_reg, bus_reg", [
    (1, 0x4527, 0x01, 0x02), (2, 0x2527, 0x03, 0x04), (3, 0x1527, 0x05, 0x06)])
def test_one_channel_enabled(channel, config, shunt_reg, bus_reg):
    # CH1en..CH3en = bits 14..12; AVG 010 (16), VBUSCT = VSHCT = 100 (1.1 ms), MODE 111
    fake = fake_ina(0x3220)
    ina = INA3221(fake, channel=channel)
    assert fake.writes == [(0x00, 0x8000), (0x00, config)]
    assert ina.sample_period_us == 16 * (1100 + 1100)  # one channel, not three
    fake.regs.update({shunt_reg: 0x0FA0, bus_reg: 0x2710})
    assert (ina.current_raw(), ina.bus_raw()) == (500, 1250)


@pytest.mark.parametrize("enabled, config", [((1, 2, 3), 0x7527), ((2, 3), 0x3527), ((1, 3), 0x5527)])
def test_test_channels_sharing_the_chip_enable_every_channel_they_use(enabled, config):
    fake = fake_ina(0x3220)
    for channel in enabled:  # one driver object per test channel, each writing the same CONFIG
        ina = INA3221(fake, channel=channel, enabled=list(enabled))
        assert fake.writes[-1] == (0x00, config)
        assert ina.sample_period_us == len(enabled) * 16 * (1100 + 1100)  # the chip converts them in turn


@pytest.mark.parametrize("kw", [{"channel": 1, "enabled": [2, 3]}, {"channel": 2, "enabled": [2, 4]}])
def test_enabled_channels_must_include_its_own_and_exist(kw):
    with pytest.raises(ValueError):
        INA3221(fake_ina(0x3220), **kw)


def test_config_extremes():
    fake = fake_ina(0x3220)
    ina = INA3221(fake, averages=1, conversion_us=140)
    assert fake.writes[-1] == (0x00, 0x4007) and ina.sample_period_us == 280
    INA3221(fake, averages=1024, conversion_us=8244, channel=3)
    assert fake.writes[-1] == (0x00, 0x1FFF)


def test_conversion_ready_flag():
    fake = fake_ina(0x3220)
    ina = INA3221(fake)
    fake.regs[0x0F] = 0x0003  # CVRF (bit 0) and TCF
    assert ina.conversion_ready()
    fake.regs[0x0F] = 0x0002
    assert not ina.conversion_ready()


@pytest.mark.parametrize("channel, limit_reg, amps, code", [
    (1, 0x07, 1.0, 2500), (2, 0x09, 1.0, 2500), (3, 0x0B, 1.0, 2500),  # 100 mV / 40 uV
    (2, 0x09, 1.00039, 2500), (2, 0x09, -0.5, -1250), (2, 0x09, 1.6376, 4094)])
def test_alert_over_current_is_the_channel_critical_limit(channel, limit_reg, amps, code):
    # 7.6.2.8-13: critical-alert limit, bits 15..3, 40 uV per code, rounded down; CEN latches
    fake = fake_ina(0x3220)
    ina = INA3221(fake, shunt_ohms=0.1, max_current_a=1.6, channel=channel)
    fake.writes.clear()
    fake.reads = []
    assert ina.alert_over_current(amps) == code
    assert fake.writes == [(0x0F, 0x0400), (limit_reg, code << 3 & 0xFFFF)] and fake.reads == [0x0F]
    fake.regs[0x0F] = 0x0400 | 0x0200 >> (channel - 1)  # CF1..CF3: bits 9..7
    assert ina.alert()
    fake.regs[0x0F] = 0x0400 | 0x03E0 & ~(0x0200 >> (channel - 1))  # the other channels, SF, WF1
    assert not ina.alert()


def test_alert_over_voltage_refused_and_range():
    ina = INA3221(fake_ina(0x3220))
    with pytest.raises(ValueError) as e:
        ina.alert_over_voltage(5.0)
    assert str(e.value) == "the INA3221 cannot alert on bus over-voltage: it has no bus voltage limit"
    with pytest.raises(ValueError, match=r"outside \[-1.6384, 1.638\) A"):  # 7FF8h (4095): never exceeded
        ina.alert_over_current(1.638)


def test_alert_trips_and_latches_on_the_simulated_chip():
    # 1 A through 0.1 ohm: 2500 codes; margin 0.5 %, 12 codes (gain error up to 0.25 %, 6.5)
    check_alert(rig, "alert_over_current", "amps", 1.0, 0.005, "current_raw", 0x0F, 0x0100, 0x0400, channel=2)


def test_sim_warning_and_sum_alerts_transparent():
    clock, bus = sim_bus(SimINA3221, Fixed(5.0, 1.0), channel=1)  # channel 1: 2500 codes; 2 and 3: 0
    for r, v in ((0x07, 2600 << 3), (0x08, 2400 << 3), (0x0A, -20 << 3 & 0xFFFF), (0x0E, 2400 << 1),
                 (0x0F, 0x4000)):  # critical 1 above, warning 1 and 2 below, sum (SCC1) below
        write(bus, r, v)
    clock.advance(2 * 3 * 2200)  # power-on CONFIG: three channels, 1.1 ms each
    assert reg(bus, 0x0F) & 0x03F8 == 0x0020 | 0x0010 | 0x0040  # WF1, WF2, SF; not CF1


@pytest.mark.parametrize("address", [0x44, 0x3F, 0x45, 0x4F])
def test_address_outside_0x40_0x43_refused(address):
    fake = fake_ina(0x3220, address=address)
    with pytest.raises(ValueError) as e:
        INA3221(fake, address=address)
    assert str(e.value) == ("INA3221 address must be 0x40..0x43 (A0 to GND, VS, SDA or SCL), not 0x%02x"
                            % address)
    assert fake.writes == []


@pytest.mark.parametrize("address", [0x40, 0x41, 0x42, 0x43])
def test_addresses_0x40_0x43_accepted(address):
    fake = fake_ina(0x3220, address=address)  # it answers at that address only
    INA3221(fake, address=address)
    assert fake.writes == [(0x00, 0x8000), (0x00, 0x4527)]  # reset, then configured: channel 1, continuous


@pytest.mark.parametrize("shunt, max_a", [(0.1, 1.7), (0.01, 20.0), (1.0, 0.2)])
def test_shunt_range_overflow_refused(shunt, max_a):
    with pytest.raises(ValueError, match="over the 163.8 mV shunt range: use max_current_a <= ") as e:
        INA3221(fake_ina(0x3220), shunt_ohms=shunt, max_current_a=max_a)
    assert "\n" not in str(e.value)


def test_full_scale_accepted():
    fake = fake_ina(0x3220)
    ina = INA3221(fake, shunt_ohms=0.1, max_current_a=1.638)
    fake.regs[0x01] = 0x7FF8  # the shunt register's full scale: 163.8 mV
    assert ina.current() == pytest.approx(1.638)  # reads the whole range it was given


@pytest.mark.parametrize("kw", [dict(averages=8), dict(conversion_us=1000), dict(shunt_ohms=0),
                                dict(max_current_a=0), dict(channel=0), dict(channel=4)])
def test_bad_arguments_refused(kw):
    with pytest.raises(ValueError) as e:
        INA3221(fake_ina(0x3220), **kw)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("mfr, die", [(0x5449, 0x2260), (0x5449, 0x2270), (0x1234, 0x3220)])
def test_other_chip_refused(mfr, die):
    fake = fake_ina(die)
    fake.regs[0xFE] = mfr
    with pytest.raises(ValueError) as e:
        INA3221(fake)
    assert "0x%04x" % die in str(e.value) and "not an INA3221" in str(e.value)
    assert fake.writes == []


def test_no_answer_is_one_line_oserror():
    with pytest.raises(OSError) as e:
        INA3221(fake_ina(0x3220, address=0x41))
    assert str(e.value) == "INA3221 at 0x40 does not answer: check wiring and address"
    with pytest.raises(OSError) as e:
        INA3221(fake_ina(0x3220, address=0x40), address=0x43)
    assert str(e.value) == "INA3221 at 0x43 does not answer: check wiring and address"


# --- driver against the simulated chip --------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("volts, amps", [(5.0, 1.5), (20.0, 0.5), (3.7, -1.2), (12.0, 0.05), (25.9, 1.6)])
def test_reads_back_source_within_datasheet_accuracy(seed, volts, amps):
    clock, bus, ina = rig(Fixed(volts, amps), seed)
    settle(clock, ina)
    # Electrical Characteristics, max column: shunt offset 80 uV, bus offset 16 mV,
    # shunt and bus voltage gain error 0.25 %; plus one LSB of rounding
    v_tol = volts * 0.0025 + 0.016 + 0.008
    i_tol = abs(amps) * 0.0025 + 80e-6 / 0.1 + ina.current_lsb_a
    assert abs(ina.voltage() - volts) <= v_tol
    assert abs(ina.current() - amps) <= i_tol


@pytest.mark.parametrize("channel", [1, 2, 3])
def test_only_the_chosen_channel_sees_the_source(channel):
    clock, bus, ina = rig(Fixed(12.0, 1.0), channel=channel)
    settle(clock, ina)
    assert ina.voltage() == pytest.approx(12.0, abs=0.06) and ina.current() == pytest.approx(1.0, abs=0.004)
    # the driver disabled the other channels: never converted, they read their reset 0
    for other in {1, 2, 3} - {channel}:
        assert reg(bus, 2 * other - 1) == reg(bus, 2 * other) == 0
    # with every channel enabled the others read 0 V / 0 A within the offsets
    write(bus, 0x00, 0x7127)
    clock.advance(3 * 2200)
    for ch in (1, 2, 3):
        shunt, bus_code = signed13(reg(bus, 2 * ch - 1)), signed13(reg(bus, 2 * ch))
        if ch == channel:
            assert shunt == pytest.approx(2500, abs=10) and bus_code == pytest.approx(1500, abs=6)
        else:
            assert abs(shunt) <= 2 and 0 <= bus_code <= 2


def test_period_sums_enabled_channels_and_cvrf():
    source = Fixed(5.0, 1.0)
    clock, bus, ina = rig(source, averages=4, conversion_us=588)
    t0 = clock.now_us
    assert ina.sample_period_us == 4 * 2 * 588
    assert ina.bus_raw() == 0  # nothing converted yet after reset
    clock.advance(t0 + ina.sample_period_us - 200 - clock.now_us)
    assert not ina.conversion_ready()
    clock.advance(100)
    assert ina.conversion_ready() and not ina.conversion_ready()
    assert ina.bus_raw() == pytest.approx(625, abs=3) and ina.current_raw() == pytest.approx(2500, abs=8)
    source.volts = 6.0
    assert ina.bus_raw() == pytest.approx(625, abs=3)  # registers change only when a conversion completes
    clock.advance(ina.sample_period_us)
    assert ina.conversion_ready() and ina.bus_raw() == pytest.approx(750, abs=3)
    for config, period in (
            (0x7000 | 1 << 9 | 3 << 6 | 2 << 3 | 7, 11040),  # all three channels, AVG 4, bus 588 us,
            # shunt 332 us: 4 * 3 * (588 + 332) us per result
            (0x5000 | 1 << 9 | 3 << 6 | 2 << 3 | 5, 2656)):  # shunt only, channels 1 and 3: 4 * 2 * 332 us
        write(bus, 0x00, config)
        t0 = clock.now_us
        clock.advance(t0 + period - 200 - clock.now_us)
        assert not ina.conversion_ready()
        clock.advance(100)
        assert ina.conversion_ready()


def test_clipping_at_full_scale():
    source = Fixed(40.0, 2.0)  # 200 mV across 0.1 ohm, past 163.8 mV; bus past 32.76 V
    clock, bus, ina = rig(source, shunt_ohms=0.1, max_current_a=1.6)
    settle(clock, ina)
    assert ina.current_raw() == 4095 and ina.bus_raw() == 4095
    assert reg(bus, 0x01) == 0x7FF8 and reg(bus, 0x02) == 0x7FF8
    source.amps = -2.0
    settle(clock, ina)
    assert ina.current_raw() == -4096 and reg(bus, 0x01) == 0x8000


def test_sim_reset_values_limits_modes_and_sum():
    source = Fixed(5.0, 0.5)
    clock, bus = sim_bus(SimINA3221, source, channel=1)
    resets = {0x00: 0x7127, 0x07: 0x7FF8, 0x08: 0x7FF8, 0x09: 0x7FF8, 0x0A: 0x7FF8, 0x0B: 0x7FF8,
              0x0C: 0x7FF8, 0x0D: 0, 0x0E: 0x7FFE, 0x0F: 0x0002, 0x10: 0x2710, 0x11: 0x2328,
              0xFE: 0x5449, 0xFF: 0x3220}
    assert {r: reg(bus, r) for r in resets} == resets
    for r in (0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0E, 0x10, 0x11):  # limits: stored
        write(bus, r, 0x1234 + r)
        assert reg(bus, r) == 0x1234 + r
    write(bus, 0x0D, 0x1111)  # the shunt-voltage sum is read-only
    assert reg(bus, 0x0D) == 0
    write(bus, 0x0F, 0xFFFF)  # only SCC1..3, WEN and CEN are writable
    assert reg(bus, 0x0F) & 0xFC03 == 0x7C02
    clock.advance(3 * 2200)  # power-on default: three channels, AVG 1, 1.1 ms each
    assert signed13(reg(bus, 0x01)) == pytest.approx(1250, abs=6)
    assert signed15(reg(bus, 0x0D)) == pytest.approx(1250, abs=10)  # SCC1..3 set: sum of the shunts (bits 15..1)
    write(bus, 0x00, 0x8000)  # RST: power-on values
    assert (reg(bus, 0x00), reg(bus, 0x07), reg(bus, 0x0F)) == (0x7127, 0x7FF8, 0x0002)
    write(bus, 0x00, 0x7000)  # power-down
    before = reg(bus, 0x02)
    source.volts = 9.0
    clock.advance(100000)
    assert reg(bus, 0x02) == before and not reg(bus, 0x0F) & 0x0001
    write(bus, 0x00, 0x4003)  # channel 1, triggered shunt+bus, 140 us each: one conversion
    clock.advance(280)
    assert reg(bus, 0x0F) & 0x0001 and signed13(reg(bus, 0x02)) == pytest.approx(1125, abs=4)
    source.volts = 3.0
    clock.advance(100000)
    assert not reg(bus, 0x0F) & 0x0001 and signed13(reg(bus, 0x02)) == pytest.approx(1125, abs=4)
    write(bus, 0x00, 0x4006)  # bus only, continuous: shunt keeps its last value
    shunt = reg(bus, 0x01)
    source.amps = 1.0
    clock.advance(1000)
    assert signed13(reg(bus, 0x02)) == pytest.approx(375, abs=4) and reg(bus, 0x01) == shunt
    write(bus, 0x00, 0x0007)  # no channel enabled: nothing converts
    reg(bus, 0x0F)  # clears CVRF (a CONFIG write that disables every channel does not)
    clock.advance(100000)
    assert not reg(bus, 0x0F) & 0x0001


def test_sim_refuses_impossible_address_and_channel():
    clock = VirtualClock()
    with pytest.raises(ValueError):
        SimINA3221(clock, Fixed(0, 0), address=0x44)
    with pytest.raises(ValueError):
        SimINA3221(clock, Fixed(0, 0), channel=4)


def test_averaging_reduces_noise():
    fast = spread(rig, "current_raw", averages=1, conversion_us=140)
    assert fast > spread(rig, "current_raw", averages=64, conversion_us=1100) <= 1


def test_seed_sets_errors_reproducibly():
    def codes(seed):
        return seed_codes(rig, seed, 12.0, 1.0, 140, "current_raw")
    assert codes(7) == codes(7) != codes(8)


def test_same_seed_same_registers_under_micropython():
    got, want = micropython_checksums(MP_SCRIPT, "ina3221")
    assert got == want
    assert len({line.split()[3] for line in want}) == len(want)
