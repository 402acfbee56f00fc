# The station's sampling loop under the real micropython (run by bench/firmware.py):
#
#     micropython -X heapsize=192k bench/mp_loop.py RIG.json DUT.json CONFIG.json
#
# Runs one full discharge on the simulated board (chip, bus, load, power bank)
# twice: once as it runs, timed; once with the heap metered in chunks of
# ticks up to the chunk that ends the run, the simulated bus's allocations
# (the chip and the power bank compute in floats) counted apart so what
# remains is the firmware's. CONFIG.json is the CONFIG body the host would
# send. Prints one JSON line.
import gc
import json
import struct
import sys
import time

import station
import wire
from simboard import SimBoard

CHUNK = 16  # ticks between collections while metering: the simulator's floats must fit the heap


class Sink:
    """The serial port: bytes are counted, not kept."""

    def __init__(self):
        self.bytes = 0

    def write(self, buf, n):
        self.bytes += n
        return n


class Metered:
    """Stands in for the simulated bus and load: forwards each transaction and
    drive and counts the heap they allocated (the simulator's, not the firmware's)."""

    def __init__(self, target, load_drive):
        self.target = target
        self.bytes = 0
        self._load_drive = load_drive

    def load_drive(self, duty):
        a = gc.mem_alloc()
        self._load_drive(duty)
        self.bytes += gc.mem_alloc() - a

    def readfrom_mem_into(self, addr, memaddr, buf):
        a = gc.mem_alloc()
        self.target.readfrom_mem_into(addr, memaddr, buf)
        self.bytes += gc.mem_alloc() - a

    def writeto_mem(self, addr, memaddr, buf):
        a = gc.mem_alloc()
        self.target.writeto_mem(addr, memaddr, buf)
        self.bytes += gc.mem_alloc() - a


class Host:
    """The host's end of the link: frames commands for the station."""

    def __init__(self):
        self.out = bytearray()
        self.link = wire.Link(self, kept_bytes=0)  # it only sends commands: no ring to keep

    def write(self, buf, n):
        self.out.extend(buf[:n])

    def command(self, st, msg_type, body=b""):
        """Hand a framed command to the station byte by byte."""
        self.out = bytearray()
        payload = bytearray(3 + len(body) + 2)
        payload[0] = msg_type
        payload[3:3 + len(body)] = body
        self.link.send(payload, 3 + len(body))
        for b in self.out:
            if st.link.feed(b):
                st._command()


def load(path):
    with open(path) as f:
        return json.load(f)


def started(rig, dut, config, metered):
    board = SimBoard(rig, dut)
    board.serial_out = Sink()
    if metered:
        board.i2c = Metered(board.i2c, board.load_drive)
        board.load_drive = board.i2c.load_drive
    st = station.Station(board, rig)
    HOST.command(st, wire.CONFIG, struct.pack("<IHHHHH", config["period_us"], config["load_ma"], config["end_mv"],
                                              config["collapse_ma"], config["hold_ms"], config["flush_ms"]))
    HOST.command(st, wire.START)
    return st


def timed(rig, dut, config):
    st = started(rig, dut, config, False)
    gc.collect()
    t0 = time.ticks_us()
    while st.state == station.RUNNING:
        st.tick()
    us = time.ticks_diff(time.ticks_us(), t0)
    return {"samples": st.index, "skipped": st.skipped, "loop_us": us, "wire_bytes": st.board.serial_out.bytes,
            "truth": st.board.world.truth()}


def metered(rig, dut, config):
    """Heap the loop and the simulated bus allocated, over the samples before the run's last chunk."""
    st = started(rig, dut, config, True)
    sim = st.board.i2c
    sim.bytes = total = samples = 0
    gc.collect()
    gc.disable()
    while True:
        a = gc.mem_alloc()
        n = CHUNK
        while n and st.state == station.RUNNING:
            st.tick()
            n -= 1
        if st.state != station.RUNNING:
            break
        total += gc.mem_alloc() - a
        samples, counted = st.index, sim.bytes
        gc.collect()
    gc.enable()
    return {"metered_samples": samples, "loop_alloc_bytes": total, "sim_alloc_bytes": counted}


HOST = Host()
rig, dut, config = load(sys.argv[1]), load(sys.argv[2]), load(sys.argv[3])
result = timed(rig, dut, config)
result.update(metered(rig, dut, config), heap_bytes=gc.mem_alloc() + gc.mem_free())
print(json.dumps(result))
