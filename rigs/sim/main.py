"""Entry of the simulated rig under the unix `micropython`:

    micropython rigs/sim/main.py RIG.json DUT.json

stdin/stdout are the device end of a pseudo-terminal (pbgrade.simrig sets it
up). The firmware in firmware/ runs unchanged on the simulated board. A rig
with several channels lists each channel's table under "channels"; channel
k > 1 has its own unit's file in its [sim] table ("dut_file") and its own
terminal ("fds"). When the terminals close, the simulator's exact truth
(charge and energy each power bank really delivered) goes to stderr as one
JSON line: {"truth": channel 1's, "channels": every channel's}.
"""
import gc
import json
import sys

import wire


def load(path):
    with open(path) as f:
        return json.load(f)


rig = load(sys.argv[1])
rigs = rig.get("channels") or [rig]
gc.collect()
links = wire.links(len(rigs))  # first, as firmware/main.py does: the heap is still in one piece

import simboard  # noqa: E402
import station  # noqa: E402

dut_paths = [sys.argv[2]] + [r["sim"]["dut_file"] for r in rigs[1:]]
boards = simboard.boards(rigs, [load(p) for p in dut_paths], dut_paths)
try:
    station.run(boards, rigs, links)
except Exception as e:  # to stderr, the simulator's log: stdout is the host's terminal
    sys.print_exception(e, sys.stderr)
    raise SystemExit(1)
finally:
    truths = [b.world.truth() for b in boards]
    sys.stderr.write(json.dumps({"truth": truths[0], "channels": truths}) + "\n")
