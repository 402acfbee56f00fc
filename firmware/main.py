"""Boot entry on a board: rig.json (written by `pbgrade deploy`) names the pins,
the sensor and the limits this station enforces."""
import json

import board_machine
import station

with open("rig.json") as f:
    rig = json.load(f)
station.Station(board_machine.Board(rig), rig).serve()
