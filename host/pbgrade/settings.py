"""What a station sets once: settings.toml in the platform's config folder
(platformdirs; $PBGRADE_CONFIG names another folder), and `pbgrade config`,
which shows where it is and what is in effect.

Precedence, first wins: a flag on the command line, then the environment
($PBGRADE_DATA for `data`, $PBGRADE_DB for `database`), then settings.toml, then the default.

    station = "bench2"          # this station in every record (default: the computer's name)
    rig = "pico-ina226"         # run, calibrate, sim and station (default: sim)
    port = "COM3"               # the settings' rig's port for run, calibrate and deploy
    ports = ["COM3", "COM4"]    # ... and its channels' ports for station
    data = "D:/pbgrade-data"    # results, journals, runs.sqlite
    browser = "C:/Program Files/Google/Chrome/Application/chrome.exe"  # report --pdf
    sim_link = "socket"         # how the simulated rig is reached: pty or socket
    operator = "A. Tester"      # who tests, in every record of run and station (--operator overrides)
    language = "zh-CN"          # reports, verdict lines and the live view: en or zh-CN
    database = "postgresql://pbgrade@db.factory/pbgrade"  # the central store the station's runs go to
"""
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs

from . import i18n
from .tomlcheck import Fields, Lines, read_toml

APP = "pbgrade"
SIM_LINKS = ("pty", "socket")
DATABASE_SCHEMES = ("postgresql", "postgres")  # a central store's URL (libpq's forms)
FIELDS = {  # name: (kind, the default and what it is for, as `pbgrade config` says it)
    "station": ("text", "the computer's name: this station in every record"),
    "rig": ("text", "sim: the rig run, calibrate, sim and station use"),
    "port": ("text", "none, the simulated rig starts: the settings' rig's port for run, calibrate and deploy"),
    "ports": ("texts", "none: the settings' rig's channel ports for station"),
    "data": ("text", "results, journals and runs.sqlite"),
    "browser": ("text", "the first Chromium-family browser found: prints report --pdf"),
    "sim_link": ("text", "pty where the platform has one, else socket: how the simulated rig is reached"),
    "operator": ("text", "none: who tests, in every record of run and station (--operator overrides it)"),
    "language": ("text", "en: the language of reports, verdict lines and the live view (en, zh-CN)"),
    "database": ("text", "none, runs stay in the station's own runs.sqlite: the central PostgreSQL store "
                         "(postgresql://...) the station's runs are synced to, and history and stats read"),
}


class SettingsError(ValueError):
    pass


def config_dir():
    """Where a station's own files live: $PBGRADE_CONFIG, else the platform's config folder."""
    return Path(os.environ.get("PBGRADE_CONFIG") or platformdirs.user_config_dir(APP))


def settings_file():
    return config_dir() / "settings.toml"


def load():
    """The settings the file sets, checked ({} without a file); a wrong one is one line naming it."""
    path = settings_file()
    if not path.exists():
        return {}
    data = read_toml(path, SettingsError)
    fields = Fields(data, f"{path}:", SettingsError, Lines(path, SettingsError))
    fields.no_unknown(tuple(FIELDS))
    for name, (kind, _) in FIELDS.items():
        if kind == "texts" and name in data and not (
                isinstance(data[name], list) and data[name] and all(isinstance(v, str) for v in data[name])):
            fields.fail(name, f"must be a list of texts in quotes, got {data[name]!r}", 'e.g. ports = ["COM3", "COM4"]')
        if kind == "text":
            fields.get(name, "text", f'e.g. {name} = "..."', required=False)
    if data.get("sim_link", "pty") not in SIM_LINKS:
        fields.fail("sim_link", f"is {data['sim_link']!r}", f"write one of {', '.join(SIM_LINKS)}")
    if "database" in data and urlsplit(data["database"]).scheme not in DATABASE_SCHEMES:
        fields.fail("database", f"is {data['database']!r}, not a PostgreSQL URL",
                    'e.g. database = "postgresql://user@host/dbname"')
    if data.get("language", i18n.SOURCE_LANGUAGE) not in i18n.LANGUAGES:
        fields.fail("language", f"is {data['language']!r}", f"write one of {', '.join(i18n.LANGUAGES)}")
    return data


def data_dir():
    """(folder, where it comes from): $PBGRADE_DATA, else the settings' `data`, else the platform's data folder."""
    if os.environ.get("PBGRADE_DATA"):
        return Path(os.environ["PBGRADE_DATA"]), "$PBGRADE_DATA"
    chosen = load().get("data")
    if chosen:
        return Path(chosen).expanduser(), "settings"
    return Path(platformdirs.user_data_dir(APP)), "default"


def central_database():
    """(URL, where it comes from) of the central store: $PBGRADE_DB, else the settings' `database`; (None, "")
    for a station on its own."""
    if os.environ.get("PBGRADE_DB"):
        url = os.environ["PBGRADE_DB"]
        if urlsplit(url).scheme not in DATABASE_SCHEMES:
            raise SettingsError(f"PBGRADE_DB is {url!r}, not a PostgreSQL URL: e.g. postgresql://user@host/dbname")
        return url, "$PBGRADE_DB"
    chosen = load().get("database")
    return (chosen, "settings") if chosen else (None, "")


def without_password(url: str) -> str:
    """A database URL fit to print: a password in it is left out (better kept in ~/.pgpass or $PGPASSWORD)."""
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    return parts._replace(netloc=user + parts.netloc.rpartition("@")[2]).geturl()


def station_host():
    """This station's name in records: the settings' `station`, else the computer's name."""
    return load().get("station") or socket.gethostname()


def fill(args):
    """What the command line left out, from the settings file (flags > settings > defaults). The settings'
    port (station: ports) belongs to the settings' rig: another --rig on the command line goes without it."""
    chosen = load()
    i18n.use(getattr(args, "lang", None) or chosen.get("language", i18n.SOURCE_LANGUAGE))
    if getattr(args, "sim_link", None) is None and "sim_link" in chosen:
        args.sim_link = chosen["sim_link"]
    if "operator" in args and args.operator is None:
        args.operator = chosen.get("operator")
    if "rig" not in args:
        return
    own_rig = args.rig in (None, chosen.get("rig"))
    args.rig = args.rig or chosen.get("rig")  # still None: the device's rig with --port, else sim
    if "port" in args and args.port is None and own_rig:
        args.port = chosen.get("ports" if args.command == "station" else "port")


def add_commands(sub):
    sub.add_parser("config", help="where the settings file is, and the settings in effect").set_defaults(
        func=cmd_config)


def cmd_config(args):
    path = settings_file()
    chosen = load()
    print(f"settings file: {path}" + ("" if path.exists() else " (none yet: write it to set what follows)"))
    print("precedence: flag > environment > settings file > default")
    data, source = data_dir()
    width = max(map(len, FIELDS)) + 1
    for name, (_, about) in FIELDS.items():
        if name == "data":
            shown = f"{str(data)!r}  ({source})"
        elif name == "database" and central_database()[0]:
            url, where = central_database()
            shown = f"{without_password(url)!r}  ({where})"
        elif name in chosen:
            shown = f"{chosen[name]!r}  (settings)"
        else:
            shown = f"(default: {about})"
        print(f"{name:<{width}}{shown}")
    return 0
