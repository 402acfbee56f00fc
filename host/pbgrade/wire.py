"""The wire protocol, built from its table (protocol/protocol.json; SPEC.md explains it).

`Payload` parses and builds every message; `encode_frame`/`decode_frame` add and
check COBS and the CRC. Sample data stay bytes here and become numpy arrays in
one call (`sample_codes`), so a multi-hour log decodes without a Python-level
loop per sample; `parse_samples` reads a SAMPLES frame without construct.
"""
import binascii
import enum
import json
import struct
from collections import namedtuple
from dataclasses import dataclass

import numpy as np
from cobs import cobs
from construct import (Bytes, Const, Default, Enum, Error, Float32l, GreedyString, If, Int8sl, Int8ul, Int16sl, Int16ul,
                       Int32sl, Int32ul, Int64sl, Int64ul, PascalString, Struct, Switch, Terminated, this)

from .paths import PROTOCOL

TABLE = json.loads((PROTOCOL / "protocol.json").read_text())
PROTO_VERSION = TABLE["version"]
MAX_FRAME = TABLE["max_frame"]  # payload + CRC, one COBS block
NO_TEMPERATURE = TABLE["no_temperature"]  # IDENTITY's reading of an NTC the rig does not have
DELIMITER = b"\x00"


def _names(rows):
    """A table's rows as {code: name}."""
    return {row["code"]: row["name"] for row in rows}


MESSAGES = {m["name"]: m for m in TABLE["messages"]}
EVENT_CODES = _names(TABLE["events"])
Event = enum.IntEnum("Event", {name.upper(): code for code, name in EVENT_CODES.items()})  # EVENT code, by name
END_EVENTS = frozenset(e["code"] for e in TABLE["events"] if e["ends_step"])  # an EVENT that ends the step
STATES = _names(TABLE["states"])
State = enum.IntEnum("State", {name.upper(): code for code, name in STATES.items()})  # STATUS state, by name
ACK_RESULTS = {row["code"]: row["text"] for row in TABLE["ack_results"]}
AckResult = enum.IntEnum("AckResult", {row["name"]: row["code"] for row in TABLE["ack_results"]})  # by name
SENSORS = _names(TABLE["chips"])

# fields whose value is a name from another table: the construct Enum of that table
_ENUMS = {"messages": {m["name"]: int(m["type"], 16) for m in TABLE["messages"]},
          "load_modes": {row["name"]: row["code"] for row in TABLE["load_modes"]},
          "edges": {row["name"]: row["code"] for row in TABLE["edges"]}}
_FIELDS = {"B": Int8ul, "H": Int16ul, "I": Int32ul, "Q": Int64ul, "b": Int8sl, "h": Int16sl, "i": Int32sl,
           "q": Int64sl, "f": Float32l, "8s": Bytes(8), "u8str": PascalString(Int8ul, "utf8"), "str": GreedyString("utf8")}


def _field(name, kind, *more):
    """A body field: more may name the table its values come from, and say {"since": N}: the field exists
    from protocol N on, so a journal an older device sent still parses (IDENTITY says its protocol first),
    and a message of an older protocol is built without it."""
    names = next((m for m in more if isinstance(m, str)), None)
    since = next((m["since"] for m in more if isinstance(m, dict)), None)
    field = Enum(_FIELDS[kind], **_ENUMS[names]) if names else _FIELDS[kind]
    return name / (Default(If(this.proto >= since, field), None) if since else field)


def _body(message):
    fields = [_field(*f) for f in message["body"]]
    if "samples" in message:
        fields.append("data" / Bytes(this.count * message["samples"]["bytes"]))
    return Struct(*fields) if fields else Const(b"")


BODIES = {name: _body(m) for name, m in MESSAGES.items()}
Payload = Struct(*(_field(*f) for f in TABLE["header"]),
                 "body" / Switch(this.type, BODIES, default=Error),
                 Terminated)


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


def firmware_version(identity):
    """An IDENTITY's firmware version, as records and `pbgrade ports` show it: "0.3.0"."""
    return f"{identity.fw_major}.{identity.fw_minor}.{identity.fw_patch}"


def build(msg_type, seq=0, **body):
    """Build one wire frame: build('CONFIG', seq=3, period_us=100000, ...)."""
    return encode_frame(Payload.build(dict(type=msg_type, seq=seq, body=body or None)))


# -- sample frames: the bulk of a run, read without construct ----------------

Message = namedtuple("Message", "type seq body")


@dataclass(frozen=True)
class _SampleFrame:
    """One kind of sample frame as the table lays it out: its fixed part (header
    and body), then `count` samples of `size` bytes, each a little-endian integer
    holding (name, signed, bits) fields from bit 0 up; `dtype` reads them at
    once where every field is whole bytes."""
    name: str
    fixed: struct.Struct
    body: type
    size: int
    fields: tuple
    dtype: np.dtype | None

    @classmethod
    def of(cls, message):
        samples = message["samples"]
        fields = tuple((name, kind[0] == "i", int(kind[1:])) for name, kind in samples["fields"])
        whole_bytes = all(bits % 8 == 0 for _, _, bits in fields)
        return cls(message["name"], struct.Struct("<" + "".join(f[1] for f in TABLE["header"] + message["body"])),
                   namedtuple(message["name"].title() + "Body", [f[0] for f in message["body"]] + ["data"]),
                   samples["bytes"], fields,
                   np.dtype([(name, f"<{'i' if signed else 'u'}{bits // 8}") for name, signed, bits in fields])
                   if whole_bytes else None)


_SAMPLE_FRAMES = {int(m["type"], 16): _SampleFrame.of(m) for m in TABLE["messages"] if "samples" in m}
_SAMPLE_KINDS = {frame.name: frame for frame in _SAMPLE_FRAMES.values()}
SAMPLE_DTYPE = _SAMPLE_KINDS["SAMPLES"].dtype  # SAMPLES data as a numpy record, for writers of sample data


def parse_samples(payload):
    """A sample frame's payload as a Message (type, seq, body: index, count, data), None for
    any other type; FrameError if its length does not hold its count of samples.

    construct takes longer to parse one than the host needs for its 61 samples."""
    frame = _SAMPLE_FRAMES.get(payload[0])
    if frame is None:
        return None
    if len(payload) < frame.fixed.size:
        raise FrameError(f"{frame.name} frame of {len(payload)} bytes is too short")
    _, seq, *fixed = frame.fixed.unpack_from(payload)
    body = frame.body(*fixed, payload[frame.fixed.size:])
    if len(body.data) != body.count * frame.size:
        raise FrameError(f"{frame.name} frame of {len(payload)} bytes does not hold {body.count} samples")
    return Message(frame.name, seq, body)


def sample_codes(kind, data):
    """The samples of frames of one kind ('SAMPLES', 'SAMPLES20'), their data joined -> (bus, current)
    code arrays, int64."""
    frame = _SAMPLE_KINDS[kind]
    if frame.dtype is not None:
        codes = np.frombuffer(data, dtype=frame.dtype)
        return tuple(codes[name].astype(np.int64) for name, _, _ in frame.fields)
    raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, frame.size).astype(np.int64)
    word = raw[:, 0]
    for k in range(1, frame.size):
        word = word | raw[:, k] << 8 * k
    codes, shift = [], 0
    for _, signed, bits in frame.fields:
        code = word >> shift & (1 << bits) - 1
        codes.append(code - (code >> bits - 1 << bits) if signed else code)
        shift += bits
    return tuple(codes)


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
