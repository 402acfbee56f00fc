"""Entry of the simulated rig under the unix `micropython`:

    micropython rigs/sim/main.py RIG.json DUT.json

stdin/stdout are the device end of a pseudo-terminal (pbgrade.simrig sets it
up). The firmware in firmware/ runs unchanged on the simulated board. When the
terminal closes, the simulator's exact truth (charge and energy the power bank
really delivered) goes to stderr as one JSON line.
"""
import json
import sys

import station
from simboard import SimBoard


def load(path):
    with open(path) as f:
        return json.load(f)


rig = load(sys.argv[1])
board = SimBoard(rig, load(sys.argv[2]), sys.argv[2])
try:
    station.Station(board, rig).serve()
finally:
    sys.stderr.write(json.dumps({"truth": board.world.truth()}) + "\n")
