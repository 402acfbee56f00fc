"""Frames on the wire: COBS around a payload and its CRC-16/CCITT-FALSE.

protocol/protocol.json is the definition (SPEC.md explains it); the constants and
struct formats here are written out by hand, and tests/test_protocol_table.py
checks them against it. Everything works in buffers allocated once, so sending
a batch of samples allocates nothing on a 190 KB heap. The byte loops are viper:
a 250-byte frame costs well under a millisecond on an RP2040.

Usage::

    link = Link(sys.stdout.buffer)
    n = pack_ack(link.msg, cmd_type, cmd_seq, 0)
    link.send(link.msg, n)
"""
import array
import hashlib
import json
import struct

import micropython
from micropython import const

PROTO_VERSION = const(5)
MAX_FRAME = const(254)  # payload + CRC: one COBS block, so COBS adds exactly one byte
KEPT_BYTES = const(16384)  # recent wire frames kept for resending: ~5 min at 10 samples/s, ~4 s at 1000
KEPT_FRAMES = const(512)  # at most this many of them (an index entry each)
KEPT_BUDGET = const(32768)  # for all of a board's channels: 16 KB each for 1 or 2, 10.7 KB for 3...
_LONGEST = const(256)  # the longest wire frame: COBS(254) + delimiter
_WRAP = const(0x3FFFFFFF)  # byte counts wrap here, staying small ints (no heap) on a 32-bit port

HELLO = const(0x01)
CONFIG = const(0x02)
START = const(0x03)
STOP = const(0x04)
STATUS_REQ = const(0x05)
CAL_SET = const(0x06)
RAMP = const(0x07)
RUN_FOR = const(0x08)
SHORT = const(0x09)
RESEND = const(0x0A)
CLEAR = const(0x0B)
LOAD_MODE = const(0x0C)
LEAVE = const(0x0D)
CHARGE = const(0x10)
WEIGH = const(0x11)
IDENTITY = const(0x81)
ACK = const(0x82)
CALIBRATION = const(0x83)
WEIGHT = const(0x84)
SAMPLES = const(0x90)
SAMPLES20 = const(0x91)
EVENT = const(0xA0)
STATUS = const(0xA1)
TEXT = const(0xA2)
ACCUMULATORS = const(0xA3)
GONE = const(0xA4)
EDGE = const(0xA5)

_SAMPLES_HEADER = const(8)  # type, seq, index u32, count
_IDENTITY_FIXED = const(48)  # header and fixed fields; the board's name, the rig's and the board's id follow


@micropython.viper
def crc16(buf, n: int) -> int:
    p = ptr8(buf)
    crc = 0xFFFF
    i = 0
    while i < n:
        crc ^= p[i] << 8
        j = 0
        while j < 8:
            if crc & 0x8000:
                crc = ((crc << 1) ^ 0x1021) & 0xFFFF
            else:
                crc = (crc << 1) & 0xFFFF
            j += 1
        i += 1
    return crc


@micropython.viper
def cobs_encode(src, n: int, dst) -> int:
    """Encode n bytes of src into dst (n + 1 + n // 254 bytes); returns the length."""
    s = ptr8(src)
    d = ptr8(dst)
    code_at = 0
    code = 1
    o = 1
    i = 0
    while i < n:
        b = s[i]
        if b == 0:
            d[code_at] = code
            code_at = o
            o += 1
            code = 1
        else:
            d[o] = b
            o += 1
            code += 1
            if code == 0xFF:
                d[code_at] = code
                code_at = o
                o += 1
                code = 1
        i += 1
    d[code_at] = code
    return o


@micropython.viper
def copy_into(src, n: int, dst, at: int):
    """dst[at:at+n] = src[:n] without the slice objects the heap would pay for."""
    s = ptr8(src)
    d = ptr8(dst)
    i = 0
    while i < n:
        d[at + i] = s[i]
        i += 1


@micropython.viper
def cobs_decode(src, n: int, dst) -> int:
    """Decode n bytes of src into dst; returns the length, or -1 if not valid COBS."""
    s = ptr8(src)
    d = ptr8(dst)
    i = 0
    o = 0
    while i < n:
        code = s[i]
        if code == 0:
            return -1
        end = i + code
        if end > n:
            return -1
        i += 1
        while i < end:
            d[o] = s[i]
            o += 1
            i += 1
        if code != 0xFF and i < n:
            d[o] = 0
            o += 1
    return o


def read_settings(path):
    """(the rig, the hash IDENTITY reports of it) from the rig.json a board boots with: the first 8 bytes of
    the SHA-256 of the file's bytes, as the host hashed what it wrote (pbgrade.rig.settings_hash)."""
    with open(path, "rb") as f:
        data = f.read()
    return json.loads(data), hashlib.sha256(data).digest()[:8]


def links(channels):
    """A Link for each channel, sharing KEPT_BUDGET of kept frames. Make them
    first, on a heap still in one piece: their rings are the largest blocks
    (Station sets each one's output)."""
    kept = min(KEPT_BYTES, KEPT_BUDGET // channels)
    return [Link(None, kept) for _ in range(channels)]


class Link:
    """Sends payloads as framed, numbered frames; reassembles received frames.

    Every frame sent is also copied, as sent, into a ring of the most recent
    kept_bytes, packed end to end, so a host that missed one (a corrupt byte, a
    USB hiccup, a restart) can ask for it again by number and get the same
    bytes. Packed, small frames at low rates reach back minutes."""

    def __init__(self, out, kept_bytes=KEPT_BYTES):
        self.out = out
        self.seq = 0
        self.msg = bytearray(MAX_FRAME)  # scratch payload for small messages
        self._frame = bytearray(_LONGEST)
        self._ring = bytearray(max(kept_bytes, _LONGEST))
        self._at = 0  # where the next frame goes in the ring
        self._written = 0  # bytes put in the ring so far, modulo _WRAP
        self._entries = max(1, KEPT_FRAMES * kept_bytes // KEPT_BYTES)  # 1: a link that only receives keeps nothing
        self._offsets = array.array("H", bytes(2 * self._entries))
        self._lens = array.array("H", bytes(2 * self._entries))
        self._seqs = array.array("H", bytes(2 * self._entries))
        self._ends = array.array("I", bytes(4 * self._entries))  # _written just after each frame
        self._raw = bytearray(MAX_FRAME + 2)
        self._n = 0
        self.rx = bytearray(MAX_FRAME)  # last valid received payload
        self.rx_len = 0
        self.rx_errors = 0

    def send(self, payload, n):
        """Stamp seq into payload[1:3], append the CRC and write one frame."""
        seq = self.seq
        payload[1] = seq & 0xFF
        payload[2] = seq >> 8
        crc = crc16(payload, n)
        payload[n] = crc & 0xFF
        payload[n + 1] = crc >> 8
        frame = self._frame
        m = cobs_encode(payload, n + 2, frame) + 1
        frame[m - 1] = 0
        self.out.write(frame, m)
        self._keep(seq, frame, m)
        self.seq = (seq + 1) & 0xFFFF

    def _keep(self, seq, frame, m):
        at = self._at
        skipped = 0
        if at + m > len(self._ring):  # no room before the end: start again at 0, the tail unused
            skipped = len(self._ring) - at
            at = 0
        copy_into(frame, m, self._ring, at)
        self._written = (self._written + skipped + m) & _WRAP
        k = seq % self._entries
        self._offsets[k] = at
        self._lens[k] = m
        self._seqs[k] = seq
        self._ends[k] = self._written
        self._at = at + m

    def _kept(self, seq):
        """Index entry of frame seq if its bytes are still in the ring, else -1."""
        k = seq % self._entries
        since = (self._written - self._ends[k]) & _WRAP  # bytes written over the ring after it
        if self._seqs[k] != seq or not self._lens[k] or not 0 < (self.seq - seq) & 0xFFFF <= self._entries:
            return -1
        return k if since + self._lens[k] <= len(self._ring) - _LONGEST else -1

    def resend(self, first, count):
        """Write the kept frames first .. first+count-1 again, unchanged; returns
        how many of the first ones are no longer kept (or were never sent)."""
        gone = 0
        for j in range(count):
            k = self._kept((first + j) & 0xFFFF)
            if k >= 0:
                at = self._offsets[k]
                self.out.write(memoryview(self._ring)[at:at + self._lens[k]], self._lens[k])
            elif gone == j:
                gone += 1
        return gone

    def feed(self, byte):
        """Take one received byte; True when self.rx holds a complete valid payload."""
        if byte:
            if self._n < len(self._raw):
                self._raw[self._n] = byte
            self._n += 1
            return False
        n = self._n
        self._n = 0
        if n == 0:
            return False
        m = cobs_decode(self._raw, n, self.rx) if n <= len(self._raw) else -1
        if m < 5 or crc16(self.rx, m - 2) != self.rx[m - 2] | (self.rx[m - 1] << 8):
            self.rx_errors += 1
            return False
        self.rx_len = m - 2
        return True


class Batch:
    """Consecutive samples collected in place in their own SAMPLES payload.

    Format 1 (SAMPLES): bus u16, current i16. Format 2 (SAMPLES20, for
    20-bit chips): bus u20 and current i20 packed little-endian in 5 bytes,
    assembled byte by byte so no intermediate leaves the 31-bit small ints."""

    def __init__(self, sample_format=1):
        self.buf = bytearray(MAX_FRAME)
        self.buf[0] = SAMPLES if sample_format == 1 else SAMPLES20
        self.size_each = 4 if sample_format == 1 else 5
        self.capacity = (MAX_FRAME - 2 - _SAMPLES_HEADER) // self.size_each
        self.count = 0

    def start(self, index):
        struct.pack_into("<I", self.buf, 3, index)
        self.count = 0

    def add(self, bus, current):
        b = self.buf
        if self.size_each == 4:
            o = _SAMPLES_HEADER + 4 * self.count
            b[o] = bus & 0xFF
            b[o + 1] = bus >> 8
            b[o + 2] = current & 0xFF
            b[o + 3] = (current >> 8) & 0xFF
        else:
            o = _SAMPLES_HEADER + 5 * self.count
            b[o] = bus & 0xFF
            b[o + 1] = (bus >> 8) & 0xFF
            b[o + 2] = (bus >> 16) & 0x0F | (current & 0x0F) << 4
            b[o + 3] = (current >> 4) & 0xFF
            b[o + 4] = (current >> 12) & 0xFF
        self.count += 1

    def size(self):
        """Payload length, with the sample count written in."""
        self.buf[7] = self.count
        return _SAMPLES_HEADER + self.size_each * self.count


def pack_identity(buf, fw_version, sensor, address, sample_format, shunt_uohm, bus_lsb_v, current_lsb_a,
                  cal, sensor_period_us, max_mv, max_ma, settings_hash, board, rig, load_centi_c, dut_centi_c,
                  current_code_max, board_id):
    """settings_hash: the first 8 bytes of the SHA-256 of the rig.json the device booted with; rig: its name."""
    # load_centi_c, dut_centi_c: the NTCs in 0.01 degC, -32768 where the rig has none (protocol 3);
    # current_code_max: the largest current code the sensor reads as set; board_id: the board's serial (protocol 5)
    buf[0] = IDENTITY
    struct.pack_into("<BBBBBBBIffHIHH8shhI", buf, 3, PROTO_VERSION, fw_version[0], fw_version[1],
                     fw_version[2], sensor, address, sample_format, shunt_uohm, bus_lsb_v, current_lsb_a,
                     cal, sensor_period_us, max_mv, max_ma, settings_hash, load_centi_c, dut_centi_c,
                     current_code_max)
    n = _IDENTITY_FIXED
    for name in (board.encode(), rig.encode(), board_id.encode()):
        buf[n] = len(name)
        buf[n + 1:n + 1 + len(name)] = name
        n += 1 + len(name)
    return n


def pack_ack(buf, cmd_type, cmd_seq, result):
    buf[0] = ACK
    struct.pack_into("<BHB", buf, 3, cmd_type, cmd_seq, result)
    return 7


def pack_event(buf, code, index, value):
    buf[0] = EVENT
    struct.pack_into("<BIi", buf, 3, code, index, value)
    return 12


def pack_status(buf, state, index, skipped, rx_errors, load_ma):
    buf[0] = STATUS
    struct.pack_into("<BIIHH", buf, 3, state, index, skipped, rx_errors, load_ma)
    return 16


def pack_calibration(buf, cal):
    """cal: (v_gain, v_offset_v, i_gain, i_offset_a, date); date 0 = never calibrated."""
    buf[0] = CALIBRATION
    struct.pack_into("<ffffI", buf, 3, cal[0], cal[1], cal[2], cal[3], cal[4])
    return 23


def pack_weight(buf, counts, readings):
    """The scale's mean raw reading (HX711 counts, tare not taken off) over `readings` conversions."""
    buf[0] = WEIGHT
    struct.pack_into("<iB", buf, 3, counts, readings)
    return 8


def unpack_ramp(buf):
    """RAMP body -> (step_ma, step_ms, max_ma)."""
    return struct.unpack_from("<HHH", buf, 3)


def unpack_run_for(buf):
    """RUN_FOR body -> slots."""
    return struct.unpack_from("<I", buf, 3)[0]


def unpack_resend(buf):
    """RESEND body -> (first_seq, count)."""
    return struct.unpack_from("<HH", buf, 3)


def pack_gone(buf, first, count):
    """Frames first .. first+count-1 asked for again but no longer kept: lost for good."""
    buf[0] = GONE
    struct.pack_into("<HH", buf, 3, first, count)
    return 7


def unpack_load_mode(buf):
    """LOAD_MODE body -> (mode, value): 0 CC mA, 1 CP mW, 2 CR mOhm."""
    return struct.unpack_from("<BI", buf, 3)


def unpack_charge(buf):
    """CHARGE body -> (taper_ma, taper_s, max_s)."""
    return struct.unpack_from("<HHI", buf, 3)


def unpack_weigh(buf):
    """WEIGH body -> readings."""
    return struct.unpack_from("<B", buf, 3)[0]


def unpack_short(buf):
    """SHORT body -> (start_ms, ms)."""
    return struct.unpack_from("<HH", buf, 3)


def unpack_calibration(buf):
    """CAL_SET or CALIBRATION body -> (v_gain, v_offset_v, i_gain, i_offset_a, date)."""
    return struct.unpack_from("<ffffI", buf, 3)


def pack_accumulators(buf, index, energy, charge):
    """A chip's own 40-bit energy and charge counts, read at the end of a run."""
    buf[0] = ACCUMULATORS
    struct.pack_into("<IQq", buf, 3, index, energy, charge)
    return 23


def pack_edge(buf, edge, index, offset_us, bus, current):
    """A reading at the instant the load switched on (edge 0) or off (1): at index x period + offset_us on the
    run's time axis (slot index is due at index x period); bus and current are the sensor's raw codes."""
    buf[0] = EDGE
    struct.pack_into("<BIiii", buf, 3, edge, index, offset_us, bus, current)
    return 20


def pack_text(buf, level, message):
    buf[0] = TEXT
    buf[3] = level
    data = message.encode()[:MAX_FRAME - 6]
    buf[4:4 + len(data)] = data
    return 4 + len(data)


def unpack_config(buf):
    """CONFIG body -> (period_us, load_ma, end_mv, collapse_ma, hold_ms, flush_ms)."""
    return struct.unpack_from("<IHHHHH", buf, 3)
