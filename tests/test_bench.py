"""The benchmarks (bench/, `make bench-quick`) run and keep every figure, and
the host's batched ingest that makes them fast gives what frame-by-frame
ingest gives. Speeds and memory are never asserted here: machines are shared
and noisy; only deterministic figures are held to their goals."""
import json
import math
import random
import subprocess
import sys

import pytest

import pbgrade.evaluate
from conftest import ROOT
from pbgrade import wire
from pbgrade.evaluate import Evaluation

sys.path.insert(0, str(ROOT))  # bench/ is a package at the top of the repository
from bench import ingest  # noqa: E402

RATES = (1, 10, 100, 1000)
ACCURACY = [f"accuracy.{rate}hz.{method}.{q}_error_pct" for rate in RATES for q in ("energy", "charge")
            for method in ("pbgrade", "rectangle", "integration")]
PICOWATT = ["ingest.picowatt_samples_per_s", "ingest.ratio_vs_picowatt", "ingest.picowatt_bytes_per_sample"]
POSITIVE = ["ingest.samples_per_s", "ingest.bytes_per_sample", *PICOWATT, "firmware.loop_us_per_sample",
            "firmware.max_rate_hz", "firmware.pty_samples_per_s", "simulator.wall_s", "memory.peak_rss_short_mb",
            "memory.peak_rss_long_mb", "memory.long_to_short"]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(out)], capture_output=True,
                          text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text()), proc.stdout


def test_quick_bench_keeps_every_figure_with_its_goal(quick):
    result, stdout = quick
    assert result["mode"] == "quick"
    assert all(result["machine"][k] for k in ("cpu", "cores", "python", "numpy", "micropython", "git_commit"))
    figures = result["figures"]
    assert set(figures) == {*POSITIVE, *ACCURACY, "firmware.heap_bytes_per_sample"}
    for key, f in figures.items():
        assert f["title"] in stdout or key.startswith("accuracy."), key
        if f["value"] is None:
            # the peer decoder is installed by `make bench`, not by `make test`; and on a busy shared
            # machine even the slowest rate may not keep pace with real time (the trials are kept)
            assert (key in PICOWATT and "picowatt" in f["unavailable"]) or key == "firmware.max_rate_hz", key
            continue
        assert isinstance(f["value"], (int, float)) and math.isfinite(f["value"]), key
        assert f["met"] is None if f["goal"] is None else isinstance(f["met"], bool), key
    for key in POSITIVE:
        assert figures[key]["value"] is None or figures[key]["value"] > 0, key


def test_deterministic_figures_meet_their_goals(quick):
    figures = quick[0]["figures"]
    assert figures["firmware.heap_bytes_per_sample"]["value"] == 0  # the sampling loop allocates nothing
    for q in ("energy", "charge"):
        f = figures[f"accuracy.10hz.integration.{q}_error_pct"]
        assert f["met"] and abs(f["value"]) <= 0.05
    for key in ACCURACY:
        assert abs(figures[key]["value"]) < 2, key  # a few sample periods of a minutes-long discharge


def _stream_with_faults():
    """A 1 kHz stream with lost, repeated and corrupt frames and a calibration arriving mid-run."""
    frames = wire.Deframer().feed(ingest.pbgrade_stream(ingest.codes(0.01))[0])
    rng = random.Random(5)
    out = []
    for k, frame in enumerate(frames):
        roll = rng.random()
        if k == len(frames) // 2:
            out.append(wire.build("CALIBRATION", 0, v_gain=1.01, v_offset_v=0.002, i_gain=0.99, i_offset_a=0.001,
                                  date=1795000000)[:-1])
        if roll < 0.02:
            continue
        if roll < 0.04:
            out.append(frame)
        elif roll < 0.05:
            frame = frame[:6] + bytes([frame[6] ^ 0x40]) + frame[7:]
        out.append(frame)
    return out


def _ingest(frames):
    evaluation = Evaluation(ingest.CONFIG, keep_trace=True)
    messages = [evaluation.feed(f) for f in frames]
    evaluation.close()
    return evaluation, messages


def test_batched_ingest_equals_frame_by_frame(monkeypatch):
    frames = _stream_with_faults()
    batched, messages = _ingest(frames)
    monkeypatch.setattr(pbgrade.evaluate, "BATCH", 1)
    single, _ = _ingest(frames)
    assert batched.frames_corrupt > 0 and batched.integrity()["gaps"]
    assert batched.integrity() == single.integrity()
    assert batched.integrator.summary() == single.integrator.summary()
    stats = ("mean_v", "sustained_min_v", "sustained_max_v", "interruptions", "loaded_samples")
    assert [getattr(batched.voltage, s) for s in stats] == [getattr(single.voltage, s) for s in stats]
    assert batched.last == single.last
    assert all((a == b).all() for a, b in zip(batched.samples(), single.samples()))
    for frame, msg in zip(frames, messages):  # a SAMPLES frame reads as construct would parse it
        if msg is not None and msg.type == "SAMPLES":
            parsed = wire.parse(wire.decode_frame(frame))
            assert (msg.seq, msg.body.index, msg.body.count, msg.body.data) == \
                (parsed.seq, parsed.body.index, parsed.body.count, parsed.body.data)


def test_a_samples_frame_whose_length_is_wrong_is_corrupt():
    evaluation = Evaluation(ingest.CONFIG)
    payload = bytes([0x90, 0, 0, 0, 0, 0, 0, 2]) + bytes(4)  # says 2 samples, holds 1
    assert evaluation.feed(wire.encode_frame(payload)[:-1]) is None
    assert evaluation.frames_corrupt == 1
