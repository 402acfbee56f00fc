"""fault://: a serial port that loses, corrupts, repeats and delays bytes on
purpose, to show what a bad cable does to a run before a real one does.

    fault://INNER?drop=0.001&corrupt=0.001&dup=0.001&delay_ms=5&seed=1

INNER is a device path (/dev/ttyACM0, COM3, a simulated rig's /dev/pts/N) or any
pyserial URL (a simulated rig's socket://127.0.0.1:PORT). The options are the query after the last '?', so an inner URL
keeps its own query before them: fault://spy:///dev/ttyACM0?file=rx.log?drop=0.01

    drop, corrupt, dup    chance per byte received (device -> host) that it is
                          lost, has one bit flipped, arrives twice (default 0)
    delay_ms              every read that returns bytes first waits this long
    tx_drop, tx_corrupt, tx_dup, tx_delay_ms
                          the same for the bytes sent (host -> device)
    seed                  integer (default 0); each byte's fate depends only on
                          the seed and its position in its direction's stream,
                          so the same bytes meet the same faults however the
                          reads cut them

What a port did is counted per direction in `port.rx` and `port.tx`
(bytes, dropped, corrupted, duplicated). Importing pbgrade.faults registers
the scheme with pyserial, so serial.serial_for_url("fault://...") works.
"""
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import numpy as np
import serial
from serial.serialutil import SerialBase, SerialException, to_bytes

SCHEME = "fault://"
FORM = "fault://PORT?drop=P&corrupt=P&dup=P&delay_ms=MS&tx_drop=P&...&seed=N"
CHANCES = ("drop", "corrupt", "dup")
SETTINGS = (*CHANCES, "delay_ms")


@dataclass
class Faults:
    """What one direction does to its bytes, and how often it did it."""
    rng: np.random.Generator = field(repr=False)
    drop: float = 0.0
    corrupt: float = 0.0
    dup: float = 0.0
    delay_ms: float = 0.0
    bytes: int = 0
    dropped: int = 0
    corrupted: int = 0
    duplicated: int = 0

    def apply(self, data):
        if not data:
            return data
        fate = self.rng.random((len(data), 4))  # per byte, in stream order: drop, corrupt, dup, which bit
        out = np.frombuffer(data, np.uint8).copy()
        kept = fate[:, 0] >= self.drop
        flipped = kept & (fate[:, 1] < self.corrupt)
        twice = kept & (fate[:, 2] < self.dup)
        out[flipped] ^= np.left_shift(1, (fate[flipped, 3] * 8).astype(np.uint8)).astype(np.uint8)
        self.bytes += len(data)
        self.dropped += int((~kept).sum())
        self.corrupted += int(flipped.sum())
        self.duplicated += int(twice.sum())
        if self.delay_ms:
            time.sleep(self.delay_ms / 1000)
        return np.repeat(out, kept.astype(np.intp) + twice).tobytes()

    def counts(self):
        return {"bytes": self.bytes, "dropped": self.dropped, "corrupted": self.corrupted,
                "duplicated": self.duplicated}


def each_way(chance, seed=0):
    """The options (after the '?') for drop, corrupt and dup each at chance per byte, both ways: a bad cable
    in the tests' and the benchmark's sweeps."""
    return "&".join(f"{way}{name}={chance:g}" for way in ("", "tx_") for name in CHANCES) + f"&seed={seed}"


def parse_url(url):
    """'fault://INNER?options' -> (INNER, rx Faults, tx Faults); SerialException names a bad option."""
    if not url.lower().startswith(SCHEME):
        raise SerialException(f"expected {FORM}, not {url!r}")
    inner, sep, query = url[len(SCHEME):].rpartition("?")
    if not sep:
        inner, query = query, ""
    if not inner:
        raise SerialException(f"{url!r} names no port to wrap: {FORM}")
    try:
        options = {key: float(value) for key, value in parse_qsl(query, strict_parsing=bool(query))}
    except ValueError as e:
        raise SerialException(f"{url!r}: {e}; every option takes a number: {FORM}") from None
    unknown = set(options) - {"seed", *(prefix + name for prefix in ("", "tx_") for name in SETTINGS)}
    if unknown:
        raise SerialException(f"{url!r}: unknown option {', '.join(sorted(unknown))}: {FORM}")
    for key, value in options.items():
        if value < 0 or (key.removeprefix("tx_") in CHANCES and value > 1):
            raise SerialException(f"{url!r}: {key}={value:g} is out of range: a chance goes from 0 to 1, "
                                  f"a delay and the seed from 0 up")
    seed = int(options.get("seed", 0))
    rx, tx = (Faults(np.random.default_rng([seed, stream]),
                     **{name: options.get(prefix + name, 0.0) for name in SETTINGS})
              for stream, prefix in enumerate(("", "tx_")))
    return inner, rx, tx


class Serial(SerialBase):
    """The inner port with faults on the way in and out (pyserial's handler for fault://)."""

    def open(self):
        if self.is_open:
            raise SerialException("port is already open")
        inner, self.rx, self.tx = parse_url(self.portstr)
        self._inner = serial.serial_for_url(inner, **self.get_settings())
        self._received = bytearray()  # what the faults made of the last read, beyond what it asked for
        self.is_open = True

    def close(self):
        if self.is_open:
            self.is_open = False
            self._inner.close()

    def read(self, size=1):
        while not self._received:  # a read whose bytes were all dropped is no timeout: read on
            data = self._inner.read(size)
            if not data:
                break
            self._received += self.rx.apply(data)
        data = bytes(self._received[:size])
        del self._received[:size]
        return data

    def write(self, data):
        data = to_bytes(data)
        self._inner.write(self.tx.apply(data))
        return len(data)

    @property
    def in_waiting(self):
        return len(self._received) + self._inner.in_waiting

    def reset_input_buffer(self):
        self._received.clear()
        self._inner.reset_input_buffer()

    def reset_output_buffer(self):
        self._inner.reset_output_buffer()

    def _reconfigure_port(self):
        self._inner.apply_settings(self.get_settings())

    def _update_rts_state(self):
        self._inner.rts = self._rts_state

    def _update_dtr_state(self):
        self._inner.dtr = self._dtr_state

    def _update_break_state(self):
        self._inner.break_condition = self._break_state

    cts = property(lambda self: self._inner.cts)
    dsr = property(lambda self: self._inner.dsr)
    ri = property(lambda self: self._inner.ri)
    cd = property(lambda self: self._inner.cd)


# pyserial looks for PACKAGE.protocol_SCHEME in serial.protocol_handler_packages: be that module
sys.modules.setdefault("pbgrade.protocol_fault", sys.modules[__name__])
if "pbgrade" not in serial.protocol_handler_packages:
    serial.protocol_handler_packages.append("pbgrade")
