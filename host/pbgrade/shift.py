"""A station's shift as its operator sees it, in the station's language: a channel's name, its verdict
word, the shift's tally, and the error a station refuses with. The terminal views (production_line) and
the browser panel (web/) both show them.
"""
from collections import Counter

from . import wording
from .i18n import _, ngettext
from .record import verdict_kind


class StationError(RuntimeError):
    """A station session cannot start, or a channel cannot take a serial; the message says what to fix."""


def channel_name(channel):
    return _("ch{number}").format(number=channel.number)


def verdict_word(channel):
    return channel.verdict and _(wording.GRADES.get(channel.verdict, channel.verdict))


def tally(records) -> str:
    """A session's units as the operator reads them: how many passed and failed of those given a pass/fail
    or tier verdict (the tiers' grades counted too); a screen's findings by name, for CONSISTENT is not a
    pass and NEEDS A FULL TEST not a fail."""
    kinds = [verdict_kind(r) for r in records]
    parts = [ngettext("{count} unit tested", "{count} units tested", len(records)).format(count=len(records))]
    graded = [r for r, kind in zip(records, kinds) if kind != "screen"]
    if graded:
        passed = sum(r["passed"] for r in graded)
        parts.append(_("{passed} passed, {failed} failed").format(passed=passed, failed=len(graded) - passed))
    for kind, word in (("tiers", _("grades {counts}")), ("screen", "{counts}")):
        counts = Counter(r["grade"] for r, k in zip(records, kinds) if k == kind)
        if counts:
            parts.append(word.format(counts=_(", ").join(f"{_(wording.GRADES.get(grade, grade))} {count}"
                                                          for grade, count in sorted(counts.items()))))
    return _(", ").join(parts)
