"""Where pbgrade's files are: those it ships, the user's own that override them by name, and the data it writes.

Shipped files live in the installed package: the wheel maps the repository's firmware/, rigs/ (with the
simulator and its units) and protocol/ folders into it as pbgrade.firmware, pbgrade.rigs and pbgrade.protocol
(pyproject.toml's [tool.setuptools]); an editable install maps the same names to the checkout's folders. The
import system finds them either way, as real files on disk: the simulator runs them under micropython.

A rig, method, profile or simulated unit named on the command line is, in this order: a file at that path,
the user's file of that name in config_dir() (rigs/, methods/, profiles/, duts/), the shipped one."""
import importlib.util
import tempfile
from pathlib import Path

from . import settings
from .settings import config_dir  # the user's own files sit beside the settings file


def _shipped(folder):
    """The directory of the folder shipped as pbgrade.<folder>. Not importlib.resources.files(): on Python
    3.11 it refuses a folder an editable install maps, whose search path also holds a placeholder."""
    spec = importlib.util.find_spec(f"{__package__}.{folder}")
    return next(Path(p) for p in spec.submodule_search_locations if Path(p).is_dir())


FIRMWARE = _shipped("firmware")
RIGS = _shipped("rigs")
SIM = RIGS / "sim"
DUTS = SIM / "duts"
PROTOCOL = _shipped("protocol")
METHODS = _shipped("methods")
PROFILES = _shipped("profiles")
REPORT_TEMPLATE = Path(__file__).with_name("report.html")
ROOT = Path(__file__).resolve().parents[2]  # the checkout, for the tests and the bench; nothing shipped is found here
SHIPPED = {"rigs": RIGS, "methods": METHODS, "profiles": PROFILES, "duts": DUTS}  # kind of file -> its folder


def data_dir():
    """Results, journals and the run database: $PBGRADE_DATA, else the settings' `data`, else the platform's
    data folder (Linux: ~/.local/share/pbgrade). Made if missing and tried with a file: one that cannot be
    written is one line (SettingsError) before any command starts, not a traceback once a test has run."""
    folder, source = settings.data_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as e:
        why = "it is a file, not a folder" if folder.is_file() else e.strerror
        raise settings.SettingsError(
            f"the data folder {folder} ({source}) cannot be written ({why}): point $PBGRADE_DATA or the "
            f"settings' data (`pbgrade config`) at a folder you can write") from None
    return folder


def sim_flash(rig):
    """A simulated board's filesystem (its rig.json, its calibration): kept per rig in the data folder, where
    `pbgrade deploy` writes and the simulated rig boots from."""
    return data_dir() / "sim-flash" / rig["rig"]["name"]


def run_db():
    """The run database (record.Store): every run's record, in the data directory."""
    return data_dir() / "runs.sqlite"


def _folders(kind):
    return (config_dir() / kind, SHIPPED[kind])


def find(name_or_path, kind, suffixes=(".toml",)):
    """The file a command line names: a file at that path, else by name with one of the suffixes, the user's
    (config_dir()/kind) before the shipped one; None if there is none."""
    given = Path(name_or_path)
    if given.is_file():
        return given
    for folder in _folders(kind):
        for suffix in suffixes:
            path = folder / f"{name_or_path}{suffix}"
            if path.is_file():
                return path
    return None


def names(kind, suffixes=(".toml",)):
    """Every name find() knows for a kind, the user's and the shipped."""
    return sorted({p.name.removesuffix(suffix) for folder in _folders(kind) for suffix in suffixes
                   for p in folder.glob(f"*{suffix}")})


def where(kind):
    """Where names come from, for a "not found" message."""
    return f"yours in {config_dir() / kind}, then the shipped ones"


def named(name_or_path, kind: str, what: str, error: type[Exception]) -> Path:
    """The file a command line names (find), or one line of `error` listing the names there are."""
    path = find(name_or_path, kind)
    if path is None:
        raise error(f"{name_or_path}: no such {what}: use one of {', '.join(names(kind))} "
                    f"({where(kind)}), or give the path of a .toml file")
    return path
