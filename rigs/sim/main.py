"""Entry of the simulated rig under the unix `micropython`:

    micropython rigs/sim/main.py WIRING.json DUT.json

run in the simulated board's flash folder (its filesystem), which holds
rig.json: the rig's settings as `pbgrade deploy` writes them to a board,
hashed for IDENTITY as firmware/main.py does. WIRING.json is the
simulation's own, apart from the rig: for each channel the fields its
[sim] table gets on top (its unit's file "dut_file", the host-away flag,
its terminal's "fds" for channel k > 1, a simulated external load's
"scpi_port", "speed"). stdin/stdout are the device end of channel 1's
pseudo-terminal (pbgrade.simrig sets it up). The firmware in firmware/ runs
unchanged on the simulated board.

When the station ends (a host sent LEAVE, the terminals closed, or it
failed), the simulator's exact truth (charge and energy each power bank
really delivered) goes to stderr as one JSON line: {"truth": channel 1's,
"channels": every channel's}. pbgrade.simrig runs this with `micropython
-i`, so the interpreter's REPL then takes the terminal, as a board's does
after its main.py; it ends when the terminal closes.
"""
import gc
import json
import sys

import wire


def load(path):
    with open(path) as f:
        return json.load(f)


rig, settings_hash = wire.read_settings("rig.json")
wiring = load(sys.argv[1])["channels"]
rigs = [dict(r, sim=dict(r.get("sim", {}), **w)) for r, w in zip(rig.get("channels") or [rig], wiring)]
gc.collect()
links = wire.links(len(rigs))  # first, as firmware/main.py does: the heap is still in one piece

import simboard  # noqa: E402
import station  # noqa: E402

dut_paths = [sys.argv[2]] + [r["sim"]["dut_file"] for r in rigs[1:]]
boards = simboard.boards(rigs, [load(p) for p in dut_paths], dut_paths)
try:
    station.run(boards, rigs, links, settings_hash)
except Exception as e:  # to stderr, the simulator's log: stdout is the host's terminal
    sys.print_exception(e, sys.stderr)
    raise SystemExit(1)
finally:
    truths = [b.world.truth() for b in boards]
    sys.stderr.write(json.dumps({"truth": truths[0], "channels": truths}) + "\n")
