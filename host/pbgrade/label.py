"""The power bank's label as the operator types it in: what the maker promises, checked for typos."""
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .tomlcheck import Fields, read_toml


class LabelError(ValueError):
    """A label file problem, as one line naming the file, the field and the fix."""


@dataclass(frozen=True)
class Label:
    cell_capacity_mah: float
    cell_voltage_v: float
    rated_capacity_mah: float
    rated_output_v: float
    rated_output_a: float
    model: str | None = None
    manufacturer: str | None = None
    serial: str | None = None
    declared_efficiency: float | None = None

    @property
    def rated_energy_wh(self) -> float:
        """Energy the cells are rated for: the denominator of conversion efficiency."""
        return self.cell_capacity_mah * self.cell_voltage_v / 1000

    @property
    def rated_output_wh(self) -> float:
        """Energy the output is rated for: the rated capacity at the rated output voltage."""
        return self.rated_capacity_mah * self.rated_output_v / 1000

    def as_dict(self) -> dict:
        return {**asdict(self), "rated_energy_wh": self.rated_energy_wh}

    def as_toml(self) -> str:
        """The label file that says exactly this label (load_label reads it back equal): a run keeps it when
        its label is not its file's as it is, e.g. with a serial scanned at a station."""
        lines = ["[label]"]
        for key, value in asdict(self).items():
            if value is not None:  # a JSON number or string is TOML too, but for DEL, which TOML strings refuse raw
                lines.append(f"{key} = " + json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f"))
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class _Number:
    what: str
    unit: str  # as printed after a number, with its leading space
    low: float
    high: float
    example: float


_NUMBERS = {
    "cell_capacity_mah": _Number("the cell capacity in mAh (the big figure, as in '10000mAh 3.7V')",
                                 " mAh", 100, 500_000, 10000),
    "cell_voltage_v": _Number("the nominal cell voltage in volts (as in '10000mAh 3.7V')", " V", 1, 5, 3.7),
    "rated_capacity_mah": _Number("the rated capacity at the output in mAh "
                                  "(as in 'rated capacity 6000mAh 5V 2.1A')",
                                  " mAh", 100, 500_000, 6000),
    "rated_output_v": _Number("the rated output voltage in volts", " V", 3, 60, 5),
    "rated_output_a": _Number("the rated output current in amperes", " A", 0.05, 10, 2.1),
}
_OPTIONAL_NUMBERS = {
    "declared_efficiency": _Number("the conversion efficiency the maker declares, as a fraction above 0",
                                   "", 0, 1, 0.85),
}
_TEXTS = ("model", "manufacturer", "serial")
_KNOWN = (*_NUMBERS, *_TEXTS, *_OPTIONAL_NUMBERS)
NUMBER_FIELDS = (*_NUMBERS, *_OPTIONAL_NUMBERS)


def load_label(path) -> Label:
    """Read and check a label file: every promised figure present, a number, and plausible."""
    path = Path(path)
    data = read_toml(path, LabelError)
    Fields(data, f"{path}:", LabelError).no_unknown(("label",))
    if not isinstance(data.get("label"), dict):
        raise LabelError(f"{path}: [label] table is missing: put the label's figures under a [label] header")
    fields = Fields(data["label"], f"{path}: [label]", LabelError)
    fields.no_unknown(_KNOWN)
    values = {key: _number(fields, key, spec, required=True) for key, spec in _NUMBERS.items()}
    values |= {key: _number(fields, key, spec, required=False) for key, spec in _OPTIONAL_NUMBERS.items()}
    values |= {key: fields.get(key, "text", f'write it in quotes, e.g. {key} = "PB-10000"', required=False)
               for key in _TEXTS}
    label = Label(**values)
    _check_rated_energy(label, fields)
    return label


def _number(fields: Fields, key: str, spec: _Number, required: bool) -> float | None:
    todo = f"write {spec.what}, e.g. {key} = {spec.example}"
    value = fields.get(key, "number", todo, required)
    if value is not None and not (0 < value and spec.low <= value <= spec.high):
        fields.fail(key, f"= {value} is outside the plausible {spec.low:,g}–{spec.high:,g}{spec.unit}",
                    f"check the label and {todo}")
    return None if value is None else float(value)


def _check_rated_energy(label: Label, fields: Fields):
    """The output cannot deliver more than the cells hold: a swapped cell/rated capacity is a common slip."""
    if label.rated_output_wh > label.rated_energy_wh:
        fields.fail("rated_capacity_mah",
                    f"= {label.rated_capacity_mah:g} at {label.rated_output_v:g} V is {label.rated_output_wh:.1f} Wh, "
                    f"more than the {label.rated_energy_wh:.1f} Wh the cells hold",
                    "give the capacity rated at the output (usually printed next to the output voltage), "
                    "not the cell capacity")
