"""Batch statistics against numbers worked out by hand or published, not recomputed by the same formulas."""
import pytest

from pbgrade.stats import Bin, Summary, cpk, histogram, summarize, wilson_interval

RATIOS = [0.95, 0.97, 1.01, 0.88]


def test_summary_of_four_capacity_ratios():
    # mean = 3.81 / 4 = 0.9525; deviations -0.0025, 0.0175, 0.0575, -0.0725;
    # squares 0.00000625 + 0.00030625 + 0.00330625 + 0.00525625 = 0.008875;
    # sample variance 0.008875 / 3 = 0.0029583; s = 0.0543906
    summary = summarize(RATIOS)
    assert summary.n == 4
    assert summary.mean == pytest.approx(0.9525, abs=1e-12)
    assert summary.stdev == pytest.approx(0.0543906, abs=1e-7)
    assert (summary.low, summary.high) == (0.88, 1.01)


def test_one_value_has_no_spread_and_none_has_nothing():
    assert summarize([0.9]).stdev is None
    assert summarize([]) == Summary(0, None, None, None, None)


def test_one_sided_cpk_against_a_lower_limit():
    # (0.9525 - 0.9) / (3 x 0.0543906) = 0.0525 / 0.1631718 = 0.32175
    assert cpk(0.9525, 0.0543906, lower=0.9) == pytest.approx(0.32175, abs=1e-5)


def test_cpk_takes_the_nearer_of_two_limits_and_each_side_alone():
    # 4.9, 5.0, 5.1: mean 5.0, s = sqrt((0.01 + 0 + 0.01) / 2) = 0.1, 3s = 0.3
    summary = summarize([4.9, 5.0, 5.1])
    assert summary.stdev == pytest.approx(0.1)
    assert cpk(summary.mean, summary.stdev, lower=4.5, upper=5.25) == pytest.approx(0.25 / 0.3)  # 0.8333, the upper
    assert cpk(summary.mean, summary.stdev, lower=4.5) == pytest.approx(1.66667, abs=1e-5)  # 0.5 / 0.3
    assert cpk(summary.mean, summary.stdev, upper=5.3) == pytest.approx(1.0)  # 0.3 / 0.3


@pytest.mark.parametrize("successes, trials, low, high", [
    # Newcombe, "Two-sided confidence intervals for the single proportion: comparison of seven
    # methods", Statistics in Medicine 17 (1998) 857-872, Table II, method 3 (score, no continuity correction)
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
    (20, 20, 0.8389, 1.0),  # 0/20 mirrored
])
def test_wilson_interval_matches_newcombes_table(successes, trials, low, high):
    assert wilson_interval(successes, trials) == pytest.approx((low, high), abs=5e-5)


def test_histogram_lays_an_edge_on_the_limit():
    # span 0.88 .. 1.01 = 0.13 over ~10 bins: 0.013, rounded up to 0.02; edges ... 0.98, 1.00 (the limit), 1.02
    bins = histogram(RATIOS, (1.0,))
    assert [round(b.low, 9) for b in bins] == [0.88, 0.90, 0.92, 0.94, 0.96, 0.98, 1.00]
    assert [b.count for b in bins] == [1, 0, 0, 1, 1, 0, 1]
    assert bins[-1].high == pytest.approx(1.02)


def test_a_value_on_the_limit_counts_above_it_and_a_hair_under_counts_under():
    bins = histogram([0.9, 0.9 - 1e-12, 0.95], (0.9,))
    on_limit = next(k for k, b in enumerate(bins) if b.low == 0.9)
    assert bins[on_limit].count == 1 and bins[on_limit - 1].count == 1


def test_histogram_without_limits_starts_on_a_round_edge():
    # 0.901 .. 0.947: raw width 0.0046, rounded up to 0.005; first edge floor(0.901 / 0.005) x 0.005 = 0.9
    bins = histogram([0.901, 0.912, 0.913, 0.947])
    assert bins[0].low == pytest.approx(0.9) and bins[0].high == pytest.approx(0.905)
    assert sum(b.count for b in bins) == 4 and bins[-1].count == 1 and bins[-1].low == pytest.approx(0.945)


def test_one_value_makes_one_bin():
    assert histogram([0.5, 0.5]) == [Bin(0.5, 0.505, 2)]


def test_one_value_without_limits_makes_one_bin():
    # a quantity judged against no limit, measured once: 4.995 alone; width 4.995 / 100 = 0.04995, rounded up
    # to 0.05; first edge floor(4.995 / 0.05) x 0.05 = 4.95
    [only] = histogram([4.995])
    assert only.count == 1 and only.low == pytest.approx(4.95) and only.high == pytest.approx(5.0)
