"""Rig files (rigs/*.toml): board, sensor, load, pins and the limits the
firmware enforces. Checked here so a typo is refused before anything is
switched on, with one line naming the field.

A rig with several test channels on one board lists them as [[channel]]
tables: each channel is the rig's tables with the channel's own fields over
them (its sensor's address, its load's pins...), and is checked as a rig of
its own; the channels share the board and its I2C bus. load_rig() then puts
the channels, each a whole rig table with [rig] channel = k, under
"channels" (what the firmware reads); channels(rig) lists them for any rig."""
import hashlib
import json
import struct

from . import wire
from . import paths
from .paths import RIGS
from .tomlcheck import Fields, read_toml

SIGNED = ("shunt_error", "load_gain_error", "load_tempco_per_c")  # every other rig quantity is a magnitude
# [load] kind -> the [pins] field that drives it (scpi: the host sets the external load, the device
# switches it in and out through a relay in series, so its limits still cut it)
LOAD_KINDS = {"cc": "load_pwm", "dac": "load_dac", "relays": "load_relays", "scpi": "load_enable"}
LISTS = {"numbers": ((int, float), "numbers"), "integers": ((int,), "whole numbers")}  # list kinds: items, words
MAX_RELAYS = 8  # the relay mask is a byte
MAX_CHANNELS = 8
CHANNEL_SECTIONS = ("sensor", "load", "limits", "pins", "sim")  # what a [[channel]] may change
SHARED_PINS = ("i2c_id", "sda", "scl", "repl_pin")  # the board's one I2C bus, and its pin to skip the station
TODO = f"see {RIGS / 'sim.toml'} for an example"

SENSOR = {"chip": ("text", True), "address": ("integer", True), "shunt_ohms": ("number", True),
          "max_current_a": ("number", True), "averages": ("integer", True), "conversion_us": ("integer", True),
          "channel": ("integer", False)}
# section -> field -> (kind, required)
SCHEMA = {
    "rig": {"name": ("text", True), "board": ("text", True)},
    "sensor": {**SENSOR, "alert_pin": ("integer", False)},
    # a charging path (the recharge step): a relay switching a USB source of source_v to the unit's input, an
    # INA on that input ([input_sensor]), the input's limits and the longest charge, which the firmware enforces
    "charger": {"relay_pin": ("integer", True), "source_v": ("number", True), "max_input_voltage_v": ("number", True),
                "max_input_current_a": ("number", True), "max_charge_s": ("integer", True)},
    "input_sensor": SENSOR,
    # a scale under the bay for the quick check's mass against energy: a load cell on an HX711's two pins
    "scale": {"sck_pin": ("integer", True), "dout_pin": ("integer", True)},
    "load": {"kind": ("text", True), "max_current_a": ("number", True), "short_pin": ("integer", False),
             "resistors_ohm": ("numbers", False), "resource": ("text", False)},
    "limits": {"max_voltage_v": ("number", True), "max_current_a": ("number", True),
               "max_power_w": ("number", False), "max_reverse_current_a": ("number", False),
               "max_load_temp_c": ("number", False), "max_dut_temp_c": ("number", False)},
    "pins": {"i2c_id": ("integer", True), "sda": ("integer", True), "scl": ("integer", True),
             "load_pwm": ("integer", False), "load_pwm_hz": ("integer", False), "load_dac": ("integer", False),
             "load_relays": ("integers", False), "load_enable": ("integer", False), "ntc_load": ("integer", False),
             "ntc_dut": ("integer", False), "repl_pin": ("integer", False)},
    "sim": {"seed": ("integer", False), "board_id": ("text", False), "boot_us": ("integer", False),
            "sensor_address": ("integer", False),
            "shunt_error": ("number", False), "speed": ("number", False), "short_ohm": ("number", False),
            "load_gain_error": ("number", False), "load_tempco_per_c": ("number", False),
            "load_c_per_w": ("number", False), "load_tau_s": ("number", False)},
}


class RigFileError(ValueError):
    pass


def load_rig(name_or_path):
    path = paths.named(name_or_path, "rigs", "rig", RigFileError)
    data = read_toml(path, RigFileError)
    Fields(data, f"{path}:", RigFileError).no_unknown((*SCHEMA, "channel"))
    tables = data.pop("channel", None)
    rig = {section: _section(path, section, table) for section, table in data.items()}
    board = rig.get("rig", {}).get("board")
    for section in ("rig", "sensor", "load", "limits", "sim" if board == "sim" else "pins"):
        if section not in rig:
            raise RigFileError(f"{path}: [{section}] is missing: add it ({RIGS / 'sim.toml'} and "
                               f"{RIGS / 'pico-ina226.toml'} show every field)")
    if tables is None:
        _check_consistency(path, rig)
        _check_charger(path, rig)
        return rig
    if "charger" in rig or "input_sensor" in rig:
        raise RigFileError(f"{path}: [charger] and [input_sensor] are for a rig of one channel: remove them or "
                           f"the [[channel]] tables")
    return {**rig, "channels": _channels(path, rig, tables)}


def settings_json(rig) -> bytes:
    """The rig as a board keeps it (its rig.json): one canonical text, so that what the host wrote and what
    the device reads hash alike."""
    return json.dumps(rig, sort_keys=True, separators=(",", ":")).encode()


def settings_hash(data: bytes) -> str:
    """The short hash a device reports of the rig.json it runs: the first 8 bytes of its SHA-256, in hex
    (MicroPython's hashlib has sha256 on every port pbgrade targets)."""
    return hashlib.sha256(data).hexdigest()[:16]


def channels(rig):
    """The rig's test channels, each a rig table of its own (a one-channel rig is its only channel)."""
    return rig.get("channels") or [rig]


def _channels(path, rig, tables):
    """Each [[channel]] over the rig's tables, checked as a rig; no two on one address or pin."""
    if not (isinstance(tables, list) and 1 <= len(tables) <= MAX_CHANNELS and all(isinstance(t, dict) for t in tables)):
        raise RigFileError(f"{path}: channel must be 1 to {MAX_CHANNELS} [[channel]] tables")
    out = []
    for k, table in enumerate(tables, 1):
        where = f"{path}: [[channel]] {k}"
        Fields(table, where, RigFileError).no_unknown(CHANNEL_SECTIONS)
        own = {section: _section(where, section, value, partial=True) for section, value in table.items()}
        shared = set(own.get("pins", {})) & set(SHARED_PINS)
        if shared:
            raise RigFileError(f"{where}: [pins] {', '.join(sorted(shared))}: the channels share the board's "
                               f"I2C bus; set it once in the rig's [pins]")
        channel = {section: {**rig.get(section, {}), **own.get(section, {})} for section in (*rig, *own)}
        channel["rig"] = {**rig["rig"], "channel": k, "channels": len(tables)}
        _check_consistency(where, channel)
        out.append(channel)
    _check_apart(path, out)
    return out


def _check_apart(path, channels):
    """Two channels cannot share a pin or a sensor, but for an INA3221's three
    channels: the test channels on one then get chip_channels, every channel
    of it they use (the chip converts those in turn)."""
    seen = {}
    sharing = {}  # address -> the test channels on its sensor
    for k, channel in enumerate(channels, 1):
        own = channel.get("pins", {})
        pins = {v for key, v in own.items() if key not in (*SHARED_PINS, "load_pwm_hz", "load_relays")}
        pins |= set(own.get("load_relays", []))
        pins |= {channel["load"]["short_pin"]} if "short_pin" in channel["load"] else set()
        s = channel["sensor"]
        sensor = f"{s['address']:#x}" + (f" channel {s['channel']}" if s["chip"] == "INA3221" else "")
        for thing in [("sensor address", sensor)] + [("pin", str(p)) for p in pins]:
            if thing in seen:
                raise RigFileError(f"{path}: [[channel]] {seen[thing]} and {k} both use {thing[0]} {thing[1]}: "
                                   f"give each channel its own")
            seen[thing] = k
        sharing.setdefault(s["address"], []).append((k, s))
    for address, group in sharing.items():
        (first, a), rest = group[0], group[1:]
        for k, b in rest:
            if a["chip"] != "INA3221" or b["chip"] != "INA3221":
                raise RigFileError(f"{path}: [[channel]] {first} and {k} both use sensor address {address:#x}: "
                                   f"give each channel its own (only an INA3221's channels can share one)")
            if (a["averages"], a["conversion_us"]) != (b["averages"], b["conversion_us"]):
                raise RigFileError(f"{path}: [[channel]] {first} and {k} share the INA3221 at {address:#x}: give "
                                   f"them the same averages and conversion_us (the chip has one configuration)")
        if rest:
            for _, s in group:
                s["chip_channels"] = sorted(other["channel"] for _, other in group)


def _section(path, section, table, partial=False):
    """The table's fields, checked; partial: a channel's, over the rig's, so none is required."""
    if not isinstance(table, dict):
        raise RigFileError(f"{path}: {section} must be a [{section}] table")
    fields = Fields(table, f"{path}: [{section}]", RigFileError)
    fields.no_unknown(tuple(SCHEMA[section]))
    out = {}
    for key, (kind, required) in SCHEMA[section].items():
        value = _get(fields, key, kind, required and not partial)
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


def _identity_limit(field):
    """The largest value the device's IDENTITY field can report (protocol.json), in V or A (from mV, mA)."""
    kind = dict((name, kind) for name, kind, *_ in wire.MESSAGES["IDENTITY"]["body"])[field]
    return (2 ** (8 * struct.calcsize("<" + kind)) - 1) / 1000


IDENTITY_LIMITS = {"max_voltage_v": _identity_limit("max_mv"), "max_current_a": _identity_limit("max_ma")}


def _check_consistency(path, rig):
    for limit, top in IDENTITY_LIMITS.items():
        if rig["limits"][limit] > top:
            raise RigFileError(f"{path}: [limits] {limit} = {rig['limits'][limit]:g} is beyond the 0-{top:g} "
                               f"the device reports it in (IDENTITY, protocol/protocol.json): lower it")
    for limit, pin in (("max_load_temp_c", "ntc_load"), ("max_dut_temp_c", "ntc_dut")):
        if limit in rig["limits"] and rig["rig"]["board"] != "sim" and pin not in rig["pins"]:
            raise RigFileError(f"{path}: [limits] {limit} needs a temperature sensor: add [pins] {pin} "
                               f"(the ADC pin of its NTC), or remove the limit")
    s = rig["sensor"]
    _check_sensor(path, "sensor", s)
    if s["chip"] == "INA219" and "alert_pin" in s:
        raise RigFileError(f"{path}: [sensor] alert_pin: the INA219 has no ALERT pin; remove it (the device "
                           f"then times trips by reading the current at the chip's fastest rate)")
    if rig["limits"]["max_current_a"] > s["max_current_a"]:
        raise RigFileError(f"{path}: [limits] max_current_a exceeds [sensor] max_current_a: the sensor "
                           f"could not see the limit being crossed; lower the limit or raise the sensor range")
    _check_load(path, rig)
    _check_pins_apart(path, rig)


def _check_pins_apart(path, rig):
    """No GPIO does two jobs: the [scale]'s two pins beside the load's, the sensor's and the charger's."""
    used = {f"[pins] {key}": v for key, v in rig.get("pins", {}).items() if key not in ("i2c_id", "load_pwm_hz",
                                                                                          "load_relays")}
    used |= {f"[pins] load_relays[{k}]": v for k, v in enumerate(rig.get("pins", {}).get("load_relays", []))}
    for section, key in (("load", "short_pin"), ("sensor", "alert_pin"), ("charger", "relay_pin"),
                         ("scale", "sck_pin"), ("scale", "dout_pin")):
        if key in rig.get(section, {}):
            used[f"[{section}] {key}"] = rig[section][key]
    seen = {}
    for name, pin in used.items():
        if pin in seen:
            raise RigFileError(f"{path}: {seen[pin]} and {name} are both GPIO {pin}: give each its own pin")
        seen[pin] = name


def _check_sensor(path, section, s):
    chips = wire.SENSORS.values()  # the chips the protocol can name
    if s["chip"] not in chips:
        raise RigFileError(f"{path}: [{section}] chip = {s['chip']!r} is not supported: use one of {', '.join(chips)}")
    if not 0x40 <= s["address"] <= 0x4F:
        raise RigFileError(f"{path}: [{section}] address = {s['address']:#x} is outside the INA range 0x40-0x4F")
    if s["shunt_ohms"] <= 0 or s["max_current_a"] <= 0:
        raise RigFileError(f"{path}: [{section}] shunt_ohms and max_current_a must be positive")
    if (s["chip"] == "INA3221") != ("channel" in s):
        raise RigFileError(f"{path}: [{section}] channel (1-3) is for the three-channel INA3221 only: "
                           f"{'add' if s['chip'] == 'INA3221' else 'remove'} it")


def _check_charger(path, rig):
    """A charging path needs both its tables. Its sensor reads with the output sensor's chip and current range,
    so that IDENTITY's LSBs convert its samples too (protocol/SPEC.md, CHARGE), at an address of its own."""
    if ("charger" in rig) != ("input_sensor" in rig):
        have, need = ("charger", "input_sensor") if "charger" in rig else ("input_sensor", "charger")
        raise RigFileError(f"{path}: [{have}] needs [{need}]: a charging path is a relay and a sensor on the "
                           f"unit's input ({RIGS / 'sim-charge.toml'} shows both)")
    if "charger" not in rig:
        return
    s, out = rig["input_sensor"], rig["sensor"]
    _check_sensor(path, "input_sensor", s)
    if (s["chip"], s["max_current_a"]) != (out["chip"], out["max_current_a"]):
        raise RigFileError(f"{path}: [input_sensor] must have [sensor]'s chip and max_current_a ({out['chip']}, "
                           f"{out['max_current_a']:g} A): the device streams its samples in the same units")
    if s["address"] == out["address"]:
        raise RigFileError(f"{path}: [input_sensor] address = {s['address']:#x} is [sensor]'s: give it its own")
    c = rig["charger"]
    if c["max_input_current_a"] > s["max_current_a"] or c["max_charge_s"] == 0:
        raise RigFileError(f"{path}: [charger] max_input_current_a must be within [input_sensor] max_current_a "
                           f"and max_charge_s positive")


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
