"""Checked reading of TOML files (labels, profiles, rigs, simulated units): every
complaint is one line naming the file, the place, the field and the fix."""
import tomllib
from pathlib import Path


def read_toml(path: Path, error: type[Exception]) -> dict:
    """Parse a TOML file; an unreadable file or bad syntax becomes one line of `error`."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise error(f"{path}: cannot be read ({e.strerror}): check the path") from None
    except tomllib.TOMLDecodeError as e:
        raise error(f"{path}: is not valid TOML: {e}: fix the syntax there") from None


class Fields:
    """One TOML table under check: each complaint is one line naming the file, the place, the field and the fix."""

    KINDS = {"number": "a number", "integer": "a whole number", "text": "text in quotes", "bool": "true or false",
             "tables": "a list of tables", "pairs": "a list of [x, y] number pairs, ascending in x"}

    def __init__(self, table: dict, where: str, error: type[Exception]):
        self.table, self.where, self.error = table, where, error

    def fail(self, key, problem, todo):
        raise self.error(f"{self.where} {key} {problem}: {todo}")

    def no_unknown(self, known):
        for key in self.table:
            if key not in known:
                self.fail(key, "is not a known field", f"check the spelling; known fields are {', '.join(known)}")

    def get(self, key, kind, todo, required=True):
        """The value of `key` if it has the right kind; a missing optional key gives None."""
        if key not in self.table:
            if required:
                self.fail(key, "is missing", todo)
            return None
        value = self.table[key]
        if not _is_kind(value, kind):
            self.fail(key, f"must be {self.KINDS[kind]}, got {value!r}", todo)
        return value


def _is_kind(value, kind) -> bool:
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "tables":
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    if kind == "pairs":
        return (isinstance(value, list) and len(value) >= 2
                and all(isinstance(p, list) and len(p) == 2 and all(_is_kind(x, "number") for x in p) for p in value)
                and all(a[0] < b[0] for a, b in zip(value, value[1:])))
    return isinstance(value, {"text": str, "bool": bool}[kind])
