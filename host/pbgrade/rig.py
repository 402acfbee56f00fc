"""Rig files (rigs/*.toml): board, sensor, load, pins and the limits the
firmware enforces. Checked here so a typo is refused before anything is
switched on, with one line naming the field."""
from .paths import RIGS, resolve
from .tomlcheck import Fields, read_toml

CHIPS = ("INA226", "INA219", "INA228", "INA260", "INA3221")
SIGNED = ("shunt_error",)  # every other rig quantity is a magnitude

# section -> field -> (kind, required)
SCHEMA = {
    "rig": {"name": ("text", True), "board": ("text", True)},
    "sensor": {"chip": ("text", True), "address": ("integer", True), "shunt_ohms": ("number", True),
               "max_current_a": ("number", True), "averages": ("integer", True),
               "conversion_us": ("integer", True), "channel": ("integer", False)},
    "load": {"kind": ("text", True), "max_current_a": ("number", True), "short_pin": ("integer", False)},
    "limits": {"max_voltage_v": ("number", True), "max_current_a": ("number", True)},
    "pins": {"i2c_id": ("integer", True), "sda": ("integer", True), "scl": ("integer", True),
             "load_pwm": ("integer", True), "load_pwm_hz": ("integer", False)},
    "sim": {"seed": ("integer", False), "boot_us": ("integer", False), "sensor_address": ("integer", False),
            "shunt_error": ("number", False), "speed": ("number", False), "short_ohm": ("number", False)},
}


class RigFileError(ValueError):
    pass


def load_rig(name_or_path):
    path = resolve(name_or_path, RIGS, (".toml",))
    if path is None:
        raise RigFileError(f"rig {name_or_path!r} not found: give a rig file or one of "
                           f"{', '.join(sorted(p.stem for p in RIGS.glob('*.toml')))}")
    data = read_toml(path, RigFileError)
    Fields(data, f"{path}:", RigFileError).no_unknown(tuple(SCHEMA))
    rig = {section: _section(path, section, table) for section, table in data.items()}
    board = rig.get("rig", {}).get("board")
    for section in ("rig", "sensor", "load", "limits", "sim" if board == "sim" else "pins"):
        if section not in rig:
            raise RigFileError(f"{path}: [{section}] is missing: add it (rigs/sim.toml and "
                               f"rigs/pico-ina226.toml show every field)")
    _check_consistency(path, rig)
    return rig


def _section(path, section, table):
    if not isinstance(table, dict):
        raise RigFileError(f"{path}: {section} must be a [{section}] table")
    fields = Fields(table, f"{path}: [{section}]", RigFileError)
    fields.no_unknown(tuple(SCHEMA[section]))
    out = {}
    for key, (kind, required) in SCHEMA[section].items():
        value = fields.get(key, kind, "see rigs/sim.toml for an example", required)
        if value is not None:
            if kind != "text" and value < 0 and key not in SIGNED:
                fields.fail(key, f"= {value} is negative", "rig quantities are magnitudes")
            out[key] = float(value) if kind == "number" else value
    return out


def _check_consistency(path, rig):
    s = rig["sensor"]
    if s["chip"] not in CHIPS:
        raise RigFileError(f"{path}: [sensor] chip = {s['chip']!r} is not supported: use one of {', '.join(CHIPS)}")
    if not 0x40 <= s["address"] <= 0x4F:
        raise RigFileError(f"{path}: [sensor] address = {s['address']:#x} is outside the INA range 0x40-0x4F")
    if s["shunt_ohms"] <= 0 or s["max_current_a"] <= 0:
        raise RigFileError(f"{path}: [sensor] shunt_ohms and max_current_a must be positive")
    if (s["chip"] == "INA3221") != ("channel" in s):
        raise RigFileError(f"{path}: [sensor] channel (1-3) is for the three-channel INA3221 only: "
                           f"{'add' if s['chip'] == 'INA3221' else 'remove'} it")
    if rig["limits"]["max_current_a"] > s["max_current_a"]:
        raise RigFileError(f"{path}: [limits] max_current_a exceeds [sensor] max_current_a: the sensor "
                           f"could not see the limit being crossed; lower the limit or raise the sensor range")
