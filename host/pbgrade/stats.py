"""Batch statistics a factory quality engineer reads: yield with its uncertainty, spread, capability
(Cpk) and a histogram. Pure functions of numbers: no database, no profiles, no printing."""
import math
import statistics
from dataclasses import dataclass

Z95 = 1.959963984540054  # the standard normal quantile for a two-sided 95 % interval


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (Wilson 1927; Newcombe 1998, method 3).

    Not the textbook p ± z·sqrt(p(1-p)/n): that one collapses to zero width at 100 % yield
    (48 of 48 would claim certainty) and leaves [0, 1] near it, where small batches often are.
    """
    p = successes / trials
    shrink = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / shrink
    half = z / shrink * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float | None
    stdev: float | None  # sample standard deviation (n - 1): the batch estimates the process
    low: float | None
    high: float | None


def summarize(values: list[float]) -> Summary:
    if not values:
        return Summary(0, None, None, None, None)
    stdev = statistics.stdev(values) if len(values) > 1 else None
    return Summary(len(values), statistics.fmean(values), stdev, min(values), max(values))


def cpk(mean: float, stdev: float, lower: float | None = None, upper: float | None = None) -> float:
    """Process capability: how many 3-sigma spreads fit between the mean and the nearer limit.

    With one limit only, its one-sided index ((mean - LSL) / 3s or (USL - mean) / 3s): a capacity
    that may be as high as it likes has no upper side to be near. Needs a limit and stdev > 0.
    """
    sides = [(mean - lower) / (3 * stdev)] if lower is not None else []
    if upper is not None:
        sides.append((upper - mean) / (3 * stdev))
    return min(sides)


@dataclass(frozen=True)
class Bin:
    low: float  # included
    high: float  # excluded
    count: int


def histogram(values: list[float], limits: tuple[float, ...] = (), target_bins: int = 10) -> list[Bin]:
    """Equal bins of a round width (1, 2 or 5 times a power of ten) covering the values and the limits.

    One edge falls exactly on the first limit, so every bin lies wholly on one side of it and the
    bars below a lower limit count exactly the runs that failed it.
    """
    low, high = min([*values, *limits]), max([*values, *limits])
    width = _round_width((high - low) / target_bins or abs(low) / 100 or 1.0)
    anchor = limits[0] if limits else math.floor(low / width) * width
    # bins under the anchor: the rounding keeps a float hair from adding an empty bin, the int() keeps
    # a bin for a value a hair under the limit
    below = max(math.ceil(round((anchor - low) / width, 9)), int(low < anchor))
    counts = [0] * (below + math.floor(round((high - anchor) / width, 9)) + 1)
    for value in values:
        # the sign of value - anchor is exact, so a value a hair under a limit counts under it;
        # the clamp absorbs rounding at the outer edges only
        counts[min(max(below + math.floor((value - anchor) / width), 0), len(counts) - 1)] += 1
    return [Bin(anchor + (k - below) * width, anchor + (k - below + 1) * width, n) for k, n in enumerate(counts)]


def _round_width(raw: float) -> float:
    """The smallest of 1, 2, 5 x 10^k at least `raw`: edges a reader can read."""
    power = 10.0 ** math.floor(math.log10(raw))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= raw * (1 - 1e-9))
