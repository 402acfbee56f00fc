"""Where the repository's data live: rig files, the simulator, firmware."""
from pathlib import Path

from . import settings

ROOT = Path(__file__).resolve().parents[2]
RIGS = ROOT / "rigs"
SIM = RIGS / "sim"
DUTS = SIM / "duts"
FIRMWARE = ROOT / "firmware"


def data_dir():
    """Results, journals and the run database: $PBGRADE_DATA, else the settings' `data`, else the platform's
    data folder (Linux: ~/.local/share/pbgrade)."""
    return settings.data_dir()[0]


def run_db():
    """The run database (record.Store): every run's record, in the data directory."""
    return data_dir() / "runs.sqlite"


def resolve(name_or_path, folder, suffixes):
    """A file path as given, or a name looked up in folder with one of the suffixes."""
    p = Path(name_or_path)
    if p.exists():
        return p
    for suffix in suffixes:
        q = folder / f"{name_or_path}{suffix}"
        if q.exists():
            return q
    return None
