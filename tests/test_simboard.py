"""The simulated board behaves like a microcontroller's USB console: byte 0x03
interrupts the firmware until it calls kbd_intr(-1); the console closing ends
the simulation."""
from conftest import ROOT, run_micropython

SCRIPT = """
import json
from simboard import SimBoard
rig = json.loads(%r)
board = SimBoard(rig, {"kind": "curve", "points": [[0, 5.0], [100, 5.0]]})
try:
    board.read_byte()
    raise AssertionError("0x03 did not interrupt")
except KeyboardInterrupt:
    pass
board.kbd_intr(-1)
assert board.read_byte() == 3 and board.read_byte() == 0x41
print("OK")
board.read_byte()  # end of input: the simulation ends cleanly
print("not reached")
"""


def test_ctrl_c_byte_interrupts_until_kbd_intr_disabled(tmp_path):
    import json

    from pbgrade.rig import load_rig
    script = tmp_path / "kbd.py"
    script.write_text(SCRIPT % json.dumps(load_rig(ROOT / "rigs" / "sim.toml")))
    proc = run_micropython(script, stdin=b"\x03\x03A")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["OK"]
