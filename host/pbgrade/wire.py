"""The wire protocol (protocol/SPEC.md) declared once with construct.

`Payload` parses and builds every message; `encode_frame`/`decode_frame` add and
check COBS and the CRC. Sample data stay bytes here and become numpy arrays in
one call (`sample_codes`), so a multi-hour log decodes without a Python-level
loop per sample.
"""
import binascii
from dataclasses import dataclass

import numpy as np
from cobs import cobs
from construct import (Bytes, Const, Enum, Error, Float32l, GreedyString, Int8ul, Int16ul, Int64sl, Int64ul,
                       Int32sl, Int32ul, PascalString, Struct, Switch, Terminated, this)

PROTO_VERSION = 1
MAX_FRAME = 254  # payload + CRC, one COBS block
DELIMITER = b"\x00"

MsgType = Enum(Int8ul, HELLO=0x01, CONFIG=0x02, START=0x03, STOP=0x04, STATUS_REQ=0x05, CAL_SET=0x06, RAMP=0x07, RUN_FOR=0x08,
               SHORT=0x09, RESEND=0x0A, CLEAR=0x0B, LOAD_MODE=0x0C, GONE=0xA4,
               IDENTITY=0x81, ACK=0x82, CALIBRATION=0x83, SAMPLES=0x90, SAMPLES20=0x91, EVENT=0xA0,
               STATUS=0xA1, TEXT=0xA2, ACCUMULATORS=0xA3)

Empty = Const(b"")

Config = Struct("period_us" / Int32ul, "load_ma" / Int16ul, "end_mv" / Int16ul,
                "collapse_ma" / Int16ul, "hold_ms" / Int16ul, "flush_ms" / Int16ul)

Identity = Struct(
    "proto" / Int8ul, "fw_major" / Int8ul, "fw_minor" / Int8ul, "fw_patch" / Int8ul,
    "sensor" / Int8ul, "address" / Int8ul, "sample_format" / Int8ul, "shunt_uohm" / Int32ul,
    "bus_lsb_v" / Float32l, "current_lsb_a" / Float32l, "cal" / Int16ul,
    "sensor_period_us" / Int32ul, "max_mv" / Int16ul, "max_ma" / Int16ul,
    "board" / PascalString(Int8ul, "utf8"))

Ack = Struct("cmd_type" / MsgType, "cmd_seq" / Int16ul, "result" / Int8ul)

SeqRange = Struct("first" / Int16ul, "count" / Int16ul)

Ramp = Struct("step_ma" / Int16ul, "step_ms" / Int16ul, "max_ma" / Int16ul)

Samples = Struct("index" / Int32ul, "count" / Int8ul, "data" / Bytes(this.count * 4))

Samples20 = Struct("index" / Int32ul, "count" / Int8ul, "data" / Bytes(this.count * 5))

Calibration = Struct("v_gain" / Float32l, "v_offset_v" / Float32l, "i_gain" / Float32l,
                     "i_offset_a" / Float32l, "date" / Int32ul)

Accumulators = Struct("index" / Int32ul, "energy" / Int64ul, "charge" / Int64sl)

Event = Struct("code" / Int8ul, "index" / Int32ul, "value" / Int32sl)

Status = Struct("state" / Int8ul, "index" / Int32ul, "skipped" / Int32ul,
                "rx_errors" / Int16ul, "load_ma" / Int16ul)

Text = Struct("level" / Int8ul, "message" / GreedyString("utf8"))

Payload = Struct(
    "type" / MsgType,
    "seq" / Int16ul,
    "body" / Switch(this.type, {
        "HELLO": Empty, "CLEAR": Empty, "START": Empty, "STOP": Empty, "STATUS_REQ": Empty,
        "CONFIG": Config, "RAMP": Ramp, "RUN_FOR": Struct("slots" / Int32ul),
        "SHORT": Struct("start_ms" / Int16ul, "ms" / Int16ul),
        "RESEND": SeqRange, "GONE": SeqRange,
        "LOAD_MODE": Struct("mode" / Enum(Int8ul, CC=0, CP=1, CR=2), "value" / Int32ul), "CAL_SET": Calibration, "IDENTITY": Identity, "ACK": Ack,
        "CALIBRATION": Calibration, "SAMPLES": Samples, "SAMPLES20": Samples20,
        "EVENT": Event, "STATUS": Status, "TEXT": Text, "ACCUMULATORS": Accumulators,
    }, default=Error),
    Terminated,
)

SAMPLE_DTYPE = np.dtype([("bus", "<u2"), ("current", "<i2")])

ACK_RESULTS = {0: "ok", 1: "wrong state", 2: "bad value", 3: "over a rig limit",
               4: "unknown command", 5: "wrong length", 6: "the rig has no such switch"}
EVENT_CODES = {1: "end_voltage", 2: "current_collapse", 3: "stopped", 4: "duration", 5: "short_on", 6: "short_off", 7: "load_settled",
               16: "limit_voltage", 18: "limit_reverse", 19: "limit_power", 20: "limit_temperature",
               17: "limit_current", 32: "sensor_fault"}
STATES = {0: "idle", 1: "running", 2: "ended", 3: "fault"}
SENSORS = {1: "INA226", 2: "INA219", 3: "INA228", 4: "INA260", 5: "INA3221"}


class FrameError(ValueError):
    """A received frame that is not valid: counted and dropped, never interpreted."""


def crc16(data):
    """CRC-16/CCITT-FALSE, as the firmware computes it."""
    return binascii.crc_hqx(data, 0xFFFF)


def encode_frame(payload):
    if len(payload) + 2 > MAX_FRAME:
        raise ValueError(f"payload of {len(payload)} bytes exceeds the {MAX_FRAME - 2}-byte limit")
    return cobs.encode(payload + crc16(payload).to_bytes(2, "little")) + DELIMITER


def decode_frame(frame):
    """Frame bytes without the delimiter -> payload bytes; FrameError if corrupt."""
    if len(frame) > MAX_FRAME + 1:
        raise FrameError(f"frame of {len(frame)} bytes is longer than any valid frame")
    try:
        body = cobs.decode(frame)
    except cobs.DecodeError as e:
        raise FrameError(f"bad COBS: {e}") from None
    if len(body) < 5:
        raise FrameError(f"frame of {len(body)} bytes is too short")
    payload, crc = body[:-2], int.from_bytes(body[-2:], "little")
    if crc16(payload) != crc:
        raise FrameError("CRC mismatch")
    return payload


def parse(payload):
    """Payload bytes -> construct Container; FrameError if it does not fit its type."""
    try:
        msg = Payload.parse(payload)
    except Exception as e:  # construct raises many kinds; all mean the same here
        raise FrameError(f"unparseable payload: {e}") from None
    return msg


def build(msg_type, seq=0, **body):
    """Build one wire frame: build('CONFIG', seq=3, period_us=100000, ...)."""
    return encode_frame(Payload.build(dict(type=msg_type, seq=seq, body=body or None)))


def sample_codes(msg):
    """A SAMPLES or SAMPLES20 message -> (bus, current) code arrays, int64."""
    if msg.type == "SAMPLES":
        codes = np.frombuffer(msg.body.data, dtype=SAMPLE_DTYPE)
        return codes["bus"].astype(np.int64), codes["current"].astype(np.int64)
    b = np.frombuffer(msg.body.data, dtype=np.uint8).reshape(-1, 5).astype(np.int64)
    bus = b[:, 0] | b[:, 1] << 8 | (b[:, 2] & 0x0F) << 16
    current = b[:, 2] >> 4 | b[:, 3] << 4 | b[:, 4] << 12
    return bus, current - ((current & 0x80000) << 1)


@dataclass
class Deframer:
    """Splits a byte stream into frames at each delimiter; keeps a partial frame.
    A frame too long to be one is cut to _TOO_LONG bytes, wherever the stream
    was cut into chunks: garbage either way, bounded, still too long, the same."""
    _tail: bytes = b""
    _TOO_LONG = MAX_FRAME + 3

    def feed(self, chunk):
        parts = (self._tail + chunk).split(DELIMITER)
        self._tail = parts.pop()[:self._TOO_LONG]
        return [p[:self._TOO_LONG] for p in parts if p]
