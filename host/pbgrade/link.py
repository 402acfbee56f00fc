"""The link to a rig: its serial port, the external load the host sets, and
the conversation with the device (identify it, command it, collect what it
sends). open_rig is the one way in: a port opened, the device identified,
the port closed (the external load off) however the talk ends.
"""
import errno
import secrets
import time
from collections import deque
from contextlib import contextmanager

import serial

from . import faults, steps, wire  # noqa: F401 (faults registers the fault:// test transport with pyserial)
from .evaluate import Evaluation

TRIES = 3  # a command (or HELLO) is sent this often before the link is called broken
REPLY_TIMEOUT_S = 2.0
ASK_AFTER_S = 1.0  # missing frames are asked for again, and a quiet device asked for its status, this often
ASK_AFTER_FRAMES = 16  # ... or after this many newer frames: well before the device's kept 16 KB roll over
SILENCE_TIMEOUT_S = 15.0  # no frame for this long while running: the rig is gone


IDLE_CONFIG = {"period_us": steps.PERIOD_US, "end_mv": 0, "collapse_ma": 0}  # before a step configures anything


class RigError(RuntimeError):
    """The rig did something a test cannot continue from; the message says what to do."""


class PortBusy(RigError):
    """Another program holds the port."""


class Link:
    """Framed messages over a pyserial port: a device path or any pyserial URL;
    and the rig's external load, where the host sets it (scpi_load.ScpiLoad)."""

    def __init__(self, port, on_bytes, load=None):
        try:  # a device path is locked while it is open here: another pbgrade sees it is busy (`pbgrade ports`)
            self.serial = serial.serial_for_url(port, baudrate=115200, timeout=0.05,
                                                **({} if "://" in port else {"exclusive": True}))
        except (serial.SerialException, OSError) as e:
            if e.errno in (errno.EAGAIN, errno.EBUSY):
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
            raise RigError(f"serial port {self.port} vanished ({e}): the rig keeps itself safe; "
                           f"reconnect and check the cable") from None

    def close(self):
        self.serial.close()
        if self.load is not None:
            try:
                self.load.close()  # input off, whatever the device did
            except Exception as e:  # noqa: BLE001 - whatever the instrument library raises, the operator must act
                raise RigError(f"the external load did not switch off ({e}): switch its input off by hand; the "
                               f"rig's series switch has already cut it") from None


def external_load(rig):
    """The rig's external load, opened and switched off; None for a load the device drives itself."""
    load = rig["load"]
    if load["kind"] != "scpi":
        return None
    from .scpi_load import ScpiLoad, ScpiLoadError
    try:
        return ScpiLoad(load["resource"], rig["limits"]["max_current_a"], backend="@py")
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


def _wait_for(link, evaluation, want, timeout=REPLY_TIMEOUT_S):
    """Feed frames to the evaluation until `want(msg)` holds; None on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in link.frames():
            msg = evaluation.feed(frame)
            if msg is not None and want(msg):
                return msg
    return None


def identify(link, evaluation, expect_fault=False, tries=TRIES, timeout=REPLY_TIMEOUT_S):
    """HELLO until the device answers; RigError if none does, or (unless expect_fault) if it is in fault
    or speaks another protocol."""
    for _ in range(tries):
        link.send("HELLO")
        # the answer is IDENTITY, TEXT if the device is in fault, then STATUS
        if _wait_for(link, evaluation, lambda m: m.type == "STATUS" and evaluation.identity, timeout):
            break
    else:
        raise RigError(f"no rig answers on {link.port}: check that the firmware runs and the port is right")
    if expect_fault:
        return
    if evaluation.identity.sensor == 0 or evaluation.status.state == wire.State.FAULT:
        raise RigError("rig reports: " + ("; ".join(evaluation.texts) or "a fault")
                       + ("" if evaluation.identity.sensor == 0 else
                          "; fix the cause, then clear the fault: `pbgrade clear`"))
    if evaluation.identity.proto != wire.PROTO_VERSION:
        raise RigError(f"rig speaks protocol {evaluation.identity.proto}, this host {wire.PROTO_VERSION}: "
                       f"update the firmware or the host")


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
    """Send a command until the device acknowledges it (a retry keeps its seq:
    the device answers a repeat without doing it twice)."""
    seq = None
    for _ in range(TRIES):
        seq = link.send(msg_type, seq, **body)
        ack = _wait_for(link, evaluation, lambda m: m.type == "ACK" and m.body.cmd_seq == seq)
        if ack is not None:
            break
    else:
        raise RigError(f"rig did not acknowledge {msg_type} in {TRIES} tries: check the cable and the port")
    if ack.body.result:
        raise RigError(f"rig refused {msg_type}: {wire.ACK_RESULTS.get(ack.body.result, ack.body.result)} "
                       f"({body}); check the label's rated current against the rig's limits")


def collect(link, evaluation, done, progress=lambda evaluation: None):
    """Feed frames to the evaluation until done(); RigError if the rig falls silent.

    Frames missing from the sequence are asked for again at once (the device
    keeps only its recent 16 KB), and again every ASK_AFTER_S while they are
    missing (or ASK_AFTER_FRAMES); a device that goes quiet is asked for its
    status, whose reply shows any frames lost at the tail (the end of a step
    itself, say)."""
    last_frame = asked_at = time.monotonic()
    asked = set()
    since_asked = 0
    while not done():
        got = False
        for frame in link.frames():
            got = True
            since_asked += 1
            evaluation.feed(frame)
            if done():
                break
        now = time.monotonic()
        if got:
            last_frame = now
            progress(evaluation)
        elif now - last_frame > SILENCE_TIMEOUT_S:
            raise RigError(f"rig silent for {SILENCE_TIMEOUT_S:.0f} s on {link.port}: the device ends the "
                           f"discharge safely on its own; check the cable and power")
        if done():
            break
        again = now - asked_at > ASK_AFTER_S or since_asked >= ASK_AFTER_FRAMES
        for hole in evaluation.order.missing():
            if again or hole not in asked:
                link.send("RESEND", first=hole[0], count=hole[1])
                asked.add(hole)
        if again:
            asked_at, since_asked = now, 0
            if now - last_frame > ASK_AFTER_S + 2 * evaluation.config.get("flush_ms", 1000) / 1000:
                link.send("STATUS_REQ")
