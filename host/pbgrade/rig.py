"""Rig files (rigs/*.toml): board, sensor, load, pins and the limits the
firmware enforces. Checked here so a typo is refused before anything is
switched on, with one line naming the field."""
from .paths import RIGS, resolve
from .tomlcheck import Fields, read_toml

CHIPS = ("INA226", "INA219", "INA228", "INA260", "INA3221")
SIGNED = ("shunt_error", "load_gain_error", "load_tempco_per_c")  # every other rig quantity is a magnitude
# [load] kind -> the [pins] field that drives it (scpi: the host sets the external load, the device
# switches it in and out through a relay in series, so its limits still cut it)
LOAD_KINDS = {"cc": "load_pwm", "dac": "load_dac", "relays": "load_relays", "scpi": "load_enable"}
LISTS = {"numbers": ((int, float), "numbers"), "integers": ((int,), "whole numbers")}  # list kinds: items, words
MAX_RELAYS = 8  # the relay mask is a byte
TODO = "see rigs/sim.toml for an example"

# section -> field -> (kind, required)
SCHEMA = {
    "rig": {"name": ("text", True), "board": ("text", True)},
    "sensor": {"chip": ("text", True), "address": ("integer", True), "shunt_ohms": ("number", True),
               "max_current_a": ("number", True), "averages": ("integer", True),
               "conversion_us": ("integer", True), "channel": ("integer", False)},
    "load": {"kind": ("text", True), "max_current_a": ("number", True), "short_pin": ("integer", False),
             "resistors_ohm": ("numbers", False), "resource": ("text", False)},
    "limits": {"max_voltage_v": ("number", True), "max_current_a": ("number", True),
               "max_power_w": ("number", False), "max_reverse_current_a": ("number", False),
               "max_load_temp_c": ("number", False), "max_dut_temp_c": ("number", False)},
    "pins": {"i2c_id": ("integer", True), "sda": ("integer", True), "scl": ("integer", True),
             "load_pwm": ("integer", False), "load_pwm_hz": ("integer", False), "load_dac": ("integer", False),
             "load_relays": ("integers", False), "load_enable": ("integer", False), "ntc_load": ("integer", False),
             "ntc_dut": ("integer", False)},
    "sim": {"seed": ("integer", False), "boot_us": ("integer", False), "sensor_address": ("integer", False),
            "shunt_error": ("number", False), "speed": ("number", False), "short_ohm": ("number", False),
            "load_gain_error": ("number", False), "load_tempco_per_c": ("number", False),
            "load_c_per_w": ("number", False), "load_tau_s": ("number", False)},
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
        value = _get(fields, key, kind, required)
        if value is not None:
            items = value if kind in LISTS else [value]
            if kind != "text" and min(items) < 0 and key not in SIGNED:
                fields.fail(key, f"= {value} is negative", "rig quantities are magnitudes")
            if kind == "number":
                value = float(value)
            elif kind == "numbers":
                value = [float(v) for v in value]
            out[key] = value
    return out


def _get(fields, key, kind, required):
    """fields.get, and the list kinds (LISTS): a non-empty list of one kind."""
    if kind not in LISTS or key not in fields.table:
        return fields.get(key, kind, TODO, required)
    types, words = LISTS[kind]
    value = fields.table[key]
    if not (isinstance(value, list) and value and all(isinstance(v, types) and not isinstance(v, bool) for v in value)):
        fields.fail(key, f"must be a list of {words}, got {value!r}", TODO)
    return value


def _check_consistency(path, rig):
    for limit, pin in (("max_load_temp_c", "ntc_load"), ("max_dut_temp_c", "ntc_dut")):
        if limit in rig["limits"] and rig["rig"]["board"] != "sim" and pin not in rig["pins"]:
            raise RigFileError(f"{path}: [limits] {limit} needs a temperature sensor: add [pins] {pin} "
                               f"(the ADC pin of its NTC), or remove the limit")
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
    _check_load(path, rig)


def _check_load(path, rig):
    """The load's kind, the fields it needs and none it cannot use, and the pins that drive it."""
    load, sim = rig["load"], rig["rig"]["board"] == "sim"
    kind = load["kind"]
    if kind not in LOAD_KINDS:
        raise RigFileError(f"{path}: [load] kind = {kind!r} is not known: use one of {', '.join(LOAD_KINDS)}")
    if load["max_current_a"] <= 0:
        raise RigFileError(f"{path}: [load] max_current_a must be positive")
    for field, owner in (("resistors_ohm", "relays"), ("resource", "scpi")):
        if kind == owner and field not in load:
            raise RigFileError(f"{path}: [load] {field} is missing: a kind = \"{owner}\" load needs it")
        if kind != owner and field in load:
            raise RigFileError(f"{path}: [load] {field} is for kind = \"{owner}\" only: remove it")
    ohms = load.get("resistors_ohm", [])
    if kind == "relays" and (len(ohms) > MAX_RELAYS or min(ohms) <= 0):
        raise RigFileError(f"{path}: [load] resistors_ohm must be 1 to {MAX_RELAYS} positive resistances")
    if sim and kind == "scpi" and load["resource"] != "sim":
        raise RigFileError(f"{path}: [load] resource = {load['resource']!r}: the simulated rig's external load "
                           f"is its own; write resource = \"sim\"")
    pin = LOAD_KINDS[kind]
    if not sim and pin not in rig["pins"]:
        raise RigFileError(f"{path}: [pins] {pin} is missing: a [load] kind = \"{kind}\" is driven from it")
    if not sim and kind == "relays" and len(rig["pins"]["load_relays"]) != len(ohms):
        raise RigFileError(f"{path}: [pins] load_relays must name one pin per [load] resistors_ohm "
                           f"({len(ohms)}), got {len(rig['pins']['load_relays'])}")
