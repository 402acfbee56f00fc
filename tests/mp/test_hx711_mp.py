# HX711 driver against the simulated chip under the real micropython: the gain set by pulse count, tare
# and calibration with a known weight, power-down by PD_SCK held high, the noise at the datasheet's level,
# and a chip that never says ready.
from clock import VirtualClock
from hx711 import HX711
from hx711_sim import Pin, SimHX711
from mpcases import run


def rig(grams=222.0, **kw):
    clock = VirtualClock()
    load = {"g": grams}
    chip = SimHX711(clock, lambda: load["g"], **kw)
    return clock, chip, load


def driver(clock, chip, **kw):
    return HX711(chip.pd_sck, chip.dout, clock.advance, **kw)


def test_gain_by_pulse_count():
    for channel, gain in ((b"A", 128), (b"B", 32), (b"A", 64)):
        clock, chip, _ = rig()
        driver(clock, chip, channel=channel, gain=gain)
        assert chip.gain == gain, (channel, gain, chip.gain)


def test_tare_and_calibrate_with_a_known_weight():
    clock, chip, load = rig(grams=0.0)
    scale = driver(clock, chip)
    tare = scale.average(16)
    load["g"] = 500.0
    counts_per_g = (scale.average(16) - tare) / 500.0
    assert abs(counts_per_g / chip.counts_per_g - 1) < 0.001, counts_per_g
    load["g"] = 128.0  # fake-20000
    grams = (scale.average(16) - tare) / counts_per_g
    assert abs(grams - 128.0) < 0.2, grams


def test_reads_wait_for_ready_at_the_output_rate():
    clock, chip, _ = rig(rate_hz=10)
    scale = driver(clock, chip)
    start = clock.now_us
    scale.average(10)
    assert 0.95e6 <= clock.now_us - start <= 1.05e6, clock.now_us - start


def test_noise_is_the_datasheets():
    clock, chip, _ = rig()
    scale = driver(clock, chip)
    xs = [scale.read() for _ in range(200)]
    mean = sum(xs) / len(xs)
    rms = (sum((x - mean) ** 2 for x in xs) / len(xs)) ** 0.5
    assert 15 < rms < 28, rms  # 50 nV rms on 2.38 nV per count: 21 counts


def test_negative_reading_is_sign_extended():
    clock, chip, _ = rig(grams=0.0, offset_counts=-5000)
    assert -5200 < driver(clock, chip).average(8) < -4800


def test_power_down_and_reset():
    clock, chip, _ = rig()
    scale = driver(clock, chip, channel=b"A", gain=64)
    scale.power_down()
    assert not chip.powered and not scale.ready()
    scale.power_up()
    assert chip.powered and chip.gain == 128  # reset: A/128 until the next read's pulses
    scale.read()
    assert chip.gain == 64


def test_not_ready_is_one_line():
    clock = VirtualClock()
    never = Pin(read=lambda: 1)
    sck = Pin(write=lambda v: None)
    try:
        HX711(sck, never, clock.advance, timeout_ms=50)
    except OSError as e:
        assert "not ready" in str(e)
    else:
        raise AssertionError("no error")


run(globals())
