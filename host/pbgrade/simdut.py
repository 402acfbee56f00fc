"""Simulated power banks (devices under test) for the simulated rig.

Two forms: a curve file (CSV, header `delivered_mah,voltage_v`, rows ascending
in charge from 0: output voltage at the test current against charge delivered,
linearly interpolated; the output switches off after the last row), or a TOML
model (`[dut] kind = "model"`: the cell, converter, output, protections,
thermal and contact parameters of rigs/sim/powerbank.py; see
rigs/sim/duts/honest-10000.toml). Both become the plain dict the simulator
(rigs/sim/powerbank.py's bank_from) reads. A third, `[dut] kind = "weight"`,
is no power bank: a calibration weight for the simulated rig's scale.
"""
import csv

from . import paths
from .tomlcheck import Fields, read_text, read_toml

# section -> field -> (kind, required, low, high)
MODEL = {
    "cell": {"capacity_mah": ("number", True, 10, 200_000), "internal_r_ohm": ("number", True, 0, 5),
             "cutoff_v": ("number", True, 2.0, 3.8), "foldback_v": ("number", False, 2.0, 4.2),
             "initial_soc": ("number", False, 0, 1), "ocv": ("pairs", False, 2.0, 4.5)},  # pairs: the range is for y
    "converter": {"efficiency": ("pairs", True, 0.01, 1)},
    "output": {"level_v": ("number", True, 3, 48), "levels": ("pairs", False, 0.05, 10), "droop_ohm": ("number", True, 0, 10),
               "cable_ohm": ("number", False, 0, 10), "noise_mv": ("number", False, 0, 500)},
    "protection": {"ocp_a": ("number", False, 0.01, 20), "ocp_delay_s": ("number", False, 0, 60),
                   "ocp_recover_s": ("number", False, -1, 3600), "auto_off_below_a": ("number", False, 0, 5),
                   "auto_off_after_s": ("number", False, 0, 3600), "short_a": ("number", False, 0.1, 200),
                   "short_delay_s": ("number", False, 0, 10)},
    "thermal": {"c_per_w": ("number", False, 0, 100), "tau_s": ("number", False, 0.1, 1e5),
                "ambient_c": ("number", False, -40, 80)},
    # what the unit weighs, cells, case and all (the quick check's mass against energy: steps/mass.py);
    # honest units: cells ~65-80 % of it; fakes: light, or with ballast
    "body": {"mass_g": ("number", False, 10, 5000)},
    "contact": {"dropout_every_s": ("number", False, 0.1, 1e6), "dropout_s": ("number", False, 0, 60)},
    # how it charges on a rig with a charging path (rigs/sim/powerbank.py DEFAULT_CHARGE if absent): efficiency
    # against the power into the cell (W), CC at cc_a to cv_v, CV until termination_a, the source's cable
    "charge": {"efficiency": ("pairs", True, 0.3, 1.0), "cc_a": ("number", True, 0.01, 10),
               "cv_v": ("number", True, 3.6, 4.5), "termination_a": ("number", True, 0, 5),
               "source_ohm": ("number", False, 0, 2)},
}
REQUIRED_SECTIONS = ("cell", "converter", "output")
MAX_CURVE_MAH = MODEL["cell"]["capacity_mah"][3]  # what a curve delivers: no more than the largest cell
SUFFIXES = (".toml", ".csv")  # a model or a curve
EXAMPLE = paths.DUTS / "honest-10000.toml"


class DutError(ValueError):
    pass


def dut_path(name_or_path):
    path = paths.find(name_or_path, "duts", SUFFIXES)
    if path is None:
        names = [name for name in paths.names("duts", SUFFIXES) if not name.endswith(".label")]
        raise DutError(f"simulated power bank {name_or_path!r} not found: give a CSV/TOML file "
                       f"or one of {', '.join(names)} ({paths.where('duts')})")
    return path


def matching_label(path):
    """The catalogue's label file for a simulated unit, if it has one."""
    label = path.with_name(path.stem + ".label.toml")
    return label if label.exists() else None


def load_dut(name_or_path):
    path = dut_path(name_or_path)
    return _curve(path) if path.suffix == ".csv" else _model(path)


def _curve(path):
    rows = list(csv.reader(read_text(path, DutError).splitlines()))
    if not rows or [c.strip() for c in rows[0]] != ["delivered_mah", "voltage_v"]:
        raise DutError(f"{path}:1: header must be exactly 'delivered_mah,voltage_v'")
    points = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        try:
            mah, v = (float(c) for c in row)
        except ValueError:
            raise DutError(f"{path}:{line}: expected two numbers 'delivered_mah,voltage_v', got {','.join(row)!r}") from None
        if not 0 <= mah <= MAX_CURVE_MAH:  # nan fails it too
            raise DutError(f"{path}:{line}: delivered_mah {mah:g} is outside 0-{MAX_CURVE_MAH:g} mAh")
        if not 0 <= v <= 60:
            raise DutError(f"{path}:{line}: voltage {v} V is outside 0-60 V")
        if points and mah <= points[-1][0]:
            raise DutError(f"{path}:{line}: delivered_mah {mah} does not ascend (previous row {points[-1][0]})")
        if not points and mah != 0:
            raise DutError(f"{path}:{line}: the first row must be at delivered_mah 0 (a full power bank)")
        points.append([mah, v])
    if len(points) < 2:
        raise DutError(f"{path}: a curve needs at least two rows")
    return {"kind": "curve", "points": points, "source": str(path)}


def _weight(path, data):
    """A calibration weight on the simulated rig's scale (`pbgrade scale calibrate`): a mass, no output."""
    Fields(data, f"{path}:", DutError).no_unknown(("dut", "body"))
    low, high = MODEL["body"]["mass_g"][2:]
    body = Fields(data.get("body", {}), f"{path}: [body]", DutError)
    grams = body.get("mass_g", "number", "give the weight's mass, e.g. mass_g = 500")
    if not low <= grams <= high:
        body.fail("mass_g", f"= {grams} is outside {low:g}-{high:g}", "give the weight's mass in grams")
    return {"kind": "weight", "mass_g": grams, "source": str(path)}


def _model(path):
    data = read_toml(path, DutError)
    kind = Fields(data.get("dut", {}), f"{path}: [dut]", DutError)
    kind.no_unknown(("kind",))
    written = kind.get("kind", "text", 'write kind = "model"')
    if written == "weight":
        return _weight(path, data)
    Fields(data, f"{path}:", DutError).no_unknown(("dut", *MODEL))
    if written != "model":
        kind.fail("kind", 'is neither "model" nor "weight"',
                  'write kind = "model" (a curve is a CSV file), or "weight" for a calibration weight')
    model = {}
    for section, fields in MODEL.items():
        if section not in data:
            if section in REQUIRED_SECTIONS:
                raise DutError(f"{path}: [{section}] is missing: add it (see {EXAMPLE})")
            continue
        table = Fields(data[section], f"{path}: [{section}]", DutError)
        table.no_unknown(tuple(fields))
        model[section] = {}
        for key, (kind_, required, low, high) in fields.items():
            value = table.get(key, kind_, f"see {EXAMPLE}", required)
            if value is None:
                continue
            numbers = [y for _, y in value] if kind_ == "pairs" else [value]
            if not all(low <= y <= high for y in numbers):
                table.fail(key, f"= {value} is outside {low:g}-{high:g}", "check the unit's parameters")
            model[section][key] = value
    levels = model["output"].get("levels")
    if levels and model["output"]["level_v"] not in [v for v, _ in levels]:
        raise DutError(f"{path}: [output] level_v = {model['output']['level_v']} is not one of its levels "
                       f"{', '.join(f'{v:g} V' for v, _ in levels)}: request one the unit offers")
    if "foldback_v" in model["cell"] and model["cell"]["foldback_v"] <= model["cell"]["cutoff_v"]:
        raise DutError(f"{path}: [cell] foldback_v must be above cutoff_v: the output folds back before the cut-off")
    return {"kind": "model", "model": model, "source": str(path)}
