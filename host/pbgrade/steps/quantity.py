"""What a step measures, as a grade explains it: the quantity's display name, how its value
and threshold read, and the unit a profile may write its threshold in.

Names and sentences are marked for translation (N_) and translated where they are shown: a record keeps
its reasons in English (explained with `str`, no translation), a report or a verdict line renders them
again from the record's checks in the language in use (explained with i18n._). One template, both languages.
Names follow GB/T 35590-2017 as ../shared/reference/standards.md summarises it (额定容量 rated capacity,
有效输出容量 effective output capacity, 转换效率 conversion efficiency; 输出电压, 纹波和噪声, 过流保护,
短路保护, 过放电保护 among its test items)."""
from dataclasses import dataclass
from typing import Callable

from ..i18n import N_
from ..label import Label


@dataclass(frozen=True)
class Quantity:
    name: str  # as a person reads it, marked N_(): the report's tables and the reasons name it so
    # (value, threshold, label, translate) -> (what was measured, the threshold as shown); translate: str or i18n._
    explain: Callable[[float, float, Label, Callable[[str], str]], tuple[str, str]]
    unit: str = ""  # of a threshold written with its unit ("4.75 V"); "%" for a fraction, "" for a count


def shown(value, threshold, unit, decimals, scale=1.0) -> tuple[str, str]:
    """Value and threshold as printed, with enough decimals that a value on the wrong side of its
    threshold never prints equal to it ("100 %; needs at least 100 %")."""
    value, threshold = value * scale, threshold * scale
    while decimals < 4 and value != threshold and round(value, decimals) == round(threshold, decimals):
        decimals += 1
    return f"{value:,.{decimals}f}{unit}", f"{threshold:,.{decimals}f}{unit}"


def voltage_ratio(template):
    """A share of the rated voltage, shown in volts; template: the sentence around {value}."""
    def explain(value, threshold, label, translate):
        rated = label.rated_output_v
        value_shown, limit = shown(value, threshold, " V", 2, rated)
        return translate(template).format(value=value_shown), translate(
            N_("{limit} ({percent} % of the rated {rated} V)")).format(limit=limit, percent=f"{threshold * 100:g}",
                                                                       rated=f"{rated:g}")
    return explain


def plain(template, unit, decimals, scale=1.0):
    """A number with its unit; template: the sentence around {value}."""
    def explain(value, threshold, label, translate):
        value_shown, limit = shown(value, threshold, unit, decimals, scale)
        return translate(template).format(value=value_shown), limit
    return explain
