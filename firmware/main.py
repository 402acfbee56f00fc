"""Boot entry on a board: rig.json names the pins, the sensors, the loads and
the limits this station enforces: the rig file as the host reads it
(pbgrade.rig.load_rig, as JSON), whose "channels" list each channel's whole
table on a rig with several. `pbgrade deploy` writes it; IDENTITY reports
its name and a hash of its bytes, so the host knows which rig it talks to.

Holding the rig's [pins] repl_pin (if it names one) low at
power-up skips the station and leaves the board at its REPL: the fallback
to the host's LEAVE command (protocol/SPEC.md) when the station cannot be
reached. The pin has the MCU's internal pull-up (~50 kOhm on an RP2040), so a push
button or a jumper to GND is all it needs; on an ESP32 not GPIO 34-39, which
have no pull-ups, nor a strapping pin (0, 2, 12, 15; on the S3 0, 3, 45, 46)."""
import gc

import wire

rig, settings_hash = wire.read_settings("rig.json")
rigs = rig.get("channels") or [rig]
repl_pin = rigs[0].get("pins", {}).get("repl_pin")
if repl_pin is not None:
    from machine import Pin

    stay_at_repl = Pin(repl_pin, Pin.IN, Pin.PULL_UP).value() == 0
else:
    stay_at_repl = False
if not stay_at_repl:
    gc.collect()
    links = wire.links(len(rigs))  # before anything else is imported: the heap is still in one piece

    import board_machine  # noqa: E402
    import station  # noqa: E402

    station.run(board_machine.boards(rigs), rigs, links, settings_hash)
