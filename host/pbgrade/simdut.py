"""Simulated power banks (devices under test) for the simulated rig.

Two forms: a curve file (CSV, header `delivered_mah,voltage_v`, rows ascending
in charge from 0: output voltage at the test current against charge delivered,
linearly interpolated; the output switches off after the last row), or a TOML
file of parameters (`[dut]` with kind = "params"). Both become the plain dict
the simulator (rigs/sim/world.py) reads.
"""
import csv

from .paths import DUTS, resolve
from .tomlcheck import Fields, read_toml

PARAMS = {"cell_capacity_mah": (1, 200_000), "cell_voltage_v": (1.0, 5.0), "efficiency": (0.05, 1.0),
          "output_v": (3.0, 60.0), "output_r_ohm": (0.0, 10.0)}


class DutError(ValueError):
    pass


def dut_path(name_or_path):
    path = resolve(name_or_path, DUTS, (".toml", ".csv"))
    if path is None:
        names = sorted({p.stem for p in DUTS.glob("*.csv")} | {p.stem for p in DUTS.glob("*.toml")
                                                              if not p.stem.endswith(".label")})
        raise DutError(f"simulated power bank {name_or_path!r} not found: give a CSV/TOML file "
                       f"or one of {', '.join(names)}")
    return path


def matching_label(path):
    """The catalogue's label file for a simulated unit, if it has one."""
    label = path.with_name(path.stem + ".label.toml")
    return label if label.exists() else None


def load_dut(name_or_path):
    path = dut_path(name_or_path)
    return _curve(path) if path.suffix == ".csv" else _params(path)


def _curve(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
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


def _params(path):
    data = read_toml(path, DutError)
    Fields(data, f"{path}:", DutError).no_unknown(("dut",))
    fields = Fields(data.get("dut", {}), f"{path}: [dut]", DutError)
    fields.no_unknown(("kind", *PARAMS))
    if fields.get("kind", "text", 'write kind = "params"') != "params":
        fields.fail("kind", "is not \"params\"", 'write kind = "params" (a curve is a CSV file)')
    params = {}
    for key, (lo, hi) in PARAMS.items():
        value = fields.get(key, "number", f"give {key} as a number from {lo} to {hi}")
        if not lo <= value <= hi:
            fields.fail(key, f"= {value} is outside {lo}-{hi}", "check the unit's parameters")
        params[key] = value
    return {"kind": "params", "params": params, "source": str(path)}
