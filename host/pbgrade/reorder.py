"""Frames back in the device's order, whatever the link did to them.

The device numbers its frames (seq, modulo 2^16) and re-sends lost ones on
request (protocol/SPEC.md: losing nothing). `SeqOrder` hands frames on in seq
order: one after a hole waits until the missing frame arrives again or the
device declares it GONE, so what is built from them (the integral, the end of
a step) is exactly what an unbroken stream gives. Duplicates are dropped.

It works on arrival order alone, so a re-grade replaying the journal makes
the same decisions as the live run.

    order = SeqOrder()
    for msg in order.push(msg): apply(msg)
    order.missing()  # [(first, count), ...] to ask for again
"""

MODULO = 0x10000
HOLD_LIMIT = 4096  # frames held behind a hole before it is given up as lost (~1 MB; hours at 10 Hz)


class SeqOrder:
    def __init__(self, expected=None):
        self.expected = expected  # the next seq to hand on; None: whatever comes first
        self.lost = 0  # seqs given up: declared GONE, or held too long
        self.duplicates = 0
        self.recovered = 0  # frames that came after a later one: a hole filled (by a resend)
        self._front = None  # the furthest seq received
        self._held = {}  # seq -> msg, waiting for an earlier one
        self._gone = set()

    def push(self, msg):
        """Take one frame; the frames now ready, in order."""
        if self.expected is None:
            self.expected = msg.seq
        if self._behind(msg.seq) or msg.seq in self._held:
            self.duplicates += 1
            return []
        front = self._front
        if front is not None and 0 < (front - msg.seq) % MODULO < MODULO // 2:
            self.recovered += 1
        else:
            self._front = msg.seq
        self._held[msg.seq] = msg
        return self._ready()

    def gone(self, first, count):
        """The device no longer keeps these: skip them once they are next."""
        self._gone.update((first + k) % MODULO for k in range(count) if not self._behind((first + k) % MODULO))
        return self._ready()

    def missing(self):
        """Holes before the latest held frame, as (first, count) ranges."""
        if not self._held:
            return []
        ahead = max((s - self.expected) % MODULO for s in self._held)
        ranges, start = [], None
        for k in range(ahead + 1):
            seq = (self.expected + k) % MODULO
            hole = seq not in self._held and seq not in self._gone
            if hole and start is None:
                start = k
            elif not hole and start is not None:
                ranges.append(((self.expected + start) % MODULO, k - start))
                start = None
        return ranges

    def flush(self):
        """Give up every hole (the stream has ended): the held frames, in order."""
        out = []
        while self._held:
            out += self._skip_to_next_held()
        return out

    def _behind(self, seq):
        return self.expected is not None and (seq - self.expected) % MODULO >= MODULO // 2

    def _ready(self):
        out = []
        while True:
            if self.expected in self._held:
                out.append(self._held.pop(self.expected))
            elif self.expected in self._gone:
                self._gone.discard(self.expected)
                self.lost += 1
            elif len(self._held) > HOLD_LIMIT:
                out += self._skip_to_next_held()
                continue
            else:
                return out
            self.expected = (self.expected + 1) % MODULO

    def _skip_to_next_held(self):
        gap = min((s - self.expected) % MODULO for s in self._held)
        self.lost += gap
        self._gone = {s for s in self._gone if (s - self.expected) % MODULO >= gap}
        self.expected = (self.expected + gap) % MODULO
        return self._ready()
