"""The firmware's hand-packed protocol against protocol/protocol.json, so the two cannot drift.

The firmware has no room for a parser: its message types, codes and struct
formats are written out by hand (firmware/wire.py, station.py, sensors.py and
the chip drivers). Here they are imported under CPython and read from the
source, and compared with the table the host builds its parser from.
"""
import ast
import inspect
import struct

import charge
import load
import pytest
import sensors
import simboard
import station
import wire as fw  # firmware/wire.py
from conftest import ROOT

from pbgrade import wire

TABLE = wire.TABLE
HEADER = struct.calcsize("<" + "".join(f[1] for f in TABLE["header"]))
# struct formats of the fixed fields: the body up to its strings, which the firmware copies in by hand
FIXED = {m["name"]: "<" + "".join(f[1] for f in m["body"] if f[1] not in ("u8str", "str")) for m in TABLE["messages"]}
SAME_LAYOUT = {"CAL_SET": "CALIBRATION"}  # the firmware reads CAL_SET with unpack_calibration


def message_type(name):
    return int(wire.MESSAGES[name]["type"], 16)


def firmware_functions():
    """{name: (struct formats, their offsets, int literals returned)} of firmware/wire.py's functions."""
    found = {}
    for node in ast.walk(ast.parse(inspect.getsource(fw))):
        if isinstance(node, ast.FunctionDef):
            calls = [c for c in ast.walk(node) if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)
                     and isinstance(c.func.value, ast.Name) and c.func.value.id == "struct"]
            found[node.name] = ([ast.literal_eval(c.args[0]) for c in calls],
                                [ast.literal_eval(c.args[2]) for c in calls],
                                [r.value.value for r in ast.walk(node)
                                 if isinstance(r, ast.Return) and isinstance(r.value, ast.Constant)])
    return found


def test_message_types_and_version():
    assert fw.PROTO_VERSION == TABLE["version"] and fw.MAX_FRAME == TABLE["max_frame"]
    for m in TABLE["messages"]:
        assert getattr(fw, m["name"]) == message_type(m["name"]), m["name"]


def test_event_codes():
    table = {"EV_" + e["name"].upper(): e["code"] for e in TABLE["events"]}
    firmware = {name: value for module in (station, charge) for name, value in vars(module).items()
                if name.startswith("EV_")}  # firmware/charge.py has the charge mode's
    assert firmware == table


def test_states_ack_results_load_modes_and_edges():
    for rows, module in ((TABLE["states"], station), (TABLE["ack_results"], station), (TABLE["load_modes"], load),
                         (TABLE["edges"], station)):
        for row in rows:
            assert getattr(module, row["name"].upper()) == row["code"], row["name"]


def test_chips():
    table = {c["name"]: c["code"] for c in TABLE["chips"]}
    assert list(sensors.CHIPS) == list(table)
    for chip, module in sensors.CHIPS.items():
        assert getattr(__import__(module), chip).CHIP == table[chip], chip
    assert set(simboard._CHIPS) == set(table)  # the simulator models every chip


def test_command_body_lengths():
    """The station refuses a command whose length does not match its type: by the table's lengths."""
    commands = [m["name"] for m in TABLE["messages"] if m["sender"] == "host"]
    assert station._BODY == {message_type(name): struct.calcsize(FIXED[name]) for name in commands}


@pytest.mark.parametrize("m", [m for m in TABLE["messages"] if m["body"] and "samples" not in m],
                         ids=lambda m: m["name"])
def test_pack_and_unpack_formats(m):
    """Each body the firmware writes (pack_*) or reads (unpack_*) has the table's format, after the header."""
    name = SAME_LAYOUT.get(m["name"], m["name"])
    assert m["body"] == wire.MESSAGES[name]["body"]
    function = ("pack_" if m["sender"] == "device" else "unpack_") + name.lower()
    formats, offsets, returned = firmware_functions()[function]
    if name == "TEXT":  # its level byte is written by hand
        assert fw.pack_text(bytearray(8), 1, "ab") == HEADER + 1 + 2
        return
    assert formats == [FIXED[name]] and offsets == [HEADER], function
    assert all(n == HEADER + struct.calcsize(FIXED[name]) for n in returned), function


def test_identity_names_follow_the_fixed_fields():
    """The board's name, the rig's and the board's serial, each a u8 length and its bytes, as pack_identity
    writes them."""
    assert fw._IDENTITY_FIXED == HEADER + struct.calcsize(FIXED["IDENTITY"])
    assert [f[:2] for f in wire.MESSAGES["IDENTITY"]["body"][-3:]] == [["board", "u8str"], ["rig", "u8str"],
                                                                      ["board_id", "u8str"]]
    buf = bytearray(fw.MAX_FRAME)
    n = fw.pack_identity(buf, (0, 2, 0), 1, 0x40, 1, 10000, 0.00125, 0.0001, 5120, 35200, 24000, 3500,
                         bytes(range(8)), "rp2/ch2", "pico-3ch", wire.NO_TEMPERATURE, 2346, 32000, "e66141040337")
    msg = wire.parse(bytes(buf[:n]))
    assert (msg.body.settings_hash, msg.body.board, msg.body.rig) == (bytes(range(8)), "rp2/ch2", "pico-3ch")
    assert (msg.body.current_code_max, msg.body.board_id) == (32000, "e66141040337")
    assert (msg.body.load_centi_c, msg.body.dut_centi_c) == (wire.NO_TEMPERATURE, 2346)
    assert station._centi(None) == wire.NO_TEMPERATURE and station._centi(23.456) == 2346


@pytest.mark.parametrize("m", [m for m in TABLE["messages"] if "samples" in m], ids=lambda m: m["name"])
def test_sample_batches(m):
    """A firmware batch, read by the host's table-built fast path: type, index, count and codes."""
    batch = fw.Batch(m["samples"]["format"])
    assert batch.buf[0] == message_type(m["name"]) and batch.size_each == m["samples"]["bytes"]
    assert fw._SAMPLES_HEADER == HEADER + struct.calcsize(FIXED[m["name"]])
    assert batch.capacity == (TABLE["max_frame"] - 2 - fw._SAMPLES_HEADER) // m["samples"]["bytes"]
    samples = [(4000, 21000), (0, -1), (65535, -32768)]
    batch.start(0x01020304)
    for bus, current in samples:
        batch.add(bus, current)
    msg = wire.parse_samples(bytes(batch.buf[:batch.size()]))
    assert (msg.type, msg.body.index, msg.body.count) == (m["name"], 0x01020304, len(samples))
    assert list(zip(*(c.tolist() for c in wire.sample_codes(msg.type, msg.body.data)))) == samples


def test_bench_loop_packs_config_as_the_table():
    """bench/mp_loop.py packs CONFIG by hand too: reading the table under micropython would cost the heap
    the station's kept frames need."""
    source = (ROOT / "bench" / "mp_loop.py").read_text()
    packs = [c for c in ast.walk(ast.parse(source)) if isinstance(c, ast.Call) and ast.unparse(c.func) == "struct.pack"]
    assert len(packs) == 1
    fmt, *values = packs[0].args
    assert ast.literal_eval(fmt) == FIXED["CONFIG"]
    assert [ast.literal_eval(v.slice) for v in values] == [f[0] for f in wire.MESSAGES["CONFIG"]["body"]]
