"""Rig files (rigs/*.toml): board, sensor, load, pins and the limits the
firmware enforces. Checked here so a typo is refused before anything is
switched on, with one line naming the field."""
import tomllib

from .paths import RIGS, resolve

CHIPS = ("INA226",)

# section -> field -> (type, required)
SCHEMA = {
    "rig": {"name": (str, True), "board": (str, True)},
    "sensor": {"chip": (str, True), "address": (int, True), "shunt_ohms": (float, True),
               "max_current_a": (float, True), "averages": (int, True), "conversion_us": (int, True)},
    "load": {"kind": (str, True), "max_current_a": (float, True)},
    "limits": {"max_voltage_v": (float, True), "max_current_a": (float, True)},
    "pins": {"i2c_id": (int, True), "sda": (int, True), "scl": (int, True), "load_pwm": (int, True),
             "load_pwm_hz": (int, False)},
    "sim": {"seed": (int, False), "boot_us": (int, False), "sensor_address": (int, False)},
}


class RigFileError(ValueError):
    pass


def load_rig(name_or_path):
    path = resolve(name_or_path, RIGS, (".toml",))
    if path is None:
        raise RigFileError(f"rig {name_or_path!r} not found: give a rig file or one of "
                       f"{', '.join(sorted(p.stem for p in RIGS.glob('*.toml')))}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise RigFileError(f"{path}: not valid TOML ({e}): fix the file") from None
    rig = {}
    for section, value in data.items():
        if section not in SCHEMA:
            raise RigFileError(f"{path}: unknown section [{section}]: expected one of {', '.join(SCHEMA)}")
        rig[section] = _section(path, section, value)
    needed = {"rig", "sensor", "load", "limits"} | ({"sim"} if rig.get("rig", {}).get("board") == "sim" else {"pins"})
    for section in sorted(needed - rig.keys()):
        raise RigFileError(f"{path}: section [{section}] is missing: add it (see rigs/sim.toml)")
    _check_consistency(path, rig)
    return rig


def _section(path, section, value):
    fields = SCHEMA[section]
    out = {}
    for key, v in value.items():
        if key not in fields:
            raise RigFileError(f"{path}: [{section}] {key} is not a known field: expected one of {', '.join(fields)}")
        kind = fields[key][0]
        if kind is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if not isinstance(v, kind) or isinstance(v, bool):
            raise RigFileError(f"{path}: [{section}] {key} = {v!r} should be a {kind.__name__}")
        if kind in (int, float) and v < 0:
            raise RigFileError(f"{path}: [{section}] {key} = {v!r} must not be negative")
        out[key] = v
    for key, (_, required) in fields.items():
        if required and key not in out:
            raise RigFileError(f"{path}: [{section}] {key} is missing: add it")
    return out


def _check_consistency(path, rig):
    s = rig["sensor"]
    if s["chip"] not in CHIPS:
        raise RigFileError(f"{path}: [sensor] chip = {s['chip']!r} is not supported: use one of {', '.join(CHIPS)}")
    if not 0x40 <= s["address"] <= 0x4F:
        raise RigFileError(f"{path}: [sensor] address = {s['address']:#x} is outside the INA range 0x40-0x4F")
    if s["shunt_ohms"] <= 0 or s["max_current_a"] <= 0:
        raise RigFileError(f"{path}: [sensor] shunt_ohms and max_current_a must be positive")
    if rig["limits"]["max_current_a"] > s["max_current_a"]:
        raise RigFileError(f"{path}: [limits] max_current_a exceeds [sensor] max_current_a: the sensor "
                       f"could not see the limit being crossed; lower the limit or raise the sensor range")
