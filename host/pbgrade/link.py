"""The link to a rig: its serial port, the external load the host sets, and
the conversation with the device (identify it, command it, collect what it
sends). open_rig is the one way in: a port opened, the device identified,
the port closed (the external load off) however the talk ends.
"""
import errno
import math
import secrets
import time
from collections import Counter, deque
from contextlib import contextmanager

import serial

from . import faults, steps, wire  # noqa: F401 (faults registers the fault:// test transport with pyserial)
from .evaluate import Evaluation

AGAIN_S = 0.5  # a command or HELLO unanswered this long is sent again (a command's retry keeps its seq) ...
REPLY_TIMEOUT_S = 2.0  # ... until the device has been silent for TRIES times this long (nothing there) ...
TRIES = 3
REPLY_DEADLINE_S = 20.0  # ... or this long has passed with frames arriving but no reply: the link is too noisy
HANDSHAKE_DEADLINE_S = 20.0
UNHEARD_AGAIN_S = 0.05  # a HELLO is sent again this often once nothing at all came back for REPLY_TIMEOUT_S
ASK_AFTER_S = 0.2  # missing frames are asked for again, and a quiet device asked for its status, this often
ASK_AFTER_FRAMES = 16  # ... or after this many newer frames: well before the device's kept 16 KB roll over
ESCALATE_AFTER = 4  # a hole asked for this often is asked for in one more copy at a time ...
MAX_COPIES = 4  # ... up to this many, and EXTRA_COPIES at most in all at a time: a device that reads its
EXTRA_COPIES = 16  # commands between its own writes must not find more waiting than it takes while its host reads
SILENCE_TIMEOUT_S = 15.0  # no frame for this long while running: the rig is gone


IDLE_CONFIG = {"period_us": steps.PERIOD_US, "end_mv": 0, "collapse_ma": 0}  # before a step configures anything


class RigError(RuntimeError):
    """The rig did something a test cannot continue from; the message says what to do."""


class LinkLost(RigError):
    """The rig fell silent or its port vanished: the device goes on without its host (SPEC: a silent host)."""


class PortBusy(RigError):
    """Another program holds the port."""


class Link:
    """Framed messages over a pyserial port: a device path or any pyserial URL;
    and the rig's external load, where the host sets it (scpi_load.ScpiLoad)."""

    def __init__(self, port, on_bytes, load=None):
        try:  # a device path is locked while it is open here: another pbgrade sees it is busy (`pbgrade ports`)
            self.serial = serial.serial_for_url(port, baudrate=115200, timeout=0.05,
                                                **({} if "://" in port else {"exclusive": True}))
        except (serial.SerialException, OSError, ValueError) as e:  # ValueError: a URL of no known scheme
            if getattr(e, "errno", None) in (errno.EAGAIN, errno.EBUSY):
                raise PortBusy(f"serial port {port} is busy: another program holds it (a terminal, mpremote, "
                               f"another pbgrade); close it and try again") from None
            raise RigError(f"cannot open serial port {port}: {e}; check the cable and the port name") from None
        self.port = port
        self.on_bytes = on_bytes
        self.load = load
        self.deframer = wire.Deframer()
        self.seq = secrets.randbelow(0x10000)  # a restarted host does not reuse its predecessor's numbers
        self._pending = deque()

    def send(self, msg_type, seq=None, **body):
        """Send a message; a retry passes the seq of the first try."""
        if seq is None:
            seq = self.seq
            self.seq = (seq + 1) & 0xFFFF
        self._io(self.serial.write, wire.build(msg_type, seq, **body))
        return seq

    def frames(self):
        """Yield each received frame once; reads the port when none is pending.

        A consumer may stop early: the frames it did not take stay pending."""
        if not self._pending:
            chunk = self._io(self.serial.read, max(1, self.serial.in_waiting))
            if chunk:
                self.on_bytes(chunk)
                self._pending.extend(self.deframer.feed(chunk))
        while self._pending:
            yield self._pending.popleft()

    def _io(self, op, arg):
        try:
            return op(arg)
        except (serial.SerialException, OSError) as e:
            raise LinkLost(f"serial port {self.port} vanished ({e}): the rig keeps itself safe; "
                           f"reconnect and check the cable") from None

    def close(self):
        self.serial.close()
        if self.load is not None:
            try:
                self.load.close()  # input off, whatever the device did
            except Exception as e:  # noqa: BLE001 - whatever the instrument library raises, the operator must act
                raise RigError(f"the external load did not switch off ({e}): switch its input off by hand; the "
                               f"rig's series switch has already cut it") from None


def external_load(rig, as_left=False):
    """The rig's external load, opened and switched off (as_left: left as it is, for a resumed run whose
    device may still draw through it: switched off, the step would end on the current's collapse before
    the host could set it again); None for a load the device drives itself."""
    load = rig["load"]
    if load["kind"] != "scpi":
        return None
    from .scpi_load import ScpiLoad, ScpiLoadError
    try:
        return ScpiLoad(load["resource"], rig["limits"]["max_current_a"], backend="@py", switch_off=not as_left)
    except ScpiLoadError as e:
        raise RigError(str(e)) from None


@contextmanager
def open_rig(port, on_bytes=lambda chunk: None, load=None, device=None, rig=None, expect_fault=False):
    """Talk to the rig on port: yields (the link, the device's identify-step Evaluation); the link is
    closed, the external load with it, however the talk ends.

    on_bytes(chunk): every byte received (a run's journal); load: the rig's external load (external_load);
    device: the identify step's evaluation, if a resumed run has it from its journal already: the device is
    identified only if it has no identity; rig: the rig channel the port must be (check_channel);
    expect_fault: the device may be in fault, for it is to be cleared."""
    link = Link(port, on_bytes, load)
    try:
        if device is None:
            device = Evaluation(IDLE_CONFIG)
        if device.identity is None:
            identify(link, device, expect_fault)
            if rig is not None:
                check_channel(device.identity, rig, port)
        yield link, device
    finally:
        link.close()


def identify(link, evaluation, expect_fault=False, tries=TRIES, timeout=REPLY_TIMEOUT_S):
    """HELLO every AGAIN_S until the device answers, and every UNHEARD_AGAIN_S once nothing at all has
    come back for a timeout (a HELLO, unlike a command, is harmless however often it comes: at 10 % per
    byte each way about one in ten reaches the device, and a device that heard none stays silent);
    RigError if it stays silent for tries × timeout,
    if no whole answer comes through within HANDSHAKE_DEADLINE_S (the link too noisy), or (unless
    expect_fault) if it is in fault or speaks another protocol."""
    deadline = time.monotonic() + HANDSHAKE_DEADLINE_S
    while evaluation.identity is None:  # an answer without its IDENTITY (lost: it came before the first
        evaluation.status = None        # frame received, so it cannot be asked for) is asked for again at once
        link.send("HELLO")
        if not _Receiver(link, evaluation).until(lambda: evaluation.status is not None, lambda: link.send("HELLO"),
                                                 min(timeout, AGAIN_S), tries * timeout,
                                                 deadline - time.monotonic(), deaf=(timeout, UNHEARD_AGAIN_S)):
            raise _unanswered(link, evaluation, f"no rig answers on {link.port}: check that the firmware runs "
                                                f"and the port is right")
    if expect_fault:
        return
    if evaluation.identity.sensor == 0 or evaluation.status.state == wire.State.FAULT:
        raise RigError("rig reports: " + ("; ".join(evaluation.texts) or "a fault")
                       + ("" if evaluation.identity.sensor == 0 else
                          "; fix the cause, then clear the fault: `pbgrade clear`"))
    if evaluation.identity.proto != wire.PROTO_VERSION:
        raise RigError(f"rig speaks protocol {evaluation.identity.proto}, this host {wire.PROTO_VERSION}: "
                       f"update the firmware or the host")


def _unanswered(link, evaluation, silent):
    """The RigError for a request never answered: the link too noisy if frames came but corrupt, else `silent`."""
    corrupt = evaluation.frames_corrupt
    if corrupt:
        return RigError(f"link too noisy on {link.port}: {corrupt} of {corrupt + evaluation.frames} frames "
                        f"corrupt; use a shorter or shielded cable, away from the load's wiring")
    return LinkLost(silent)


def device_channel(identity):
    """The channel the device names: a board with several channels names each one in IDENTITY
    ("rp2/ch2"), one with a single channel does not."""
    _, ch, number = identity.board.rpartition("/ch")
    return int(number) if ch and number.isdigit() else 1


def check_channel(identity, rig, port):
    """The device behind port is the rig channel the test is for."""
    got = device_channel(identity)
    want = rig["rig"].get("channel", 1)
    if got != want:
        raise RigError(f"{port} is channel {got} of the rig, not channel {want}: pass --channel {got}, "
                       f"or the port of channel {want}")


def leave_station(port):
    """Take the device on port out of its station, back to its REPL, so a REPL tool (mpremote) can take the
    port: LEAVE switches every channel's load off and is acknowledged; the device then answers Ctrl-C again
    and no longer as a station. A device in fault leaves too. Returns the device's identify-step Evaluation."""
    with open_rig(port, expect_fault=True) as (link, device):
        command(link, device, "LEAVE")
    return device


def command(link, evaluation, msg_type, **body):
    """Send a command until the device acknowledges it, again every AGAIN_S (a retry keeps its seq: the
    device answers a repeat without doing it twice; at 1 % per byte each way, 3 tries of a CONFIG in a row
    are lost about once in a run, 12 almost never) for at most REPLY_DEADLINE_S. Meanwhile
    missing frames are asked for as while collecting: a device that runs on (a START whose ACK was
    lost) keeps only its recent frames, and a lost ACK is itself a missing frame."""
    seq = link.send(msg_type, **body)
    acked = lambda: seq in evaluation.acks  # noqa: E731 - applied in order, not merely received
    if not _Receiver(link, evaluation).until(acked, lambda: link.send(msg_type, seq, **body), AGAIN_S,
                                             TRIES * REPLY_TIMEOUT_S, REPLY_DEADLINE_S):
        raise _unanswered(link, evaluation, f"rig did not acknowledge {msg_type}: check the cable and the "
                                            f"port")
    result = evaluation.acks[seq]
    if result:
        hint = ("check the HX711's wiring and power (the rig file's [scale] pins)" if result == wire.AckResult.NO_SCALE
                else "check the label's rated current against the rig's limits")
        raise RigError(f"rig refused {msg_type}: {wire.ACK_RESULTS.get(result, result)} ({body}); {hint}")


def collect(link, evaluation, done, progress=lambda evaluation: None):
    """Feed frames to the evaluation until done(); RigError if the rig falls silent for SILENCE_TIMEOUT_S.
    A device that goes quiet is asked for its status, whose reply shows any frames lost at the tail
    (the end of a step itself, say)."""
    def status_if_quiet():
        if receiver.quiet_s() > ASK_AFTER_S + 2 * evaluation.config.get("flush_ms", 1000) / 1000:
            link.send("STATUS_REQ")
    receiver = _Receiver(link, evaluation)
    progress(evaluation)  # the step is under way (a short one may have ended while its START was acknowledged)
    if not receiver.until(done, status_if_quiet, ASK_AFTER_S, SILENCE_TIMEOUT_S, progress=progress):
        raise LinkLost(f"rig silent for {SILENCE_TIMEOUT_S:.0f} s on {link.port}: the device ends the "
                       f"discharge safely on its own; check the cable and power")


class _Receiver:
    """Feeds the frames that arrive to an evaluation, and asks for those missing from the sequence again:
    at once (the device keeps only its recent 16 KB), and again every ASK_AFTER_S or ASK_AFTER_FRAMES
    newer frames while they are missing, until they come or the device says they are GONE.

    A hole still missing after ESCALATE_AFTER asks is asked for in more copies at a time (each resent
    copy meets the link's faults on its own): on a noisy link a device in virtual time, or at a high
    rate, sends its kept 16 KB anew within a few dozen round trips, and one copy a round would lose some
    (at 1 % per byte each way, 1 in 120 of 10,000 holes; none in 3 runs with the copies)."""

    def __init__(self, link, evaluation):
        self.link, self.evaluation = link, evaluation
        self.last_frame = self.asked_at = time.monotonic()
        self.asked = Counter()  # a hole's first seq -> how often it was asked for
        self.since_asked = 0

    def quiet_s(self):
        return time.monotonic() - self.last_frame

    def until(self, done, again, every_s, quiet_limit_s, deadline_s=math.inf, progress=lambda evaluation: None,
              deaf=None):
        """Receive until done() (True); again() every every_s meanwhile (deaf: (after_s, every_s), again()
        that often instead once nothing came for after_s); False once past deadline_s, or silent
        for quiet_limit_s: with no deadline (collecting), or before anything came (nothing there; once a
        frame came, even a corrupt one, the device is there and a noisy link is given until the deadline)."""
        started = again_at = time.monotonic()
        heard = False
        while not done():
            got = self.receive(done)
            heard = heard or got
            now = time.monotonic()
            if got:
                progress(self.evaluation)
            if done():
                return True
            silent = now - self.last_frame > quiet_limit_s and (deadline_s == math.inf or not heard)
            if silent or now - started > deadline_s:
                return False
            if now - again_at > (deaf[1] if deaf and not heard and now - started > deaf[0] else every_s):
                again()
                again_at = now
        return True

    def receive(self, done):
        """Feed what has arrived, up to done() (the rest stays pending for whoever reads next: a watch for a
        unit, say, judges each frame as it comes); ask for the holes unless done(). True if a frame came."""
        got = False
        for frame in self.link.frames():
            got = True
            self.since_asked += 1
            self.evaluation.feed(frame)
            if done():
                break
        now = time.monotonic()
        if got:
            self.last_frame = now
        if done():
            return got
        again = now - self.asked_at > ASK_AFTER_S or self.since_asked >= ASK_AFTER_FRAMES
        spare = EXTRA_COPIES  # the oldest holes, the nearest to being GONE, have them first
        for first, count in self.evaluation.order.missing():
            if again or first not in self.asked:
                extra = min(self.asked[first] // ESCALATE_AFTER, MAX_COPIES - 1, spare)
                for _ in range(1 + extra):
                    self.link.send("RESEND", first=first, count=count)
                self.asked[first] += 1 + extra
                spare -= extra
        if again:
            self.asked_at, self.since_asked = now, 0
        return got
