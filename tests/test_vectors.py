"""Golden vectors of protocol/ against the host's construct schema."""
import json
import struct

import numpy as np
import pytest
from cobs import cobs

from conftest import ROOT
from pbgrade import wire

VECTORS = json.loads((ROOT / "protocol" / "vectors.json").read_text())["vectors"]


def pack20(samples):
    """The SAMPLES20 layout written out plainly: bus u20 | current i20 << 20, 5 bytes LE."""
    return b"".join((bus | (cur & 0xFFFFF) << 20).to_bytes(5, "little") for bus, cur in samples)


def raw_bytes(v):
    """The vector's body with its '8s' fields (hex in the file) as bytes."""
    kinds = {f[0]: f[1] for f in wire.MESSAGES[v["type"]]["body"]}
    return {k: bytes.fromhex(x) if kinds.get(k) == "8s" else x for k, x in v["body"].items()}


def body_for_build(v):
    body = raw_bytes(v)
    if v["type"] == "SAMPLES":
        samples = np.array([tuple(s) for s in body.pop("samples")], dtype=wire.SAMPLE_DTYPE)
        body.update(count=len(samples), data=samples.tobytes())
    elif v["type"] == "SAMPLES20":
        samples = body.pop("samples")
        body.update(count=len(samples), data=pack20(samples))
    return body


@pytest.mark.parametrize("v", VECTORS, ids=[v["name"] for v in VECTORS])
def test_build_matches_golden_bytes(v):
    assert wire.build(v["type"], v["seq"], **body_for_build(v)).hex() == v["wire"]


@pytest.mark.parametrize("v", VECTORS, ids=[v["name"] for v in VECTORS])
def test_parse_gives_golden_meaning(v):
    raw = bytes.fromhex(v["wire"])
    assert raw.endswith(b"\x00") and b"\x00" not in raw[:-1]
    msg = wire.parse(wire.decode_frame(raw[:-1]))
    assert (msg.type, msg.seq) == (v["type"], v["seq"])
    for key, want in raw_bytes(v).items():
        if key == "samples":
            bus, current = wire.sample_codes(msg.type, msg.body.data)
            assert bus.tolist() == [s[0] for s in want]
            assert current.tolist() == [s[1] for s in want]
        elif isinstance(want, float):
            assert np.float32(msg.body[key]) == np.float32(want)
        else:
            assert msg.body[key] == want, key


def test_crc_check_value():
    assert wire.crc16(b"123456789") == 0x29B1


@pytest.mark.parametrize("position", range(0, 20))
def test_any_flipped_byte_is_rejected(position):
    raw = bytearray.fromhex(VECTORS[1]["wire"])[:-1]
    raw[position % len(raw)] ^= 0x5A
    with pytest.raises(wire.FrameError):
        wire.parse(wire.decode_frame(bytes(raw)))


def test_payload_with_trailing_bytes_is_rejected():
    payload = wire.decode_frame(bytes.fromhex(VECTORS[0]["wire"])[:-1]) + b"\x01"
    with pytest.raises(wire.FrameError):
        wire.parse(payload)


SAMPLE_VECTORS = [v for v in VECTORS if "samples" in v["body"]]


@pytest.mark.parametrize("v", SAMPLE_VECTORS, ids=[v["name"] for v in SAMPLE_VECTORS])
def test_fast_sample_path_gives_golden_meaning(v):
    """parse_samples, the path every sample takes, reads what construct reads."""
    payload = wire.decode_frame(bytes.fromhex(v["wire"])[:-1])
    fast, slow = wire.parse_samples(payload), wire.parse(payload)
    assert (fast.type, fast.seq) == (slow.type, slow.seq) == (v["type"], v["seq"])
    assert (fast.body.index, fast.body.count, fast.body.data) == (slow.body.index, slow.body.count, slow.body.data)
    assert [list(s) for s in zip(*wire.sample_codes(fast.type, fast.body.data))] == v["body"]["samples"]


def test_fast_sample_path_leaves_other_types_to_construct():
    assert all(wire.parse_samples(wire.decode_frame(bytes.fromhex(v["wire"])[:-1])) is None
               for v in VECTORS if v not in SAMPLE_VECTORS)


@pytest.mark.parametrize("v", SAMPLE_VECTORS, ids=[v["name"] for v in SAMPLE_VECTORS])
@pytest.mark.parametrize("change", ["count + 1", "count - 1", "a byte more", "a byte less", "header cut"])
def test_samples_count_must_match_length(v, change):
    """A sample frame whose length does not hold its count is refused by both paths."""
    payload = bytearray(wire.decode_frame(bytes.fromhex(v["wire"])[:-1]))
    if change.startswith("count"):
        payload[7] += 1 if change == "count + 1" else -1
    elif change == "a byte more":
        payload.append(0)
    elif change == "a byte less":
        payload.pop()
    else:
        del payload[6:]
    frame = cobs.encode(bytes(payload) + wire.crc16(bytes(payload)).to_bytes(2, "little"))
    for parse in (wire.parse, wire.parse_samples):
        with pytest.raises(wire.FrameError):
            parse(wire.decode_frame(frame))


def test_deframer_splits_across_chunks():
    stream = b"".join(bytes.fromhex(v["wire"]) for v in VECTORS)
    d = wire.Deframer()
    frames = []
    for k in range(0, len(stream), 7):
        frames += d.feed(stream[k:k + 7])
    assert [f + b"\x00" for f in frames] == [bytes.fromhex(v["wire"]) for v in VECTORS]


@pytest.mark.parametrize("n", [0, 1, 2, 100, 253, 254, 255, 400])
def test_firmware_cobs_and_crc_agree_with_host_libraries(n):
    import wire as fw  # firmware/wire.py, viper run as plain Python under CPython
    rng = np.random.default_rng(n)
    src = bytearray(rng.integers(0, 4, n, dtype=np.uint8).tobytes())  # many zero bytes
    enc = bytearray(n + 2 + n // 254)
    m = fw.cobs_encode(src, n, enc)
    assert bytes(enc[:m]) == cobs.encode(bytes(src))
    assert fw.crc16(src, n) == wire.crc16(bytes(src))


def test_an_identity_of_protocol_1_still_parses():
    """A journal recorded by a protocol 1 device (no settings hash, no rig name) is re-graded years later:
    its IDENTITY must parse as it was sent, the fields added since absent, not turn the run into noise."""
    fixed = struct.pack("<7BIffHIHH", 1, 0, 2, 0, 1, 0x40, 1, 10000, 0.00125, 0.0001, 5120, 35200, 24000, 3500)
    payload = bytes([int(wire.MESSAGES["IDENTITY"]["type"], 16)]) + (7).to_bytes(2, "little") + fixed + b"\x03sim"
    msg = wire.parse(payload)
    assert (msg.body.proto, msg.body.board, msg.body.max_ma) == (1, "sim", 3500)
    assert msg.body.settings_hash is None and msg.body.rig is None
    assert wire.Payload.build(msg) == payload  # and builds back to the same bytes
