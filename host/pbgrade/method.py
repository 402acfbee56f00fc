"""Test methods as data: the steps a test runs, in order, with their settings.

A method file (host/pbgrade/methods/*.toml, or the user's own: paths.find) names its steps; each step
takes measurements (see steps/) that land in the one record, where the
profile grades them; the settings a step takes are its step type's SCHEMA
(steps/<type>.py). Every error names the file, the line and the fix.

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

from . import paths
from .steps import TYPES
from .tomlcheck import Fields, read_headed

VERDICTS = ("grade", "screen")


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
    """The methods --method takes by name: the user's and the shipped."""
    return paths.names("methods")


def load_method(name_or_path) -> Method:
    path = paths.named(name_or_path, "methods", "method", MethodError)
    lines, top, head, texts = read_headed(path, MethodError, "method", "step", {
        key: f'add {key} = "..."' for key in ("name", "title", "verdict", "profile", "provenance")})
    if texts["verdict"] not in VERDICTS:
        head.fail("verdict", f"= {texts['verdict']!r} is not a verdict kind", f"use one of {', '.join(VERDICTS)}")
    tables = top.get("step", "tables", "add [[step]] tables, in the order they run")
    steps = tuple(_step(path, lines, n, table) for n, table in enumerate(tables, 1))
    names = [(s.type, s.name) for s in steps if TYPES[s.type].SCHEMA.named]
    if len(set(names)) != len(names):
        top.fail("step", "has two discharge steps with the same name", 'give the second one name = "half" (or another)')
    if not any(s.type == "discharge" and not s.name for s in steps):
        raise MethodError(f"{path}: no [[step]] with type = \"discharge\" (unnamed): every method needs the "
                          f"discharge its verdict rests on; add one")
    return Method(steps=steps, path=str(path), **texts)


def _step(path, lines, number, table) -> Step:
    fields = Fields(table, f"{path}: [[step]] #{number}", MethodError, lines, lines.header("step", number))
    kind = fields.get("type", "text", f"say what the step does: type = one of {', '.join(TYPES)}")
    if kind not in TYPES:
        fields.fail("type", f"= {kind!r} is not a step type", f"use one of {', '.join(TYPES)}")
    schema = TYPES[kind].SCHEMA
    fields.no_unknown(("type", *(("name",) if schema.named else ()), *schema.choices, *schema.numbers))
    settings = {}
    for key, (low, high, default) in schema.numbers.items():
        value = fields.get(key, "number", f"give {key} as a number from {low:g} to {high:g}", default is None)
        if value is None:
            value = default
        elif not low <= value <= high:
            fields.fail(key, f"= {value:g} is outside {low:g}-{high:g}", f"give {key} from {low:g} to {high:g}")
        settings[key] = value
    name = fields.get("name", "text", 'a short word, e.g. name = "half"', required=False) or ""
    for key, values in schema.choices.items():
        settings[key] = fields.get(key, "text", f'one of {", ".join(values)}', required=False) or values[0]
        if settings[key] not in values:
            fields.fail(key, f"= {settings[key]!r} is not a {key} kind", f"use one of {', '.join(values)}")
    return Step(kind, settings, name)
