"""SeqOrder: frames handed on in the device's order, holes asked for, GONE skipped."""
from collections import namedtuple

from pbgrade.reorder import HOLD_LIMIT, SeqOrder

Msg = namedtuple("Msg", "seq")


def seqs(msgs):
    return [m.seq for m in msgs]


def test_in_order_frames_pass_straight_through():
    order = SeqOrder()
    assert [seqs(order.push(Msg(s))) for s in (7, 8, 9)] == [[7], [8], [9]]
    assert order.missing() == [] and order.lost == 0


def test_a_hole_holds_later_frames_until_it_is_filled():
    order = SeqOrder(expected=10)
    assert seqs(order.push(Msg(10))) == [10]
    assert order.push(Msg(12)) == [] and order.push(Msg(14)) == []
    assert order.missing() == [(11, 1), (13, 1)]
    assert seqs(order.push(Msg(11))) == [11, 12]
    assert seqs(order.push(Msg(13))) == [13, 14] and order.lost == 0


def test_duplicates_and_old_frames_are_dropped():
    order = SeqOrder(expected=5)
    order.push(Msg(5))
    order.push(Msg(7))
    assert order.push(Msg(5)) == [] and order.push(Msg(7)) == []
    assert order.duplicates == 2


def test_gone_frames_are_skipped_and_counted_lost():
    order = SeqOrder(expected=0)
    order.push(Msg(3))
    assert order.missing() == [(0, 3)]
    assert seqs(order.gone(0, 2)) == [] and order.missing() == [(2, 1)]
    assert seqs(order.push(Msg(2))) == [2, 3] and order.lost == 2


def test_numbering_wraps_at_65536():
    order = SeqOrder(expected=65534)
    assert order.push(Msg(0)) == []
    assert order.missing() == [(65534, 2)]
    assert seqs(order.push(Msg(65535))) == [] and seqs(order.push(Msg(65534))) == [65534, 65535, 0]


def test_flush_gives_up_the_holes_at_the_end():
    order = SeqOrder(expected=0)
    for s in (2, 3, 6):
        order.push(Msg(s))
    assert seqs(order.flush()) == [2, 3, 6] and order.lost == 4


def test_a_hole_is_given_up_when_too_much_waits_behind_it():
    order = SeqOrder(expected=0)
    out = []
    for s in range(1, HOLD_LIMIT + 3):
        out += order.push(Msg(s))
    assert seqs(out) == list(range(1, HOLD_LIMIT + 3)) and order.lost == 1


def test_recovered_counts_holes_filled_not_holes_given_up():
    order = SeqOrder(expected=0)
    for s in (0, 1, 2, 3, 4, 6, 7, 9):  # holes at 5 and 8
        order.push(Msg(s))
    order.gone(8, 1)
    order.gone(5, 1)
    assert (order.recovered, order.lost) == (0, 2)  # nothing came back
    for s in (11, 12, 10):  # 10 after 12: it filled a hole
        order.push(Msg(s))
    order.push(Msg(12))  # a duplicate is not a recovery
    assert (order.recovered, order.duplicates) == (1, 1)
