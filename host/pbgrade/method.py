"""Test methods as data: the steps a test runs, in order, with their settings.

A method file (host/pbgrade/methods/*.toml) names its steps; each step
takes measurements (see steps.py) that land in the one record, where the
profile grades them. Every error names the file, the line and the fix.

    [method]
    name = "full"
    title = "..."
    verdict = "grade"          # or "screen": consistent / not consistent / needs a full test
    profile = "gbt35590"       # the profile used unless --profile says otherwise
    provenance = "..."

    [[step]]
    type = "no_load"
    seconds = 10
"""
from dataclasses import dataclass
from pathlib import Path

from .tomlcheck import Fields, builtin_names, builtin_or_file, read_headed

BUILTIN_DIR = Path(__file__).with_name("methods")
VERDICTS = ("grade", "screen")

# step type -> setting -> (low, high, default; None: required)
STEPS = {
    "no_load": {"seconds": (1, 3600, None)},
    "rest": {"seconds": (1, 24 * 3600, None)},
    "load_regulation": {"light_fraction": (0.01, 0.9, 0.1), "seconds": (1, 600, 10)},
    "over_current": {"max_fraction": (1.05, 3.0, 1.6), "step_fraction": (0.01, 0.5, 0.05),
                     "step_s": (0.2, 10, 1.0), "observe_s": (1, 120, 10)},
    "short_circuit": {"short_ms": (10, 2000, 500), "observe_s": (1, 60, 5), "light_fraction": (0.01, 0.9, 0.1)},
    "discharge": {"current_fraction": (0.1, 1.0, 1.0), "seconds": (1, 24 * 3600, 0)},
}
NAMED = {"discharge"}  # steps that may run more than once, told apart by `name`
# a discharge's load: current_fraction of the rated current, or the power or resistance that draws it at the
# rated voltage (a phone charging draws near-constant power; a resistor is what the cheapest testers hold)
LOADS = ("current", "power", "resistance")


class MethodError(ValueError):
    """A method file problem, as one line naming the file, the line, the field and the fix."""


@dataclass(frozen=True)
class Step:
    type: str
    settings: dict
    name: str = ""  # prefix of its measurements, for a second discharge ("half": half_capacity_mah)


@dataclass(frozen=True)
class Method:
    name: str
    title: str
    verdict: str
    profile: str
    provenance: str
    steps: tuple[Step, ...]
    path: str


def builtin_methods() -> list[str]:
    return builtin_names(BUILTIN_DIR)


def load_method(name_or_path) -> Method:
    path = builtin_or_file(name_or_path, BUILTIN_DIR, "method", MethodError)
    lines, top, head, texts = read_headed(path, MethodError, "method", "step", {
        key: f'add {key} = "..."' for key in ("name", "title", "verdict", "profile", "provenance")})
    if texts["verdict"] not in VERDICTS:
        head.fail("verdict", f"= {texts['verdict']!r} is not a verdict kind", f"use one of {', '.join(VERDICTS)}")
    tables = top.get("step", "tables", "add [[step]] tables, in the order they run")
    steps = tuple(_step(path, lines, n, table) for n, table in enumerate(tables, 1))
    names = [(s.type, s.name) for s in steps if s.type in NAMED]
    if len(set(names)) != len(names):
        top.fail("step", "has two discharge steps with the same name", 'give the second one name = "half" (or another)')
    if not any(s.type == "discharge" and not s.name for s in steps):
        raise MethodError(f"{path}: no [[step]] with type = \"discharge\" (unnamed): every method needs the "
                          f"discharge its verdict rests on; add one")
    return Method(steps=steps, path=str(path), **texts)


def _step(path, lines, number, table) -> Step:
    fields = Fields(table, f"{path}: [[step]] #{number}", MethodError, lines, lines.header("step", number))
    kind = fields.get("type", "text", f"say what the step does: type = one of {', '.join(STEPS)}")
    if kind not in STEPS:
        fields.fail("type", f"= {kind!r} is not a step type", f"use one of {', '.join(STEPS)}")
    spec = STEPS[kind]
    fields.no_unknown(("type", "name", "load", *spec) if kind in NAMED else ("type", *spec))
    settings = {}
    for key, (low, high, default) in spec.items():
        value = fields.get(key, "number", f"give {key} as a number from {low:g} to {high:g}", default is None)
        if value is None:
            value = default
        elif not low <= value <= high:
            fields.fail(key, f"= {value:g} is outside {low:g}-{high:g}", f"give {key} from {low:g} to {high:g}")
        settings[key] = value
    name = fields.get("name", "text", 'a short word, e.g. name = "half"', required=False) or ""
    if kind == "discharge":
        settings["load"] = fields.get("load", "text", f'one of {", ".join(LOADS)}', required=False) or "current"
        if settings["load"] not in LOADS:
            fields.fail("load", f"= {settings['load']!r} is not a load kind", f"use one of {', '.join(LOADS)}")
    return Step(kind, settings, name)
