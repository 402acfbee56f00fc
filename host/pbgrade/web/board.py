"""The station's page as data: one tile per channel, kept up to date by the session's own hooks (its view
call on each change of a channel, its readings call on each batch of samples) and told to every open page.

The session's channel threads write; the web server's event loop reads. A change bumps a version and wakes
each page's stream (Subscriber), which then sends the tiles changed since the version it last sent: a slow
page skips readings it had no time for, and never holds up a channel.
"""
import asyncio
import os
import threading
import time
from dataclasses import replace

from .. import wording
from ..i18n import _
from ..live import Live, hms
from ..shift import channel_name, tally, verdict_word
from ..profile import NEEDS_FULL_TEST
from ..runner import plans_for

READINGS_EVERY_S = 0.1  # a tile's readings are re-computed at most this often: 10 a second is more than eyes read


class Subscriber:
    """One open page's stream: woken from any thread when something changed."""

    def __init__(self):
        self.loop = asyncio.get_running_loop()
        self.changed = asyncio.Event()

    def wake(self):
        self.loop.call_soon_threadsafe(self.changed.set)


class Board:
    """Every channel's tile and the shift's tally, for the page; a session view (call it as one) and its
    readings hook. attach(session) before the session runs."""

    def __init__(self):
        self.session = None
        self.version = 0
        self.closed = False
        self._tiles = {}  # channel number -> (version, tile)
        self._tally = (0, "")
        self._live = {}  # channel number -> the unit in test's Live: its step, time left, readings
        self._computed = {}  # channel number -> when its readings were last computed (monotonic)
        self._step = {}  # channel number -> the Evaluation of the step its readings were last computed in
        self._shown = {}  # channel number -> its unit's latest readings, kept on its tile while it is in test
        self._subscribers = set()
        self._lock = threading.Lock()

    def attach(self, session):
        self.session = session
        for channel in session.channels:
            self(session, channel)

    def __call__(self, session, channel):
        """A channel changed state: its tile anew; a unit starting its test gets its Live (the terminal's
        live view's own account of the step and the time left, its lines written nowhere), one ending it a tally."""
        if channel.state == "started":
            plans = plans_for(session.method, session.label, replace(session.options), channel.rig)
            self._live[channel.number] = Live(open(os.devnull, "w"), session.label, session.method, plans)
        elif channel.state in ("remove", "free", "broken") and channel.number in self._live:
            self._live.pop(channel.number).stream.close()
            self._shown.pop(channel.number, None)
        self._publish(channel, tally=channel.state == "remove")

    def readings(self, channel, step, evaluation):
        """A batch of samples of the unit in test on the channel (the session's readings hook)."""
        received = time.time()  # the newest sample is in the host now: the panel's latency counts from here
        live = self._live.get(channel.number)
        if live is None:
            return
        live.update(step, evaluation)
        now = time.monotonic()
        due = self._step.get(channel.number) is not evaluation or now - self._computed.get(channel.number, 0.0) >= \
            READINGS_EVERY_S
        if due and evaluation.last is not None:
            self._step[channel.number], self._computed[channel.number] = evaluation, now
            self._shown[channel.number] = self._readings(live.snapshot(), received)
            self._publish(channel)

    @staticmethod
    def _readings(s, received):
        return {"step": s.step, "n": s.n, "steps": s.steps, "v": s.v, "i": s.i, "w": s.p, "wh": s.wh,
                "step_left": None if s.step_left_s is None else hms(s.step_left_s),
                "test_left": _("unknown") if s.test_left_s is None else hms(s.test_left_s),
                "t_s": s.elapsed_s, "received": received}

    def _publish(self, channel, tally=False):
        tile = self._tile(channel, self._shown.get(channel.number))
        with self._lock:
            self.version += 1
            self._tiles[channel.number] = (self.version, tile)
            if tally:
                self._tally = (self.version, self.tally())
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            subscriber.wake()

    def tally(self):
        records = self.session.records if self.session else []
        return tally(records) if records else ""

    def _tile(self, channel, readings):
        """What the page shows of a channel, in the language in use."""
        says = {"free": _("scan a serial number"), "plug in": _("plug the unit in"),
                "started": _("run {run_id} started").format(run_id=channel.run_id),
                "testing": _("testing: {step}").format(step=channel.detail), "remove": _("remove the unit"),
                "broken": channel.detail}[channel.state]
        tile = {"channel": channel.number, "name": channel_name(channel), "state": channel.state, "says": says,
                "serial": channel.serial, "run_id": channel.run_id,
                "tested": _("{count} tested").format(count=len(channel.done)), "readings": readings}
        if channel.verdict is not None:  # the last unit's verdict stays until the next serial is scanned
            reasons = wording.reasons(channel.record)
            tile.update(verdict=verdict_word(channel),
                        reason=reasons[wording.headline(channel.record["verdict"])] if reasons else channel.detail,
                        band="pass" if channel.passed else "undecided" if channel.verdict == NEEDS_FULL_TEST
                        else "fail")
        return tile

    # the web server's side: its event loop only
    def subscribe(self) -> Subscriber:
        subscriber = Subscriber()
        with self._lock:
            self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber):
        with self._lock:
            self._subscribers.discard(subscriber)

    def since(self, version):
        """(tiles changed after `version`, the tally if it changed, the version now)."""
        with self._lock:
            tiles = [tile for seen, tile in self._tiles.values() if seen > version]
            tally = self._tally[1] if self._tally[0] > version else None
            return tiles, tally, self.version

    def close(self):
        """The station stops: every page's stream ends."""
        with self._lock:
            self.closed = True
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            subscriber.wake()
