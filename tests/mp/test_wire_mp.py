# Firmware framing against protocol/vectors.json, under the real micropython.
import json

import wire
from mpcases import run


class Capture:
    def __init__(self):
        self.data = b""

    def write(self, buf, n):
        self.data += bytes(buf[:n])


def device_frame(v, link):
    b = v["body"]
    t = v["type"]
    if t in ("SAMPLES", "SAMPLES20"):
        batch = wire.Batch(1 if t == "SAMPLES" else 2)
        batch.start(b["index"])
        for bus, cur in b["samples"]:
            batch.add(bus, cur)
        link.send(batch.buf, batch.size())
        return
    m = link.msg
    if t == "IDENTITY":
        n = wire.pack_identity(m, (b["fw_major"], b["fw_minor"], b["fw_patch"]), b["sensor"],
                               b["address"], b["sample_format"], b["shunt_uohm"], b["bus_lsb_v"], b["current_lsb_a"],
                               b["cal"], b["sensor_period_us"], b["max_mv"], b["max_ma"],
                               bytes.fromhex(b["settings_hash"]), b["board"], b["rig"], b["load_centi_c"],
                               b["dut_centi_c"], b["current_code_max"], b["board_id"])
    elif t == "ACK":
        n = wire.pack_ack(m, getattr(wire, b["cmd_type"]), b["cmd_seq"], b["result"])
    elif t == "EVENT":
        n = wire.pack_event(m, b["code"], b["index"], b["value"])
    elif t == "STATUS":
        n = wire.pack_status(m, b["state"], b["index"], b["skipped"], b["rx_errors"], b["load_ma"])
    elif t == "TEXT":
        n = wire.pack_text(m, b["level"], b["message"])
    elif t == "CALIBRATION":
        n = wire.pack_calibration(m, (b["v_gain"], b["v_offset_v"], b["i_gain"], b["i_offset_a"], b["date"]))
    elif t == "WEIGHT":
        n = wire.pack_weight(m, b["counts"], b["readings"])
    elif t == "GONE":
        n = wire.pack_gone(m, b["first"], b["count"])
    elif t == "ACCUMULATORS":
        n = wire.pack_accumulators(m, b["index"], b["energy"], b["charge"])
    elif t == "EDGE":
        n = wire.pack_edge(m, ("load_on", "load_off").index(b["edge"]), b["index"], b["offset_us"], b["bus"],
                           b["current"])
    else:
        raise AssertionError("no encoder for " + t)
    link.send(m, n)


def receive(link, data):
    done = 0
    for byte in data:
        if link.feed(byte):
            done += 1
    return done


with open("protocol/vectors.json") as f:
    vectors = json.load(f)["vectors"]


def test_vectors():
    for v in vectors:
        raw = bytes.fromhex(v["wire"])
        out = Capture()
        link = wire.Link(out, kept_bytes=0)
        if v["sender"] == "device" and v["body"].get("proto", wire.PROTO_VERSION) == wire.PROTO_VERSION:
            link.seq = v["seq"]  # an older device's IDENTITY is only read: this firmware sends its own version
            device_frame(v, link)
            assert out.data == raw, v["name"] + ": " + out.data.hex()
        # every vector also decodes: COBS, CRC, type and seq
        assert receive(link, raw) == 1, v["name"]
        assert link.rx[0] == getattr(wire, v["type"]), v["name"]
        assert link.rx[1] | (link.rx[2] << 8) == v["seq"], v["name"]
        if v["type"] == "CONFIG":
            b = v["body"]
            assert wire.unpack_config(link.rx) == (b["period_us"], b["load_ma"], b["end_mv"],
                                                   b["collapse_ma"], b["hold_ms"], b["flush_ms"])
        if v["type"] == "RUN_FOR":
            assert wire.unpack_run_for(link.rx) == v["body"]["slots"]
        if v["type"] == "LOAD_MODE":
            assert wire.unpack_load_mode(link.rx) == (("CC", "CP", "CR").index(v["body"]["mode"]), v["body"]["value"])
        if v["type"] == "RESEND":
            assert wire.unpack_resend(link.rx) == (v["body"]["first"], v["body"]["count"])
        if v["type"] == "SHORT":
            assert wire.unpack_short(link.rx) == (v["body"]["start_ms"], v["body"]["ms"])
        if v["type"] == "WEIGH":
            assert wire.unpack_weigh(link.rx) == v["body"]["readings"]
        if v["type"] == "CHARGE":
            b = v["body"]
            assert wire.unpack_charge(link.rx) == (b["taper_ma"], b["taper_s"], b["max_s"])
        if v["type"] == "RAMP":
            b = v["body"]
            assert wire.unpack_ramp(link.rx) == (b["step_ma"], b["step_ms"], b["max_ma"])
        if v["type"] == "CAL_SET":
            b = v["body"]
            got = wire.unpack_calibration(link.rx)
            want = (b["v_gain"], b["v_offset_v"], b["i_gain"], b["i_offset_a"])
            assert all(abs(g - w) < 1e-6 for g, w in zip(got, want)) and got[4] == b["date"]


def test_largest_batches_fill_a_frame():
    assert wire.Batch(1).capacity == 61 and wire.Batch(2).capacity == 48


def test_bad_frames_are_dropped():
    # a corrupt byte is counted and the frame dropped; the next frame still decodes
    link = wire.Link(Capture())
    good = bytes.fromhex(vectors[1]["wire"])
    bad = bytearray(good)
    bad[5] ^= 0x10
    assert receive(link, bytes(bad) + good) == 1 and link.rx_errors == 1
    # an over-long frame is dropped, not overrun into memory
    assert receive(link, b"\x01" * 400 + b"\x00" + good) == 1 and link.rx_errors == 2


def test_crc16_check_value():  # of CRC-16/CCITT-FALSE
    assert wire.crc16(b"123456789", 9) == 0x29B1


def test_cobs_round_trip():  # at the block boundaries
    for n in (0, 1, 253, 254, 255, 300):
        src = bytearray([(i * 7 + 1) % 256 for i in range(n)])
        enc = bytearray(n + 2 + n // 254)
        m = wire.cobs_encode(src, n, enc)
        assert all(enc[k] for k in range(m))
        dec = bytearray(n + 1)
        assert wire.cobs_decode(enc, m, dec) == n and dec[:n] == src, n


run(globals())
