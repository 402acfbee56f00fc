"""Boot entry on a board: rig.json names the pins, the sensors, the loads and
the limits this station enforces: the rig file as the host reads it
(pbgrade.rig.load_rig, as JSON), whose "channels" list each channel's whole
table on a rig with several. No pbgrade command puts it on a board yet."""
import gc
import json

import wire

with open("rig.json") as f:
    rig = json.load(f)
rigs = rig.get("channels") or [rig]
gc.collect()
links = wire.links(len(rigs))  # before anything else is imported: the heap is still in one piece

import board_machine  # noqa: E402
import station  # noqa: E402

station.run(board_machine.boards(rigs), rigs, links)
