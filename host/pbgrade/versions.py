"""What this install is (`pbgrade --version`): the host's version, the wire protocol's, and the version of
the firmware it ships, so an operator can tell whether a board runs the firmware this host would deploy."""
import ast
from importlib.metadata import version

from . import paths, wire

FIRMWARE_VERSION_NAME = "FW_VERSION"  # firmware/station.py: FW_VERSION = (major, minor, patch), sent in IDENTITY


def firmware_version(station=paths.FIRMWARE / "station.py") -> str:
    """The shipped firmware's version, read from its source: MicroPython code cannot be imported here."""
    for node in ast.parse(station.read_text(), str(station)).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == FIRMWARE_VERSION_NAME for t in node.targets):
            return ".".join(str(part) for part in ast.literal_eval(node.value))
    raise LookupError(f"{station}: no {FIRMWARE_VERSION_NAME} = (major, minor, patch) in the firmware")


def host_version() -> str:
    """This host's version, as its package says: every record names the host that ran it."""
    return version("pbgrade")


def summary() -> str:
    return f"pbgrade {host_version()} (protocol {wire.PROTO_VERSION}, firmware {firmware_version()})"
