"""`pbgrade ports`: every serial port, and what pbgrade firmware answers on it.

The ports are pyserial's list (device, description, USB VID:PID), the
simulated rigs' that `pbgrade sim` runs (their pseudo-terminals are in no
system list: each running `pbgrade sim` notes its ports in the data
folder's sim-ports/, and a note whose process is gone is dropped), and any
given with --port. Each is asked HELLO once, for about a second: a device
that answers is shown with its board, firmware, rig and channel; a port
another program holds is "busy", never waited on.
"""
import json
import os
from contextlib import contextmanager

from serial.tools import list_ports

from . import paths, wire
from .evaluate import Evaluation
from .link import IDLE_CONFIG, Link, PortBusy, RigError, device_channel, identify

HELLO_TIMEOUT_S = 1.0
NO_FIRMWARE = "no pbgrade firmware"
BUSY = "busy"


def describe(port):
    """What is on port: a dict (board, firmware, protocol, rig, settings_hash, channel, sensor, state) if
    pbgrade firmware answers HELLO within HELLO_TIMEOUT_S, else a short text: BUSY, NO_FIRMWARE, or why
    the port cannot be opened."""
    try:
        link = Link(port, lambda chunk: None)
    except PortBusy:
        return BUSY
    except RigError as e:
        return str(e)
    try:
        device = Evaluation(IDLE_CONFIG)
        identify(link, device, expect_fault=True, tries=1, timeout=HELLO_TIMEOUT_S)
    except RigError:
        return NO_FIRMWARE
    finally:
        link.close()
    ident = device.identity
    return {"board": ident.board.rpartition("/ch")[0] or ident.board, "board_id": ident.board_id,
            "firmware": wire.firmware_version(ident), "protocol": ident.proto,
            "rig": ident.rig, "settings_hash": ident.settings_hash.hex(), "channel": device_channel(ident),
            "sensor": wire.SENSORS.get(ident.sensor, "none"), "state": wire.STATES[device.status.state]}


def one_line(what):
    """describe()'s answer as the rest of a line."""
    if isinstance(what, str):
        return what
    serial = f" {what['board_id']}" if what["board_id"] else ""
    return (f"{what['board']}{serial} firmware {what['firmware']}, rig {what['rig']} "
            f"(settings {what['settings_hash']}), channel {what['channel']}, {what['sensor']}"
            + ("" if what["state"] == "idle" else f", {what['state']}")
            + ("" if what["protocol"] == wire.PROTO_VERSION else
               f", protocol {what['protocol']} (this host speaks {wire.PROTO_VERSION}: update one of them)"))


def _sim_folder():
    return paths.data_dir() / "sim-ports"


@contextmanager
def registered(rig_name, ports):
    """While it runs, a `pbgrade sim`'s ports are listed by `pbgrade ports`."""
    folder = _sim_folder()
    folder.mkdir(parents=True, exist_ok=True)
    note = folder / f"{os.getpid()}.json"
    note.write_text(json.dumps({"pid": os.getpid(), "rig": rig_name, "ports": ports}))
    try:
        yield
    finally:
        note.unlink(missing_ok=True)


def simulated_ports():
    """[(port, description)] of the simulated rigs running now; notes of ended ones are removed."""
    found = []
    for note in sorted(_sim_folder().glob("*.json")):
        try:
            entry = json.loads(note.read_text())
            os.kill(entry["pid"], 0)
        except (ValueError, KeyError, ProcessLookupError):
            note.unlink(missing_ok=True)
            continue
        except PermissionError:
            pass  # another user's process: alive
        found += [(port, f"simulated rig {entry['rig']} (pbgrade sim, pid {entry['pid']})") for port in entry["ports"]]
    return found


def all_ports(given=()):
    """[(port, description, "VID:PID" or "")]: the system's serial ports, the simulated rigs', the given."""
    rows = [(p.device, p.description or "", f"{p.vid:04X}:{p.pid:04X}" if p.vid is not None else "")
            for p in sorted(list_ports.comports(), key=lambda p: p.device)]
    rows += [(port, description, "") for port, description in simulated_ports()]
    known = {row[0] for row in rows}
    return rows + [(port, "given with --port", "") for port in given if port not in known]


def add_commands(sub):
    p = sub.add_parser("ports", help="list serial ports and the pbgrade firmware on each")
    p.add_argument("--port", action="append", default=[], help="also ask this port (a device path or pyserial URL)")
    p.set_defaults(func=cmd_ports)


def cmd_ports(args):
    rows = all_ports(args.port)
    if not rows:
        print("no serial ports found: plug the board in (a USB data cable, not a charging one)")
        return 0
    width = max(len(port) for port, _, _ in rows) + 2
    for port, description, usb in rows:
        print(f"{port:<{width}}{description}{f'  [{usb}]' if usb else ''}\n{'':<{width}}{one_line(describe(port))}",
              flush=True)
    return 0
