"""Energy/charge integration and voltage statistics, streamed batch by batch."""
import numpy as np
import pytest

from pbgrade.integrate import Integrator
from pbgrade.voltage import VoltageStats

PERIOD_US = 10_000  # 100 Hz


def feed(sink, batches):
    for batch in batches:
        sink.add(*batch)
    return sink


def split(t, v, i, cuts):
    """The same stream cut into batches at the given sample indices."""
    return list(zip(np.split(t, cuts), np.split(v, cuts), np.split(i, cuts)))


def steady(seconds, volts, amps, start_us=0):
    t = start_us + np.arange(round(seconds * 1e6 / PERIOD_US) + 1, dtype=np.int64) * PERIOD_US
    return t, np.full(t.size, float(volts)), np.full(t.size, float(amps))


def test_constant_signal_is_exact():
    # 5 V x 2 A for one hour: 10 Wh, 2000 mAh
    integ = feed(Integrator(PERIOD_US), [steady(3600, 5.0, 2.0)])
    assert integ.energy_wh == 10.0
    assert integ.charge_mah == 2000.0
    assert integ.duration_s == integ.span_s == 3600.0
    assert integ.samples == 360_001
    assert integ.gaps == [] and integ.samples_lost == 0


def test_linear_current_ramp_is_exact():
    # i ramps 0 -> 3 A over 100 s at 5 V: charge = 1/2 x 3 A x 100 s = 150 C, energy = 750 J
    t = np.arange(10_001, dtype=np.int64) * PERIOD_US
    i = np.linspace(0.0, 3.0, t.size)
    integ = feed(Integrator(PERIOD_US), [(t, np.full(t.size, 5.0), i)])
    assert integ.charge_mah == pytest.approx(150 / 3.6, rel=1e-9)
    assert integ.energy_wh == pytest.approx(750 / 3600, rel=1e-9)


def test_interval_across_batch_boundary_counts():
    integ = Integrator(PERIOD_US)
    integ.add(np.array([0]), np.array([5.0]), np.array([1.0]))
    assert integ.energy_wh == 0.0
    integ.add(np.array([PERIOD_US]), np.array([5.0]), np.array([3.0]))
    # trapezoid: (5 + 15) / 2 W x 0.01 s = 0.1 J; (1 + 3) / 2 A x 0.01 s = 0.02 C
    assert integ.energy_wh == pytest.approx(0.1 / 3600, rel=1e-12)
    assert integ.charge_mah == pytest.approx(0.02 / 3.6, rel=1e-12)
    assert integ.span_s == 0.01


def test_result_identical_in_one_batch_or_many():
    rng = np.random.default_rng(7)
    n = 20_000
    t = np.cumsum(rng.choice([PERIOD_US, PERIOD_US, PERIOD_US, 3 * PERIOD_US], n)).astype(np.int64)
    v = 5 + 0.1 * rng.standard_normal(n)
    i = 2 + 0.5 * rng.standard_normal(n)
    whole = feed(Integrator(PERIOD_US), [(t, v, i)]).summary()
    cuts = np.sort(rng.choice(np.arange(1, n), 300, replace=False))
    assert feed(Integrator(PERIOD_US), split(t, v, i, cuts)).summary() == whole
    assert feed(Integrator(PERIOD_US), split(t, v, i, np.arange(1, n))).summary() == whole


def test_gap_is_not_bridged_but_reported():
    integ = Integrator(PERIOD_US)
    # samples at 0, 10, 20 ms, then 60, 70 ms: 20 -> 60 ms is a gap holding 3 lost samples
    t = np.array([0, 10_000, 20_000, 60_000, 70_000], dtype=np.int64)
    integ.add(t, np.full(5, 5.0), np.full(5, 2.0))
    assert integ.gaps == [(20_000, 60_000)]
    assert integ.duration_s == pytest.approx(0.03)
    assert integ.span_s == pytest.approx(0.07)
    assert integ.gap_s == pytest.approx(0.04)
    assert integ.samples_lost == 3
    assert integ.energy_wh == pytest.approx(10 * 0.03 / 3600, rel=1e-12)
    assert integ.gap_energy_estimate_wh == pytest.approx(10 * 0.04 / 3600, rel=1e-12)
    assert integ.gap_charge_estimate_mah == pytest.approx(2 * 0.04 / 3.6, rel=1e-12)


def test_gap_across_batch_boundary_and_threshold():
    integ = Integrator(PERIOD_US, gap_factor=1.5)
    integ.add(np.array([0, 15_000]), np.ones(2), np.ones(2))  # exactly 1.5 periods: still an interval
    integ.add(np.array([30_001]), np.ones(1), np.ones(1))  # just over: a gap, across the boundary
    assert integ.gaps == [(15_000, 30_001)]
    assert integ.duration_s == pytest.approx(0.015)


def test_empty_batch_is_ignored_and_time_must_not_go_back():
    integ = Integrator(PERIOD_US)
    integ.add(np.array([], dtype=np.int64), np.array([]), np.array([]))
    assert integ.samples == 0 and integ.span_s == 0.0
    integ.add(np.array([100]), np.array([5.0]), np.array([1.0]))
    with pytest.raises(ValueError, match="backwards"):
        integ.add(np.array([50]), np.array([5.0]), np.array([1.0]))


def with_edges(integ, on_us, batches, off):
    """Integrate batches between the load's switch-on at on_us and its switch-off off = (t_us, v, i)."""
    integ.load_on(on_us)
    feed(integ, batches)
    integ.load_off(*off)
    return integ


def test_edges_span_the_whole_time_the_load_was_on():
    # 5 V x 2 A on from -1 period to 1 s + 4 ms: samples at 0 .. 1 s, the switch-off 4 ms after the last
    t, v, i = steady(1.0, 5.0, 2.0)
    integ = with_edges(Integrator(PERIOD_US), -PERIOD_US, [(t, v, i)], (1_004_000, 5.0, 2.0))
    assert integ.charge_mah == pytest.approx(2.0 * 1.014 / 3.6, rel=1e-12)
    assert integ.energy_wh == pytest.approx(10.0 * 1.014 / 3600, rel=1e-12)
    assert integ.duration_s == integ.span_s == pytest.approx(1.014)
    assert integ.samples == t.size and integ.gaps == [] and integ.samples_lost == 0


def test_the_first_reading_holds_back_to_the_switch_on():
    # the switch-on edge's own reading (the output unloaded) is not what flowed: the first sample's is
    integ = with_edges(Integrator(PERIOD_US), -PERIOD_US,
                       [(np.array([0, PERIOD_US]), np.array([5.0, 5.0]), np.array([1.0, 3.0]))],
                       (PERIOD_US, 5.0, 3.0))
    # 1 A for the first period, then the trapezoid 1 -> 3 A: 0.01 + 0.02 C
    assert integ.charge_mah == pytest.approx(0.03 / 3.6, rel=1e-12)


def test_edges_in_one_batch_or_many_and_without_samples():
    t, v, i = steady(2.0, 5.0, 1.5)
    rng = np.random.default_rng(3)
    i = i + rng.normal(0, 0.01, i.size)
    one = with_edges(Integrator(PERIOD_US), -PERIOD_US, [(t, v, i)], (2_000_500, 5.0, 1.5))
    many = with_edges(Integrator(PERIOD_US), -PERIOD_US, split(t, v, i, [1, 7, 150]), (2_000_500, 5.0, 1.5))
    assert (one.energy_wh, one.charge_mah) == (many.energy_wh, many.charge_mah)
    # STOP before the first slot: the switch-off reading stands for the whole time
    none = with_edges(Integrator(PERIOD_US), -PERIOD_US, [], (-PERIOD_US // 2, 5.0, 2.0))
    assert none.charge_mah == pytest.approx(2.0 * 0.005 / 3.6, rel=1e-12) and none.samples == 0


def test_slots_lost_next_to_an_edge_are_not_counted_here():
    # frames lost at the start (slots 0-2) and before the switch-off: gaps, never bridged; how many slots they
    # held is the device's slot count's to say (Evaluation.samples_lost), an edge is not on the slot grid
    t = np.arange(3, 11, dtype=np.int64) * PERIOD_US
    integ = with_edges(Integrator(PERIOD_US), -PERIOD_US, [(t, np.full(t.size, 5.0), np.full(t.size, 1.0))],
                       (14 * PERIOD_US + 700, 5.0, 1.0))
    assert integ.gaps == [(-PERIOD_US, 3 * PERIOD_US), (10 * PERIOD_US, 14 * PERIOD_US + 700)]
    assert integ.samples_lost == 0
    assert integ.charge_mah == pytest.approx(1.0 * 7 * PERIOD_US / 1e6 / 3.6, rel=1e-12)
    mid = Integrator(PERIOD_US)
    mid.add(np.array([0, 4 * PERIOD_US]), np.array([5.0, 5.0]), np.array([1.0, 1.0]))
    assert mid.samples_lost == 3  # between samples: slots 1-3


def test_state_stays_flat():
    integ = Integrator(PERIOD_US)
    for k in range(50):
        integ.add(*steady(10, 5.0, 1.0, start_us=k * 10_000_000 + PERIOD_US))
    assert not any(isinstance(value, np.ndarray) for value in vars(integ).values())


# -- voltage under load ------------------------------------------------------------------------------

def discharge(*segments):
    """Concatenated (seconds, volts, amps) segments at the nominal period."""
    v = np.concatenate([np.full(round(s * 1e6 / PERIOD_US), float(volts)) for s, volts, _ in segments])
    i = np.concatenate([np.full(round(s * 1e6 / PERIOD_US), float(amps)) for s, _, amps in segments])
    return v, i


def voltage_stats():
    return VoltageStats(PERIOD_US, min_current_a=0.5, cutoff_v=3.0, window_s=5.0)


def test_sustained_min_ignores_one_transitional_sample():
    v, i = discharge((60, 5.0, 2.0), (0.01, 4.1, 2.0), (2, 0.2, 0.0))
    stats = feed(voltage_stats(), [(v, i)])
    assert stats.sustained_min_v == 5.0
    assert stats.mean_v == pytest.approx((6000 * 5.0 + 4.1) / 6001)
    assert stats.loaded_samples == 6001


def test_sustained_min_catches_a_ten_second_sag():
    v, i = discharge((30, 5.0, 2.0), (10, 4.6, 2.0), (30, 5.0, 2.0))
    stats = feed(voltage_stats(), [(v, i)])
    assert stats.sustained_min_v == 4.6
    assert stats.sustained_max_v == 5.0


def test_sustained_extremes_identical_in_one_batch_or_many():
    rng = np.random.default_rng(3)
    v, i = discharge((30, 5.0, 2.0), (7, 4.7, 2.0), (3, 5.0, 0.1), (20, 5.1, 2.0))
    v = v + 0.02 * rng.standard_normal(v.size)
    whole = feed(voltage_stats(), [(v, i)])
    cuts = np.sort(rng.choice(np.arange(1, v.size), 200, replace=False))
    pieces = feed(voltage_stats(), zip(np.split(v, cuts), np.split(i, cuts)))
    assert (pieces.sustained_min_v, pieces.sustained_max_v) == (whole.sustained_min_v, whole.sustained_max_v)
    assert pieces.sustained_min_v == pytest.approx(4.7, abs=0.01)


def test_unloaded_samples_do_not_count():
    v, i = discharge((10, 5.2, 0.0), (20, 5.0, 2.0), (10, 2.5, 2.0))
    stats = feed(voltage_stats(), [(v, i)])
    assert stats.sustained_max_v == 5.0 and stats.sustained_min_v == 5.0
    assert stats.loaded_samples == 2000


def test_run_shorter_than_window_uses_its_median():
    v, i = discharge((1, 4.9, 2.0), (1, 5.0, 2.0), (1, 5.1, 2.0))
    stats = feed(voltage_stats(), [(v, i)])
    assert stats.sustained_min_v == stats.sustained_max_v == 5.0
    assert feed(voltage_stats(), []).sustained_min_v is None


def test_edges_out_of_order_are_ignored():
    """No device sends them, but a frame with a valid CRC may say anything: never an error, never time backwards."""
    t, v, i = steady(0.1, 5.0, 1.0, start_us=PERIOD_US)
    integ = Integrator(PERIOD_US)
    integ.load_on(5 * PERIOD_US)  # after the first sample: not the switch-on
    integ.add(t, v, i)
    integ.load_on(0)  # after a sample
    integ.load_off(0, 5.0, 1.0)  # before the latest sample
    assert integ.span_s == 0.1 and integ.charge_mah == pytest.approx(1.0 * 0.1 / 3.6, rel=1e-12)
    integ.load_off(12 * PERIOD_US, 5.0, 1.0)
    integ.add(*steady(0.05, 5.0, 1.0, start_us=5 * PERIOD_US))  # after the switch-off: not integrated
    integ.load_off(20 * PERIOD_US, 5.0, 1.0)  # a second switch-off
    assert integ.span_s == 0.11 and integ.samples == t.size
