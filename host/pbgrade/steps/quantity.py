"""What a step measures, as a grade explains it: the quantity's noun, how its value
and threshold read, and the unit a profile may write its threshold in."""
from dataclasses import dataclass
from typing import Callable

from ..label import Label


@dataclass(frozen=True)
class Quantity:
    noun: str
    # (value, threshold, label) -> (what was measured, the threshold as shown)
    explain: Callable[[float, float, Label], tuple[str, str]]
    unit: str = ""  # of a threshold written with its unit ("4.75 V"); "%" for a fraction, "" for a count


def shown(value, threshold, unit, decimals, scale=1.0) -> tuple[str, str]:
    """Value and threshold as printed, with enough decimals that a value on the wrong side of its
    threshold never prints equal to it ("100 %; needs at least 100 %")."""
    value, threshold = value * scale, threshold * scale
    while decimals < 4 and value != threshold and round(value, decimals) == round(threshold, decimals):
        decimals += 1
    return f"{value:,.{decimals}f}{unit}", f"{threshold:,.{decimals}f}{unit}"


def voltage_ratio(verb, where="under load"):
    def explain(value, threshold, label):
        rated = label.rated_output_v
        value_shown, limit = shown(value, threshold, " V", 2, rated)
        return f"output {verb} {'to ' if verb != 'read' else ''}{value_shown} {where}", \
            f"{limit} ({threshold * 100:g} % of the rated {rated:g} V)"
    return explain


def plain(template, unit, decimals, scale=1.0):
    def explain(value, threshold, label):
        value_shown, limit = shown(value, threshold, unit, decimals, scale)
        return template.format(value_shown), limit
    return explain
