"""Checked reading of the files pbgrade is given or keeps (labels, profiles, rigs, simulated units and their
curves, settings; a run's meta and record, calibration histories): every complaint is one line naming the file,
the place, the field and the fix."""
import json
import math
import tomllib
from pathlib import Path


def read_text(path: Path, error: type[Exception]) -> str:
    """A text file's content; a folder, an unreadable, binary or not UTF-8 file becomes one line of `error`.
    The one place input files are read, so no file can end in a traceback (a UnicodeDecodeError)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise error(f"{path}: cannot be read ({e.strerror}): check the path and its permissions") from None
    if b"\0" in data:
        raise error(f"{path}: is not a text file (it holds zero bytes: binary, or UTF-16): "
                    f"give the text file meant here, saved as UTF-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"{path}: is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}): "
                    f"save it as UTF-8, or give the file meant here") from None


def read_json(path: Path, error: type[Exception], todo: str):
    """A JSON file pbgrade keeps (a run's meta or record, a rig's calibration history); an unreadable or
    damaged one becomes one line of `error` ending in todo, what to do about it."""
    try:
        return json.loads(read_text(path, error))
    except json.JSONDecodeError as e:
        raise error(f"{path}: is damaged (not valid JSON: {e.msg} at line {e.lineno}): {todo}") from None


def read_toml(path: Path, error: type[Exception]) -> dict:
    """Parse a TOML file; an unreadable file or bad syntax becomes one line of `error`."""
    try:
        return tomllib.loads(read_text(path, error))
    except tomllib.TOMLDecodeError as e:
        raise error(f"{path}: is not valid TOML: {e}: fix the syntax there") from None


def read_headed(path: Path, error: type[Exception], head: str, tables: str, head_fields) -> tuple:
    """A file of one [head] table and [[tables]]: (lines, top-level Fields, the head's Fields, its texts).
    head_fields: field -> what to write when it is missing; every one is required text."""
    data = read_toml(path, error)
    lines = Lines(path, error)
    top = Fields(data, f"{path}:", error, lines)
    top.no_unknown((head, tables))
    if not isinstance(data.get(head), dict):
        raise error(f"{path}: [{head}] table is missing: add one with {', '.join(head_fields)}")
    fields = Fields(data[head], f"{path}: [{head}]", error, lines, lines.header(head))
    fields.no_unknown(tuple(head_fields))
    return lines, top, fields, {key: fields.get(key, "text", todo) for key, todo in head_fields.items()}


class Lines:
    """Where tables and keys sit in a TOML file, so a complaint can name the line."""

    def __init__(self, path: Path, error: type[Exception]):
        self.path = path
        self.lines = read_text(path, error).splitlines()

    def header(self, name: str, occurrence: int = 1) -> int | None:
        """Line number (1-based) of the n-th [name] or [[name]] header."""
        seen = 0
        for number, line in enumerate(self.lines, 1):
            if line.strip() in (f"[{name}]", f"[[{name}]]"):
                seen += 1
                if seen == occurrence:
                    return number
        return None

    def key(self, header_line: int | None, key: str) -> int | None:
        """Line number of `key = ...` in the table starting at header_line (None: the top)."""
        for number in range(header_line or 1, len(self.lines) + 1):
            text = self.lines[number - 1].strip()
            if number != header_line and text.startswith("["):
                break
            if text.split("=", 1)[0].strip() == key and "=" in text:
                return number
        return header_line


class Fields:
    """One TOML table under check: each complaint is one line naming the file, the place, the field and the fix.

    Given the file's Lines and the table's header line, complaints name the line too."""

    KINDS = {"number": "a number", "integer": "a whole number", "text": "text in quotes", "bool": "true or false",
             "tables": "a list of tables", "pairs": "a list of [x, y] number pairs, ascending in x"}

    def __init__(self, table: dict, where: str, error: type[Exception], lines: Lines | None = None,
                 header_line: int | None = None):
        if not isinstance(table, dict):  # `cell = 5` where a [cell] table belongs
            raise error(f"{where} is not a table (got {table!r}): write it as a [table] header with its fields "
                        f"under it")
        self.table, self.where, self.error = table, where, error
        self.lines, self.header_line = lines, header_line

    def fail(self, key, problem, todo):
        where = self.where
        if self.lines is not None:
            line = self.lines.key(self.header_line, key)
            if line is not None:
                where = where.replace(f"{self.lines.path}:", f"{self.lines.path}:{line}:", 1)
        raise self.error(f"{where} {key} {problem}: {todo}")

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
    if kind == "number":  # nan and inf too are TOML floats, but no quantity pbgrade takes
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "tables":
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    if kind == "pairs":
        return (isinstance(value, list) and len(value) >= 2
                and all(isinstance(p, list) and len(p) == 2 and all(_is_kind(x, "number") for x in p) for p in value)
                and all(a[0] < b[0] for a, b in zip(value, value[1:])))
    return isinstance(value, {"text": str, "bool": bool}[kind])
