#!/usr/bin/env python3
"""Catch firmware code that only runs on MicroPython's unix port.

Every firmware/*.py must run unchanged on a Raspberry Pi Pico (RP2040). This
script (CPython) checks each one three ways and prints one line per problem,
`firmware/x.py:LINE: message`; it exits 1 if there is any problem, 0 with a
one-line summary otherwise, and 2 if the tools are missing (run
`make check-firmware`, which installs them; see tools/check_firmware.mk).

1. mpy-cross -march=armv6m: compiles like the Pico does, so syntax MicroPython
   lacks and @micropython.viper/native code errors (which need the arch flag:
   without one mpy-cross rejects viper with "invalid arch") are reported. The
   .mpy files go to a temporary directory, never into the source tree.

2. basedpyright (pyright's engine, checking mode "basic" as the micropython-stubs
   project recommends) against the micropython-stubs rp2 RPI_PICO board stubs,
   laid out as that project documents: the stub folder is both the typeshed
   path (its stdlib/ replaces CPython's typeshed, and its builtins.pyi declares
   const, ptr, ptr8, ptr16, ptr32 and uint, the viper builtins) and a search
   path for the board modules (machine, rp2, micropython, time, select, ...).
   No Python interpreter is given to pyright (--pythonpath points at a path
   that does not exist), so nothing resolves from CPython's own library:
   `import termios` is an unresolved import, as it is on the Pico.
   tools/rp2-stub-overrides/ comes first on the stub path and corrects the
   stubs where they describe CPython instead of the rp2 port (`os`).
   pyright's reportOptional* (None-narrowing) rules are off: see NONE_FLOW_RULES.

   One documented allowance: a call passing a bytearray/memoryview/int to a
   viper parameter annotated ptr8/ptr16/ptr32/ptr is accepted. The stubs
   declare the pointer types as int subclasses, so pyright would reject the
   normal way of calling viper code; MicroPython converts any buffer or int.

3. Imports of modules that the stubs ship only to make type checking work but
   that the Pico does not have (typing, abc, enum, __future__, ssl, ...) are
   reported unless guarded by `try: ... except ImportError:` or placed under
   `if TYPE_CHECKING:` (the idiom the micropython-stubs docs use).

@rp2.asm_pio programs: put `from rp2.asm_pio import *` under `if TYPE_CHECKING:`
(TYPE_CHECKING itself from a guarded `from typing import TYPE_CHECKING`), as the
micropython-stubs docs show, so the PIO instruction names are known.
To silence one deliberate line, use `# pyright: ignore[ruleName]`.
"""

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = ROOT / "firmware"
DEFAULT_STUBS = ROOT / ".venv" / "stubs-rp2"
OVERRIDES = Path(__file__).resolve().parent / "rp2-stub-overrides"
MARCH = "armv6m"  # RP2040 = Cortex-M0+

# Present in the stubs (typeshed helpers, or modules of networked rp2 boards)
# but not importable on an RPI_PICO running MicroPython 1.29.
NOT_ON_DEVICE = {
    "__future__": "MicroPython has no __future__ module: `from __future__ import ...` raises ImportError",
    "typing": "not built into MicroPython (stubs ship it for type checking only)",
    "typing_extensions": "not built into MicroPython (stubs ship it for type checking only)",
    "abc": "not built into MicroPython (stubs ship it for type checking only)",
    "enum": "not built into MicroPython (stubs ship it for type checking only)",
    "types": "not built into MicroPython (stubs ship it for type checking only)",
    "collections.abc": "not built into MicroPython (stubs ship it for type checking only)",
    "_collections_abc": "not built into MicroPython (stubs ship it for type checking only)",
    "_typeshed": "type-checking helper, no such module at run time",
    "_mpy_shed": "type-checking helper, no such module at run time",
    "mypy_extensions": "type-checking helper, no such module at run time",
    "rp2.asm_pio": "stubs-only PIO instruction names",
    "rp2.asm_pio_rp2040": "stubs-only PIO instruction names",
    "rp2.asm_pio_rp2350": "stubs-only PIO instruction names",
    "_ast": "not on the rp2 port",
    "_codecs": "not on the rp2 port",
    "_decimal": "not on the rp2 port",
    "sre_compile": "not on the rp2 port",
    "sre_constants": "not on the rp2 port",
    "sre_parse": "not on the rp2 port",
    "ssl": "RPI_PICO has no network stack, so no ssl",
    "ussl": "RPI_PICO has no network stack, so no ssl",
    "usocket": "RPI_PICO has no network stack, so no socket",
    "uwebsocket": "RPI_PICO has no network stack, so no websocket",
    "ubluetooth": "RPI_PICO has no bluetooth",
}

# pyright's None-narrowing checks are off: they are the same on every port (not
# what this check is for) and misfire on invariants pyright cannot see (a helper
# whose loop always returns, an attribute set to None until start-up).
NONE_FLOW_RULES = ("reportOptionalMemberAccess", "reportOptionalOperand", "reportOptionalSubscript",
                   "reportOptionalIterable", "reportOptionalCall", "reportOptionalContextManager")

_VIPER_PTR_ARG = re.compile(r'cannot be assigned to parameter "[^"]*" of type "ptr(8|16|32)?"')


class SetupError(Exception):
    pass


def display(path):
    path = Path(path)
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def find_tool(name):
    """A console script from the interpreter's own venv, the repo's .venv, or PATH."""
    for d in (Path(sys.executable).parent, ROOT / ".venv" / "bin"):
        if (d / name).is_file() and os.access(d / name, os.X_OK):
            return str(d / name)
    found = shutil.which(name)
    if not found:
        raise SetupError(f"{name} not found: run `make check-firmware` (tools/check_firmware.mk) to install it")
    return found


# --- 1. mpy-cross --------------------------------------------------------------

def cross_compile(files, outdir):
    mpy_cross = find_tool("mpy-cross")
    problems = []
    for src in files:
        out = Path(outdir) / (src.stem + ".mpy")
        proc = subprocess.run([mpy_cross, f"-march={MARCH}", "-o", str(out), str(src)],
                              capture_output=True, text=True, timeout=120)
        if proc.returncode == 0:
            continue
        text = (proc.stderr + proc.stdout).strip()
        lines = re.findall(r"line (\d+)", text)
        msg = text.splitlines()[-1] if text else f"mpy-cross exited {proc.returncode}"
        problems.append((src, int(lines[-1]) if lines else 1, f"mpy-cross -march={MARCH}: {msg}"))
    return problems


# --- 2. pyright on the rp2 stubs ------------------------------------------------

def type_check(files, fwdir, stubs, tmp):
    if not (stubs / "stdlib" / "builtins.pyi").is_file() or not (stubs / "machine.pyi").is_file():
        raise SetupError(f"rp2 stubs not found in {stubs}: run `make check-firmware` (tools/check_firmware.mk)")
    pyright = find_tool("basedpyright")
    config = {
        "typeCheckingMode": "basic",
        "pythonVersion": "3.11",
        "pythonPlatform": "Linux",
        "typeshedPath": str(stubs),
        "stubPath": str(OVERRIDES),
        "extraPaths": [str(fwdir), str(stubs)],
        "reportMissingModuleSource": "none",
        **{rule: "none" for rule in NONE_FLOW_RULES},
    }
    cfg = Path(tmp) / "pyrightconfig.json"
    cfg.write_text(json.dumps(config, indent=2))
    no_python = Path(tmp) / "no-python-interpreter"  # deliberately absent, see module docstring
    proc = subprocess.run([pyright, "--outputjson", "-p", str(cfg), "--pythonpath", str(no_python),
                           *map(str, files)], capture_output=True, text=True, timeout=600, cwd=tmp)
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        raise SetupError(f"basedpyright failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()[:2000]}")
    problems = []
    for d in report.get("generalDiagnostics", []):
        if d.get("severity") not in ("error", "warning"):
            continue
        msg = "; ".join(part.strip() for part in d.get("message", "").splitlines() if part.strip())
        rule = d.get("rule", "")
        if rule == "reportArgumentType" and _VIPER_PTR_ARG.search(msg):
            continue  # viper pointer parameter: see module docstring
        line = d.get("range", {}).get("start", {}).get("line", 0) + 1
        problems.append((Path(d["file"]), line, f"{msg} [{rule}]" if rule else f"{msg} [syntax]"))
    return problems


# --- 3. imports the stubs allow but the Pico lacks ------------------------------

def _guarded(node, parents):
    child = node
    for parent in reversed(parents):
        if isinstance(parent, ast.Try) and child in parent.body:
            for h in parent.handlers:
                names = h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
                for n in names:
                    if n is None or (isinstance(n, ast.Name) and n.id in ("ImportError", "Exception", "BaseException")):
                        return True
        if isinstance(parent, ast.If) and child in parent.body:
            t = parent.test
            if (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or \
               (isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING") or \
               (isinstance(t, ast.Constant) and t.value is False):
                return True
        child = parent
    return False


def missing_modules(files):
    problems = []
    for src in files:
        try:
            tree = ast.parse(src.read_bytes(), filename=str(src))
        except (SyntaxError, ValueError):
            continue  # mpy-cross and pyright report it
        stack = [(tree, [])]
        while stack:
            node, parents = stack.pop()
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                key = name if name in NOT_ON_DEVICE else name.split(".")[0]
                if key in NOT_ON_DEVICE and not _guarded(node, parents):
                    problems.append((src, node.lineno,
                                     f'module "{name}" is not on the Pico: {NOT_ON_DEVICE[key]}; '
                                     "guard it with try/except ImportError or `if TYPE_CHECKING:` [rp2-missing-module]"))
            for child in ast.iter_child_nodes(node):
                stack.append((child, parents + [node]))
    return problems


# --- main ------------------------------------------------------------------------

def _versions(stubs):
    try:
        from importlib.metadata import version
        checker = f"basedpyright {version('basedpyright')}"
    except Exception:
        checker = "basedpyright"
    board = "rp2 stubs"
    for meta in sorted(stubs.glob("micropython_rp2_*stubs-*.dist-info/METADATA")):
        fields = dict(l.split(": ", 1) for l in meta.read_text().splitlines()[:5] if ": " in l)
        board = f"{fields.get('Name', meta.parent.name)} {fields.get('Version', '')}".strip()
    return checker, board


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="folder whose *.py are checked (default: firmware/)")
    ap.add_argument("--stubs", type=Path, default=DEFAULT_STUBS, help="micropython rp2 stubs folder (default: .venv/stubs-rp2)")
    args = ap.parse_args(argv)

    start = time.monotonic()
    fwdir = args.dir.resolve()
    stubs = args.stubs.resolve()
    if not fwdir.is_dir():
        print(f"check_firmware: {args.dir} is not a directory", file=sys.stderr)
        return 2
    files = sorted(fwdir.glob("*.py"))
    if not files:
        print(f"check_firmware: no *.py in {display(fwdir)}, nothing to check")
        return 0

    try:
        with tempfile.TemporaryDirectory(prefix="check_firmware.") as tmp:
            compile_problems = cross_compile(files, tmp)
            type_problems = type_check(files, fwdir, stubs, tmp)
    except SetupError as e:
        print(f"check_firmware: {e}", file=sys.stderr)
        return 2
    # A file mpy-cross rejects already has its syntax error: drop pyright's echo of it.
    broken = {p.resolve() for p, _, _ in compile_problems}
    type_problems = [t for t in type_problems if not (t[0].resolve() in broken and t[2].endswith("[syntax]"))]
    problems = compile_problems + type_problems + missing_modules(files)

    problems.sort(key=lambda p: (display(p[0]), p[1]))
    for path, line, msg in problems:
        print(f"{display(path)}:{line}: {msg}")
    checker, board = _versions(stubs)
    took = time.monotonic() - start
    if problems:
        print(f"check_firmware: {len(problems)} problem(s) in {len({p[0] for p in problems})} of {len(files)} file(s) "
              f"[{took:.1f}s]", file=sys.stderr)
        return 1
    print(f"check_firmware: {len(files)} file(s) in {display(fwdir)} OK: mpy-cross -march={MARCH}, "
          f"{checker} on {board} [{took:.1f}s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
