"""Every sample of a run, as plots and exports take it: the step a batch
belongs to, and Envelope, which bounds what a plot keeps.

The samples themselves come from replay.replay: the journal's bytes go
through the same Evaluation that graded the run (the order, the duplicates,
the calibration), so a plot or an export shows exactly the samples that were
integrated, a batch at a time, however long the run.
"""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class JournalStep:
    """A step of a run as its journal names it, with its sample period: not a method's step (method.Step)."""

    number: int  # as in the journal's rx-NUMBER-TYPE.bin: 1 is the method's first step
    type: str
    period_s: float

    @property
    def label(self):
        """The step as the journal names it (4-discharge): unambiguous when a method repeats a step type."""
        return f"{self.number}-{self.type}"


class RunTimeline:
    """One time axis for a whole run, for exports that lay its steps end to end.

    The device numbers each step's sample slots from 0 (protocol/SPEC.md), so a step starts here where
    the one before ended on the device's clock: its last sample's slot + 1. The host's turnaround between
    steps (its commands; the journal keeps no clock for it) is not on this axis, so each later step lies
    that much earlier than it ran."""

    def __init__(self):
        self._step = None
        self._start_us = 0  # the step being read, from the run's first sample slot
        self._end_us = 0  # its end so far: its last sample's slot + 1

    def run_us(self, step, t_s):
        """A batch's times (t_s from its step's start) in whole microseconds from the first step's start."""
        t_us = np.rint(np.asarray(t_s) * 1e6).astype(np.int64)
        if step != self._step:
            self._step, self._start_us = step, self._end_us
        if t_us.size:
            self._end_us = self._start_us + int(t_us[-1]) + round(step.period_s * 1e6)
        return self._start_us + t_us


class Envelope:
    """Min/max decimation of traces that share an x axis, in bounded memory.

    Each bucket of consecutive samples keeps its first x and the min and max
    of every trace, so a spike or a dropout survives at any zoom. When the
    buckets outnumber `buckets`, neighbours merge pairwise (each then covers
    twice as many samples): a run of any length ends with between buckets/2
    and `buckets` of them, without knowing the length beforehand.
    """

    def __init__(self, traces, buckets=1000):
        self.buckets = buckets
        self._size = 1  # samples per bucket
        self._x = np.empty(0)
        self._low = np.empty((traces, 0))
        self._high = np.empty((traces, 0))
        self._pending_x = np.empty(0)  # samples not yet filling a bucket
        self._pending_y = np.empty((traces, 0))

    def add(self, x, *ys):
        x = np.concatenate((self._pending_x, x))
        y = np.concatenate((self._pending_y, np.vstack(ys)), axis=1)
        full = x.size // self._size * self._size
        self._pending_x, self._pending_y = x[full:], y[:, full:]
        shape = (y.shape[0], -1, self._size)
        self._append(x[:full:self._size], y[:, :full].reshape(shape).min(axis=2),
                     y[:, :full].reshape(shape).max(axis=2))
        while self._x.size > self.buckets:
            self._merge_pairs()

    def _append(self, x, low, high):
        self._x = np.concatenate((self._x, x))
        self._low = np.concatenate((self._low, low), axis=1)
        self._high = np.concatenate((self._high, high), axis=1)

    def _merge_pairs(self):
        even = self._x.size // 2 * 2
        rest = (self._x[even:], self._low[:, even:], self._high[:, even:])  # an odd bucket out stays as it is
        self._x, self._low, self._high = (
            np.concatenate((self._x[:even:2], rest[0])),
            np.concatenate((np.minimum(self._low[:, :even:2], self._low[:, 1:even:2]), rest[1]), axis=1),
            np.concatenate((np.maximum(self._high[:, :even:2], self._high[:, 1:even:2]), rest[2]), axis=1))
        self._size *= 2

    def points(self):
        """x and each trace as plot points: every bucket's min then its max, at the bucket's x (samples
        short of a full bucket make one more)."""
        x, low, high = self._x, self._low, self._high
        if self._pending_x.size:
            x = np.append(x, self._pending_x[0])
            low = np.concatenate((low, self._pending_y.min(axis=1, keepdims=True)), axis=1)
            high = np.concatenate((high, self._pending_y.max(axis=1, keepdims=True)), axis=1)
        return np.repeat(x, 2), np.stack((low, high), axis=2).reshape(low.shape[0], -1)
