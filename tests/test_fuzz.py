"""Fuzzing the host's receive path: bytes -> wire.Deframer -> Evaluation.

Whatever arrives, the decoder must not raise, must count every frame it
rejects, must never take a frame that was not sent, and must find the frames
again after garbage.

The bound on "never takes a frame that was not sent": a corrupted frame is
accepted only if it COBS-decodes to a payload whose type and length fit and
its CRC-16 matches by chance, 2^-16 for a corruption outside the CRC's
guarantees (it always catches one flipped bit, an odd number of them, a
burst of up to 16 bits). A run of
test_mutated_stream_never_yields_a_frame_that_was_not_sent feeds about 75
corrupted frames that fit their type (67-80 counted in six runs of 300
examples), so a chance collision fails a run with probability about
75 x 2^-16 = 0.1 %; its message then says to check the CRC before
suspecting the decoder.
"""
import json
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from pbgrade import wire
from pbgrade.evaluate import Evaluation

VECTORS = json.loads((ROOT / "protocol" / "vectors.json").read_text())["vectors"]
GOLDEN = [bytes.fromhex(v["wire"]) for v in VECTORS if v["sender"] == "device"]
CONFIG = {"period_us": 1000, "end_mv": 4000, "collapse_ma": 1050}  # 1 kHz: a u32 index spans 49 days
# Random codes scaled by one identity can reach kilowatts; over a gap of weeks the Integrator's int64
# nanojoule gap estimate then overflows (a numpy cast warning). No real rig gets there.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")


def fuzz(examples):
    """Bounded runs: the whole file stays well under half a minute."""
    return settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _golden_body(name):
    raw = bytes.fromhex(next(v["wire"] for v in VECTORS if v["name"] == name))
    return wire.parse(wire.decode_frame(raw[:-1])).body


DEVICE = (_golden_body("identity sim INA226"), _golden_body("calibration: never calibrated"))


def samples_frame(fmt, size, max_count):
    return st.builds(lambda seq, index, data: wire.build(fmt, seq, index=index, count=len(data) // size, data=data),
                     st.integers(0, 0xFFFF), st.integers(0, 2**32 - 1 - max_count),
                     st.integers(1, max_count).flatmap(lambda n: st.binary(min_size=n * size, max_size=n * size)))


# count >= 1: what the firmware sends; count 0 is test_empty_samples_frame_is_harmless
VALID_FRAMES = st.one_of(st.sampled_from(GOLDEN), samples_frame("SAMPLES", 4, 61), samples_frame("SAMPLES20", 5, 48))
CHUNK_CUTS = st.lists(st.integers(0, 4000), max_size=12)


def receive(stream, cuts=()):
    """Feed a byte stream, cut into chunks at `cuts`, through a fresh decoder:
    (evaluation, frames the deframer produced, frames it accepted)."""
    evaluation, deframer = Evaluation(CONFIG, device=DEVICE), wire.Deframer()
    frames, accepted = [], []
    bounds = sorted({0, len(stream), *(c for c in cuts if c < len(stream))})
    for a, b in zip(bounds, bounds[1:]):
        for frame in deframer.feed(stream[a:b]):
            frames.append(frame)
            if evaluation.feed(frame) is not None:
                accepted.append(frame)
    assert evaluation.frames + evaluation.frames_corrupt == len(frames)  # every frame counted once
    evaluation.integrity(), evaluation.chip_accumulators(), evaluation.calibration_record()  # what a record takes
    return evaluation, frames, accepted


def mutate(data, s):
    """One random corruption of the stream s, in place."""
    i = data.draw(st.integers(0, len(s) - 1), label="at")
    n = data.draw(st.integers(1, 300), label="length")
    kind = data.draw(st.sampled_from(["flip", "delete", "truncate", "insert", "duplicate", "splice"]), label="op")
    if kind == "flip":
        s[i] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    elif kind == "delete":  # lost bytes; across a delimiter it splices two frames
        del s[i:i + n]
    elif kind == "truncate":  # a frame cut short before its delimiter
        end = s.find(0, i)
        del s[i:end if end >= 0 else len(s)]
    elif kind == "insert":
        s[i:i] = data.draw(st.binary(min_size=1, max_size=8), label="inserted")
    elif kind == "duplicate":
        s[i:i] = s[i:i + n]
    else:  # a piece of the stream, perhaps of another frame, copied elsewhere
        to = data.draw(st.integers(0, len(s)), label="to")
        s[to:to] = s[i:i + n]


@fuzz(200)
@given(st.binary(max_size=3000), CHUNK_CUTS)
def test_arbitrary_bytes_never_raise(stream, cuts):
    evaluation, frames, accepted = receive(stream, cuts)
    assert len(frames) == sum(1 for piece in stream.split(b"\x00")[:-1] if piece)  # one frame per delimited piece
    assert evaluation.frames == len(accepted)  # what was taken is what passed the checks


@fuzz(100)
@given(st.lists(st.one_of(VALID_FRAMES, st.binary(max_size=600)), max_size=8), CHUNK_CUTS)
def test_how_a_stream_is_cut_into_chunks_does_not_matter(pieces, cuts):
    stream = b"".join(pieces)
    frames = receive(stream, cuts)[1]
    assert frames == receive(stream)[1]
    between = [f for f in stream.split(b"\x00")[:-1] if f]  # what lies between delimiters; too long is corrupt anyway
    assert len(frames) == len(between)
    assert all(f == b for f, b in zip(frames, between) if len(b) <= wire.MAX_FRAME + 1)


def test_an_oversized_frame_is_cut_the_same_however_the_stream_arrives():
    stream = b"\x01" * 600 + b"\x00"  # no frame is that long: garbage, found by the test above
    deframer, chunked = wire.Deframer(), []
    for k in range(0, len(stream), 100):
        chunked += deframer.feed(stream[k:k + 100])
    assert chunked == wire.Deframer().feed(stream) and len(chunked[0]) == wire.MAX_FRAME + 3


@fuzz(300)
@given(st.lists(VALID_FRAMES, min_size=1, max_size=8), st.data())
def test_mutated_stream_never_yields_a_frame_that_was_not_sent(frames, data):
    stream = bytearray(b"".join(frames))
    for _ in range(data.draw(st.integers(1, 4), label="ops")):
        if stream:
            mutate(data, stream)
    sent = {wire.decode_frame(f[:-1]) for f in frames}
    _, _, accepted = receive(bytes(stream), data.draw(CHUNK_CUTS, label="cuts"))
    for frame in accepted:
        assert wire.decode_frame(frame) in sent, (
            f"accepted a frame that was never sent: {frame.hex()}; if its CRC-16 matches, this is the "
            f"0.1 % chance collision of the module docstring, otherwise the decoder took a corrupt frame")


@fuzz(200)
@given(st.lists(VALID_FRAMES, min_size=1, max_size=8), st.data())
def test_any_payload_behind_a_valid_crc_never_raises(frames, data):
    """What no CRC stops: a payload wrong before its CRC was computed, or a collision.
    Only the type and length checks stand between it and the handlers."""
    stream, intact = b"", []
    for frame in frames:
        payload = bytearray(wire.decode_frame(frame[:-1]))
        original = bytes(payload)
        for _ in range(data.draw(st.integers(0, 3), label="changes")):
            payload[data.draw(st.integers(0, len(payload) - 1), label="at")] = data.draw(st.integers(0, 255))
        stream += wire.encode_frame(bytes(payload))
        intact.append(payload == original)
    _, received, accepted = receive(stream)
    assert len(received) == len(frames)
    taken = iter(accepted)
    assert all(frame in taken for frame, unchanged in zip(received, intact) if unchanged)  # each unchanged one, in order


@fuzz(150)
@given(st.lists(st.tuples(st.binary(max_size=400), VALID_FRAMES), min_size=1, max_size=6), CHUNK_CUTS)
def test_every_frame_after_garbage_and_a_delimiter_is_recovered(pairs, cuts):
    stream = b"".join(garbage + b"\x00" + frame for garbage, frame in pairs)
    remaining = iter(receive(stream, cuts)[2])
    assert all(frame[:-1] in remaining for _, frame in pairs)  # each one, in order


def test_empty_samples_frame_is_harmless():
    """count 0 is a well-formed SAMPLES frame the firmware never sends: it must add nothing, not crash."""
    evaluation, _, accepted = receive(wire.build("SAMPLES", 1, index=7, count=0, data=b""))
    assert len(accepted) == 1 and evaluation.samples_received == 0


def test_a_repeated_frame_is_a_duplicate_not_65535_lost_frames():
    first, second = (wire.build("SAMPLES", seq, index=seq, count=1, data=bytes(4)) for seq in (5, 6))
    evaluation = receive(first + first + second)[0]
    assert evaluation.order.duplicates == 1 and evaluation.frames_lost == 0


def test_samples_lost_at_either_end_of_a_run_are_counted():
    """A run's slots start at 0 and its final STATUS gives their number: the first and the last
    batch lost must show, as a lost batch in the middle does."""
    middle = wire.build("SAMPLES", 1, index=10, count=10, data=bytes(40))
    end = (wire.build("EVENT", 2, code=4, index=30, value=0)
           + wire.build("STATUS", 3, state=2, index=30, skipped=0, rx_errors=0, load_ma=0))
    assert receive(middle + end)[0].samples_lost == 20


def test_a_stream_without_delimiters_takes_bounded_memory():
    """A device that prints text (a REPL, another firmware) sends no 0x00: the partial frame must stay
    at most one frame long (anything longer is corrupt anyway), or memory and time grow without end."""
    deframer = wire.Deframer()
    tracemalloc.start()
    try:
        for _ in range(1000):
            deframer.feed(b"pbgrade? " * 30)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * wire.MAX_FRAME
