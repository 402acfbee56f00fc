"""Load held: 12 simulated channels test units end to end (eol) into a central PostgreSQL for a shift of
virtual time, with the operator's panel open: an SSE client reads every change the page would show.

Figures: records per second (wall), the panel's update latency (a tile's newest sample in the host ->
that tile parsed at the client, median and p95: the panel's own delay, over the same HTTP/SSE path a
browser uses), and nothing lost (units started == rows in PostgreSQL == records on disk).

    python -m bench --only panel
"""
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from pbgrade import production_line
from pbgrade.label import load_label
from pbgrade.method import load_method
from pbgrade.paths import DUTS, ROOT
from pbgrade.profile import load_profile
from pbgrade.rig import load_rig
from pbgrade.runner import Options
from pbgrade.simdut import load_dut
from pbgrade.store import Store
from pbgrade.testsetup import start_sim
from pbgrade.web.server import Server
from pbgrade.web.station import StationPanel, station_app

CHANNELS = 12
UNITS = ("honest-10000", "sagging-output")  # plugged in in turn: a line with a fail now and then
LABEL = DUTS / "honest-10000.label.toml"
EOL_CYCLE_S = 60.0  # virtual seconds a unit occupies a channel: the eol method's ~48 s, the waits for plug and pull


class PanelClient(threading.Thread):
    """The page's stream, read as a browser reads it: each tile's readings counted once, with its latency."""

    def __init__(self, port):
        super().__init__(daemon=True, name="sse-client")
        self.port = port
        self.events = 0
        self.latencies = []  # s: the readings' newest sample in the host -> parsed here
        self.seen = set()
        self.connected = threading.Event()

    def run(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        connection.request("GET", "/events")
        stream = connection.getresponse()
        self.connected.set()
        for line in stream:
            if line.startswith(b"event: closed"):
                return
            if not line.startswith(b"data: "):
                continue
            now = time.time()
            change = json.loads(line[6:])
            self.events += 1
            for tile in change["tiles"]:
                readings = tile["readings"]
                if readings and (tile["channel"], readings["received"]) not in self.seen:
                    self.seen.add((tile["channel"], readings["received"]))
                    self.latencies.append(now - readings["received"])


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(shift_h, speed):
    """(figures, details): a shift of shift_h virtual hours on CHANNELS channels at `speed` x real time."""
    sys.path.insert(0, str(ROOT / "tests"))
    from postgresql_server import PostgreSQLServer

    units = CHANNELS * round(shift_h * 3600 / EOL_CYCLE_S)
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = Path(tmp)
        base = Path(tempfile.mkdtemp(prefix="pbgrade-postgresql-"))  # its server's user (as root: nobody) enters it
        base.chmod(0o755)
        stack.callback(shutil.rmtree, base, ignore_errors=True)
        server = PostgreSQLServer(base)
        stack.callback(server.stop)
        url = server.new_database()
        saved = {name: os.environ.get(name) for name in ("PBGRADE_DATA", "PBGRADE_DB")}
        os.environ.update(PBGRADE_DATA=str(work / "data"), PBGRADE_DB=url)
        stack.callback(lambda: [os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
                                for k, v in saved.items()])

        rig, method = load_rig("sim"), load_method("eol")
        sims = [start_sim(stack, rig, None, speed) for _ in range(CHANNELS)]
        operator = production_line.SimulatedOperator([(sim, 1) for sim in sims],
                                                     [(name, load_dut(name)) for name in UNITS])
        channels = [production_line.Channel(n, sim.port, sim.rig, production_line.station_name(sim.rig, n))
                    for n, sim in enumerate(sims, 1)]
        panel = StationPanel("127.0.0.1:0", None)
        started = []
        session = production_line.Session(
            channels, load_label(LABEL), LABEL, method, load_profile(method.profile), Options(),
            panel.views(lambda s, channel: channel.state == "started" and started.append(channel.run_id)),
            plug=operator.plug, unplug=operator.unplug, readings=panel.board.readings)
        panel.board.attach(session)
        with Server(station_app(panel.board), panel.sock):
            client = PanelClient(panel.sock.getsockname()[1])
            client.start()
            client.connected.wait(30)
            began = time.monotonic()
            records = session.run(f"SHIFT-{k:05d}\n" for k in range(units))
            wall_s = time.monotonic() - began
            panel.board.close()
            client.join(30)
        rows = len(Store(url).known(started))
        on_disk = len(list((work / "data" / "runs").glob("*/record.json")))
        virtual_s = sum(r["integrity"]["span_s"] for r in records) / CHANNELS  # the tests' own time, no waits
    figures = {"records_per_s": len(records) / wall_s, "latency_median_ms": statistics.median(client.latencies) * 1e3,
               "latency_p95_ms": percentile(client.latencies, 95) * 1e3, "units_started": len(started),
               "rows_in_postgresql": rows, "records_on_disk": on_disk, "lost": len(started) - min(rows, on_disk)}
    details = {"channels": CHANNELS, "units": units, "shift_h": shift_h, "speed": speed, "wall_s": wall_s,
               "virtual_test_s_per_channel": virtual_s, "sse_events": client.events,
               "readings_shown": len(client.latencies), "passed": sum(r["passed"] for r in records)}
    return figures, details


def rows(shift_h):
    return {
        "records_per_s": (f"records per second, {CHANNELS} channels into PostgreSQL, panel open "
                          f"({shift_h:g} h shift of eol units)", "records/s", None),
        "latency_median_ms": ("panel update latency, newest sample in host -> SSE client, median", "ms", None),
        "latency_p95_ms": ("panel update latency, p95", "ms", ("<=", 1000)),
        "units_started": ("units started", "units", None),
        "rows_in_postgresql": ("rows in PostgreSQL", "rows", None),
        "records_on_disk": ("records on disk", "records", None),
        "lost": ("runs lost (started - min(rows, records))", "runs", ("==", 0)),
    }
