"""Host ingest: wire bytes -> frames -> samples -> integrated energy, on one core,
against picowatt's decoder on an equal number of its own frames.

The stream is a discharge at 1 kHz as the firmware frames it (61 samples per
SAMPLES frame, the 254-byte limit), between the messages a run starts and ends
with, built with the host's own encoder from INA226 codes with noise.
"""
import os
import tempfile
import time
from importlib.metadata import version

import numpy as np

from pbgrade import wire
from pbgrade.evaluate import Evaluation
from pbgrade.journal import Journal

try:  # installed by `make bench` only (--no-deps: its GUI is not needed)
    from picowatt import protocol
except ImportError as e:
    protocol, PICOWATT_MISSING = None, f"picowatt is not installed ({e}): `make bench` installs it"

RATE_HZ = 1000
PER_FRAME = 61  # SAMPLES frame of the firmware at >= 61 samples per flush interval
CHUNK = 16384  # bytes per read, as a journal is replayed
LINK_CHUNK = 256  # bytes per read from the link, about a frame: the journal's worst case
SYNCS = 20  # checkpoints timed: the fsync and the manifest a journal writes every FSYNC_INTERVAL_S
BUS_LSB_V, CURRENT_LSB_A = 0.00125, 0.0002  # the simulated rig's INA226 (rigs/sim.toml)
CONFIG = {"period_us": 1_000_000 // RATE_HZ, "load_ma": 2100, "end_mv": 4000, "collapse_ma": 1050,
          "hold_ms": 1000, "flush_ms": 100}


def codes(hours, seed=1):
    """Bus and current codes of a 2.1 A discharge sagging from 5.05 to 4.90 V, output off for its last second."""
    n = round(hours * 3600 * RATE_HZ)
    rng = np.random.default_rng(seed)
    volts = np.linspace(5.05, 4.90, n) + rng.normal(0, 0.002, n)
    amps = 2.1 + rng.normal(0, 0.0004, n)
    volts[-RATE_HZ:] = amps[-RATE_HZ:] = 0.0
    out = np.empty(n, wire.SAMPLE_DTYPE)
    out["bus"] = np.rint(volts / BUS_LSB_V)
    out["current"] = np.rint(amps / CURRENT_LSB_A)
    return out


def pbgrade_stream(samples):
    """The device's side of a run, as bytes on the wire."""
    frames = [wire.build("IDENTITY", 0, proto=wire.PROTO_VERSION, fw_major=0, fw_minor=2, fw_patch=0, sensor=1,
                         address=0x40, sample_format=1, shunt_uohm=10000, bus_lsb_v=BUS_LSB_V,
                         current_lsb_a=CURRENT_LSB_A, cal=2560, sensor_period_us=664, max_mv=24000, max_ma=3500,
                         settings_hash=bytes(8), load_centi_c=wire.NO_TEMPERATURE, dut_centi_c=wire.NO_TEMPERATURE,
                         current_code_max=0x7FFF, board="bench", rig="bench", board_id="bench"),
              wire.build("CALIBRATION", 1, v_gain=1.0, v_offset_v=0.0, i_gain=1.0, i_offset_a=0.0, date=0),
              wire.build("ACK", 2, cmd_type="START", cmd_seq=0, result=0)]
    data = samples.tobytes()
    seq = len(frames)
    for first in range(0, samples.size, PER_FRAME):
        count = min(PER_FRAME, samples.size - first)
        frames.append(wire.build("SAMPLES", seq & 0xFFFF, index=first, count=count,
                                 data=data[4 * first:4 * (first + count)]))
        seq += 1
    frames.append(wire.build("EVENT", seq & 0xFFFF, code=wire.Event.END_VOLTAGE, index=samples.size - RATE_HZ,
                             value=0))
    frames.append(wire.build("STATUS", (seq + 1) & 0xFFFF, state=wire.State.ENDED, index=samples.size, skipped=0,
                             rx_errors=0, load_ma=0))
    return b"".join(frames), len(frames)


def ingest(stream):
    """Replay a stream through the host's decoder and integrator: (evaluation, energy in Wh, seconds)."""
    start = time.perf_counter()
    evaluation = Evaluation(CONFIG)
    deframer = wire.Deframer()
    for k in range(0, len(stream), CHUNK):
        for frame in deframer.feed(stream[k:k + CHUNK]):
            evaluation.feed(frame)
    evaluation.close()
    energy_wh = evaluation.integrator.energy_wh  # integrates the last batch
    return evaluation, energy_wh, time.perf_counter() - start


def journal(stream):
    """The journal's cost as a run receives the stream: (seconds to write and hash it a link read at a time,
    seconds per checkpoint: its fsync and the manifest saying so)."""
    with tempfile.TemporaryDirectory() as folder:
        run = Journal(folder)
        run.begin("discharge")
        start = time.perf_counter()
        for k in range(0, len(stream), LINK_CHUNK):
            run.received(stream[k:k + LINK_CHUNK])
        writing = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(SYNCS):
            run._sync()
        checkpoint = (time.perf_counter() - start) / SYNCS
        run.close()
    return writing, checkpoint


def picowatt_stream(samples, frames):
    """`frames` DATA frames of picowatt's own format, encoded by its own encoder, from the same codes.

    Its firmware sends 20 records per frame (firmware/src/main.c, RECORDS_PER_FRAME)."""
    per_frame = 20
    n = min(frames * per_frame, samples.size)
    records = np.zeros(n, protocol.RECORD_DTYPE)
    records["t_us"] = np.arange(n, dtype=np.uint64) * CONFIG["period_us"] % 2**32
    records["vbus_raw"] = samples["bus"][:n] * (BUS_LSB_V / protocol.VBUS_LSB_V)
    records["curr_raw"] = samples["current"][:n] * (CURRENT_LSB_A / protocol.CURRENT_LSB_A[0])
    data = records.tobytes()
    size = records.dtype.itemsize
    out = []
    for seq, first in enumerate(range(0, n, per_frame)):
        count = min(per_frame, n - first)
        payload = (seq & 0xFFFF).to_bytes(2, "little") + bytes([count]) + data[size * first:size * (first + count)]
        out.append(protocol.encode_frame(protocol.FRAME_DATA, payload))
    return b"".join(out), n


def picowatt_decode(stream):
    """picowatt's Decoder and DATA parser over a stream: (samples, seconds)."""
    start = time.perf_counter()
    decoder = protocol.Decoder()
    n = 0
    for k in range(0, len(stream), CHUNK):
        for ftype, payload in decoder.feed(stream[k:k + CHUNK]):
            if ftype == protocol.FRAME_DATA:
                n += len(protocol.parse_data_frame(payload)[1])
    return n, time.perf_counter() - start


def one_core():
    """Pin this process to one core for a measurement: the figure is per core."""
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})
    return cpus


def run(hours):
    samples = codes(hours)
    stream, frames = pbgrade_stream(samples)
    cpus = one_core()
    try:
        evaluation, energy_wh, seconds = ingest(stream)
        journal_s, checkpoint_s = journal(stream)
        peer = picowatt(samples, frames)
    finally:
        os.sched_setaffinity(0, cpus)
    received = evaluation.samples_received
    integrity = evaluation.integrity()
    if received != samples.size or integrity["samples_lost"] or integrity["frames_corrupt"]:
        raise RuntimeError(f"ingest lost data: {received} of {samples.size} samples, {integrity}")
    ours = received / seconds
    figures = {"samples_per_s": ours, "bytes_per_sample": len(stream) / received,
               "journal_samples_per_s": received / journal_s, "journal_checkpoint_ms": checkpoint_s * 1e3}
    if "unavailable" in peer:
        figures.update(picowatt_samples_per_s=peer, ratio_vs_picowatt=peer, picowatt_bytes_per_sample=peer)
    else:
        figures.update(picowatt_samples_per_s=peer["samples_per_s"],
                       ratio_vs_picowatt=ours / peer["samples_per_s"],
                       picowatt_bytes_per_sample=peer["bytes_per_sample"])
    details = {"stream_hours": hours, "rate_hz": RATE_HZ, "samples": received, "frames": frames,
               "stream_bytes": len(stream), "seconds": seconds, "energy_wh": energy_wh,
               "picowatt": peer}
    return figures, details


def picowatt(samples, frames):
    """picowatt's figures, or why there are none."""
    if protocol is None:
        return {"unavailable": PICOWATT_MISSING}
    stream, n = picowatt_stream(samples, frames)
    decoded, seconds = picowatt_decode(stream)
    if decoded != n:
        raise RuntimeError(f"picowatt decoded {decoded} of {n} samples")
    return {"version": version("picowatt"), "frames": frames, "samples": n, "seconds": seconds,
            "samples_per_s": n / seconds, "bytes_per_sample": len(stream) / n}
