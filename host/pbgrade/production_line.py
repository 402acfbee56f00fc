"""Station mode for a production line: scan a serial number, plug the unit
in, the test starts by itself, PASS or FAIL shows big with its reason, the
record is saved, the next unit follows. Several channels run at once, each
on its own serial port and each unit with its own run record: the channels
of one rig with several (one board, a sensor and a load per channel, a USB
serial interface each), or several rigs on a USB hub (one rig per channel:
a fault on one board cannot stop another), or both.

Serial numbers come one per line from the keyboard, which is what a USB
barcode scanner is; each goes to the lowest-numbered free channel, whose line
then asks for the unit. The unit is detected by its output voltage
appearing with the load off, and its removal by the voltage going away.
"""
import queue
import sys
import threading
import traceback
from contextlib import ExitStack
from dataclasses import dataclass, field, replace

from . import paths, settings, sync, traceability, wording
from .calibrate import history_path, latest_reference
from .evaluate import Evaluation
from .i18n import N_, _
from .link import RigError, collect, command, open_rig
from .live import step_title
from .profile import NEEDS_FULL_TEST
from .record import outcome
from .rig import channels as rig_channels
from .rig import load_rig
from .runner import Aborted, Options, run_test
from .shift import StationError, channel_name, tally, verdict_word
from .simdut import load_dut
from .simrig import add_sim_link_flag
from .steps import OBSERVE, OFF_V
from .store import Store
from .testsetup import checked_test, device_rig, start_sim

WATCH_PERIOD_US = 250_000  # the output is looked at 4 times a second while waiting for a unit
PRESENT_HOLD_S = 1.0  # the voltage must stay (or stay away) this long: a plug wiggled in counts once


@dataclass
class Channel:
    number: int
    port: str
    rig: dict  # the rig table of this channel
    station: str
    state: str = "free"  # free, plug in, started, testing, remove, broken
    serial: str | None = None
    detail: str = ""  # the step under test, or the last verdict's reason
    verdict: str | None = None  # the last unit's verdict as shown: PASS, B (PASS), CONSISTENT, ...
    passed: bool = False  # ... and whether it passed (a screen's CONSISTENT: the label holds, as far as seen)
    done: list = field(default_factory=list)  # run ids tested on this channel
    calibration_reference: dict | None = None  # its rig's latest calibration here (calibrate.latest_reference)
    run_id: str | None = None  # of the unit in test
    record: dict | None = None  # the last unit's, for a view that re-tells its verdict (web.board)
    serials: queue.Queue = field(default_factory=queue.Queue)  # scanned into this channel's own field (web panel)


def watch_output(port, present, stop=lambda: False, hold_s=PRESENT_HOLD_S):
    """Wait with the load off until a unit's output is there (present) or gone,
    held for hold_s of the rig's time. False if stop() said so first."""
    with open_rig(port) as (link, device):
        config = {**OBSERVE, "period_us": WATCH_PERIOD_US}
        watch = Evaluation(config, device=(device.identity, device.calibration), first_seq=device.order.expected)
        command(link, watch, "CONFIG", **config)
        command(link, watch, "START")
        since = None

        def seen():
            nonlocal since
            if stop():
                return True
            if watch.last is None:
                return False
            t, v, _ = watch.last
            if (v > OFF_V) != present:
                since = None
                return False
            since = t if since is None else since
            return t - since >= hold_s

        try:
            collect(link, watch, seen)
        finally:
            command(link, watch, "STOP")
        return not stop()


class Session:
    """Runs the channels, each in a thread, until the serials run out and every channel is free.

    plug(channel, serial) and unplug(channel) are hooks for a simulated
    operator; on real hardware a person does both and they do nothing.
    readings(channel, step, evaluation): each batch of samples of a unit in test, for a live view."""

    def __init__(self, channels, label, label_path, method, profile, options: Options, show,
                 plug=lambda channel, serial: None, unplug=lambda channel: None, trace=None,
                 readings=lambda channel, step, evaluation: None):
        """trace: the shift's operator, note and typed ambient temperature (traceability.given); each unit
        brings its serial, each channel its calibration reference."""
        self.channels = channels
        self.trace = trace or {}
        self.label, self.label_path = label, label_path
        self.method, self.profile, self.options = method, profile, options
        self.show = show  # show(session, channel): a channel changed
        self.plug, self.unplug = plug, unplug
        self.readings = readings
        self.serials = queue.Queue()
        self.stopping = threading.Event()
        self.store = Store(paths.run_db())
        self.uploader = sync.uploader_for(self.store)  # None: no central database
        self.records = []
        self.untested = []  # serials no channel could test
        self._scan_lock = threading.Lock()

    def run(self, serial_lines):
        """Take serials from serial_lines (an iterable of lines) until it ends, then finish the units in test."""
        threads = [threading.Thread(target=self._channel_loop, args=(c,), daemon=True) for c in self.channels]
        for t in threads:
            t.start()
        try:
            for line in serial_lines:
                serial = line.strip()
                if serial:
                    self.serials.put(serial)
                if self._all_broken():
                    break
            for serials in (self.serials, *(c.serials for c in self.channels)):
                serials.join()
        finally:  # Ctrl-C too: every channel stops, its load off, its run saved as aborted
            self.stopping.set()
            for t in threads:
                t.join()
            if self.uploader:  # a last try: what is still unsent waits in the station's file
                self.uploader.close()
        if self._all_broken():
            raise StationError(f"every channel is out of service ({self.channels[0].detail}); not tested: "
                               f"{', '.join(self.untested)}: fix the rigs and start the station again")
        return self.records

    def scan_into(self, channel, serial):
        """A serial scanned into one channel's own field: that channel tests the unit placed in it.
        Refused (StationError) unless the channel is free and has no serial waiting."""
        with self._scan_lock:
            if channel.state != "free" or channel.serials.unfinished_tasks:
                raise StationError(_("{channel} is not free: wait until it asks for a serial number").format(
                    channel=channel_name(channel)))
            channel.serials.put(serial)

    def _channel_loop(self, channel):
        while not self.stopping.is_set():
            try:
                serials = channel.serials
                serial = serials.get_nowait()
            except queue.Empty:
                try:
                    serials = self.serials
                    serial = serials.get(timeout=0.1)
                except queue.Empty:
                    continue
            try:
                self._test_one(channel, serial)
            except Exception as e:  # this channel takes no more serials and says why; the others go on
                self.untested.append(serial)
                self._set(channel, "broken", verdict=None, detail=_why_broken(e))
                self._drain()
                return
            finally:
                serials.task_done()

    def _all_broken(self):
        return all(c.state == "broken" for c in self.channels)

    def _drain(self):
        """Serials waiting when a channel breaks stay for the others; if none is left, they are given back."""
        if self._all_broken():
            while True:
                try:
                    self.untested.append(self.serials.get_nowait())
                except queue.Empty:
                    return
                self.serials.task_done()

    def _test_one(self, channel, serial):
        stop = self.stopping.is_set
        self._set(channel, "plug in", serial=serial, detail="", verdict=None)
        self.plug(channel, serial)
        if not watch_output(channel.port, True, stop):
            return

        def progress(step, evaluation):
            if self.stopping.is_set():
                raise KeyboardInterrupt  # the runner switches the load off and saves the run as aborted
            if step_title(step) != channel.detail:
                self._set(channel, "testing", detail=step_title(step))
            self.readings(channel, step, evaluation)

        try:
            record = run_test(channel.port, replace(self.label, serial=serial), self.label_path, self.method,
                              self.profile, channel.rig, replace(self.options), paths.data_dir(), progress,
                              station=channel.station,
                              trace={**self.trace, "serial": serial,
                                     "calibration_reference": channel.calibration_reference},
                              announce=lambda run_id: self._set(channel, "started", run_id=run_id))
        except Aborted as stopped:
            record = stopped.record
        self.store.add(record)
        if self.uploader:
            self.uploader.nudge()
        self.records.append(record)
        channel.done.append(record["run_id"])
        reasons = record["verdict"]["reasons"]
        shown = reasons[wording.headline(record["verdict"])] if reasons else f"grade {record['grade']}"
        self._set(channel, "remove", verdict=record["grade"] + outcome(record), passed=record["passed"],
                  detail=shown, record=record)
        self.unplug(channel)
        watch_output(channel.port, False, stop)
        self._set(channel, "free")

    def _set(self, channel, state, **fields):
        channel.state = state
        for name, value in fields.items():
            setattr(channel, name, value)
        self.show(self, channel)


def _why_broken(error):
    """A channel's reason to take no more serials: a rig that broke says why; a fault of pbgrade's own prints its
    traceback on stderr, and the shift goes on and ends."""
    if isinstance(error, RigError):
        return str(error)
    traceback.print_exc()
    return f"pbgrade failed ({type(error).__name__}: {error}): report it, with the traceback above"


def station_name(rig, channel_number):
    return f"{settings.station_host()}/{rig['rig']['name']}/ch{channel_number}"


class PlainView:
    """One line per change of a channel: for logs, pipes and tests."""

    _SAYS = {"free": N_("free: scan the next serial number"), "plug in": N_("{serial}: plug the unit in"),
             "started": N_("{serial}: run {run_id} started (resume with `pbgrade resume {run_id}`)"),
             "testing": N_("{serial}: testing {step}"), "remove": N_("{serial}: {verdict} - {reason}; remove the unit"),
             "broken": N_("out of service: {reason}")}

    def __init__(self, stream=sys.stdout):
        self.stream = stream
        self._lock = threading.Lock()

    def __call__(self, session, channel):
        what = _(self._SAYS[channel.state]).format(serial=channel.serial, step=channel.detail, reason=channel.detail,
                                                   verdict=verdict_word(channel), run_id=channel.run_id).rstrip()
        with self._lock:
            print(f"{channel_name(channel)} {what.rstrip()}", file=self.stream, flush=True)


class TerminalView:
    """One panel per channel, the verdict big and coloured: readable from across the bench."""

    _STYLE = {"free": "dim", "plug in": "bold yellow", "started": "bold cyan", "testing": "bold cyan",
              "broken": "bold white on red"}

    def __init__(self, console=None):
        from rich.console import Console
        from rich.live import Live

        self.console = console or Console(stderr=True)
        self._live = Live(console=self.console, refresh_per_second=4, auto_refresh=False)
        self._lock = threading.Lock()

    def __enter__(self):
        self._live.start()
        return self

    def __exit__(self, *exc):
        self._live.stop()

    def __call__(self, session, channel):
        with self._lock:
            self._live.update(self.render(session.channels), refresh=True)

    def render(self, channels):
        from rich.columns import Columns
        from rich.console import Group
        from rich.padding import Padding
        from rich.panel import Panel
        from rich.text import Text

        panels = []
        for c in channels:
            if c.state == "remove":
                band = ("bold white on green" if c.passed else "bold black on yellow" if c.verdict == NEEDS_FULL_TEST
                        else "bold white on red")
                word = verdict_word(c)
                big = " ".join(word) if len(word) <= 15 else word  # spaced out if it fits
                body = Group(Padding(Text(big, justify="center"), (1, 0), style=band),
                             Text("\n".join(("", c.serial, c.detail, _("remove the unit"))), justify="center"))
            else:
                what = {"free": _("scan a serial number"), "plug in": _("plug the unit in"),
                        "started": _("run {run_id} started").format(run_id=c.run_id),
                        "testing": _("testing: {step}").format(step=c.detail), "broken": c.detail}[c.state]
                body = Text(f"\n{c.serial or ''}\n{what}\n", style=self._STYLE[c.state], justify="center")
            panels.append(Panel(body, title=Text(channel_name(c)), subtitle=Text(_("{count} tested").format(
                count=len(c.done))), width=34))
        return Columns(panels)


class SimulatedOperator:
    """Plugs the next catalogue unit into a simulated channel's bay when its
    serial is scanned, and pulls it out once the verdict shows. bays: the
    (SimRig, its channel number) of each station channel, in order; duts:
    the (catalogue name, DUT description) of the units plugged in in turn."""

    def __init__(self, bays, duts):
        self.bays, self.duts = bays, duts
        self.units = {}  # serial -> catalogue name of the unit plugged in for it
        self._lock = threading.Lock()

    def plug(self, channel, serial):
        with self._lock:
            name, dut = self.duts[len(self.units) % len(self.duts)]
            self.units[serial] = name
        sim, number = self.bays[channel.number - 1]
        sim.plug(dut, number)

    def unplug(self, channel):
        sim, number = self.bays[channel.number - 1]
        sim.unplug(number)


def add_commands(sub):
    st = sub.add_parser("station", help="production line: scan, plug in, test, PASS/FAIL, next; several channels")
    st.add_argument("--port", action="append", help="a channel's serial port; repeat for each channel")
    st.add_argument("--rig", help="the channels' rig file or name (default: with --port, the rig each device "
                                   "reports; without, the settings', else sim, --channels of it simulated); a rig "
                                   "with several channels gives one station channel each")
    st.add_argument("--channels", type=int, help="simulated one-channel rigs (default: 2)")
    st.add_argument("--sim-duts", default="honest-10000",
                    help="simulated units the operator plugs in, in turn (comma-separated catalogue names)")
    st.add_argument("--label", required=True, help="label file of the model on the line (TOML)")
    st.add_argument("--method", default="eol", help="test method (default: eol)")
    st.add_argument("--profile", help="grading profile (default: the method's)")
    st.add_argument("--rate", type=float, default=10.0, help="samples per second (default: 10)")
    st.add_argument("--speed", type=float, default=0,
                    help="simulated channels only: run at N x real time to watch them (default: as fast as possible)")
    st.add_argument("--web", action="store_true",
                    help="the operator's panel in a browser: a tile per channel, each with its serial number field "
                         "(the serials come from there); Ctrl-C ends the shift")
    st.add_argument("--bind", default="127.0.0.1:8080", help="with --web: HOST:PORT to serve the panel on "
                                                             "(default: 127.0.0.1:8080, this computer only)")
    st.add_argument("--token", help="with --web: a secret every request must carry; needed to bind an address "
                                    "the network reaches")
    traceability.add_flags(st)
    add_sim_link_flag(st)
    st.set_defaults(func=cmd_station)


def cmd_station(args):
    """Serials from stdin until it ends (Ctrl-D, or the end of a piped list); exit 1 if any unit did not pass
    (failed, or a screen found it not consistent or could not decide)."""
    devices = [device_rig(port, args.rig) for port in args.port or ()]  # each checked before any current flows
    rig = devices[0][0] if devices else load_rig(args.rig or "sim")
    rigs = rig_channels(rig)
    # the label's current against the lowest current limit of the channels: the one that binds
    lowest = min(rigs, key=lambda r: r["limits"]["max_current_a"])
    label, method, profile = checked_test(lowest, args.label, args.method, args.profile)
    shift = traceability.given(args.operator, args.note, traceability.typed_ambient(args.ambient_c))
    if len(rigs) > 1 and args.channels is not None:
        raise StationError(f"--channels {args.channels}: rig {rig['rig']['name']} has {len(rigs)} channels of its "
                           f"own; leave --channels out")
    if args.port and len(rigs) > 1 and len(args.port) != len(rigs):
        raise StationError(f"rig {rig['rig']['name']} has {len(rigs)} channels: give one --port for each, "
                           f"in channel order")
    count = 2 if args.channels is None else args.channels
    if not args.port and not 1 <= count <= 8:
        raise StationError(f"--channels {count}: give 1 to 8 simulated channels")
    if args.token and not args.web:
        raise StationError("--token is the web panel's: add --web")
    panel = web_panel(args.bind, args.token) if args.web else None  # a --bind it cannot serve is refused first
    with ExitStack() as stack:
        hooks = {}
        if args.port:
            names = {r["rig"]["name"] for r, _ in devices}
            if len(names) > 1:
                raise StationError(f"the devices on --port run different rigs ({', '.join(sorted(names))}): "
                                   f"give the ports of one rig")
            bays = [(port, channel_rig) for port, (_, channel_rig) in zip(args.port, devices)]
        else:
            names = [d.strip() for d in args.sim_duts.split(",") if d.strip()]
            duts = [(name, load_dut(name)) for name in names]  # a wrong name is refused before any channel starts
            sims = [start_sim(stack, rig, None, args.speed, args.sim_link)
                    for _ in range(1 if len(rigs) > 1 else count)]
            sim_bays = [(sim, k) for sim in sims for k in range(1, len(rigs) + 1)]
            operator = SimulatedOperator(sim_bays, duts)
            bays = [(sim.ports[k - 1], rig_channels(sim.rig)[k - 1]) for sim, k in sim_bays]
            hooks = {"plug": operator.plug, "unplug": operator.unplug}
        channels = [Channel(n, port, channel_rig, station_name(channel_rig, n), calibration_reference=latest_reference(
                            history_path(rig, channel_rig["rig"].get("channel", 1))))
                    for n, (port, channel_rig) in enumerate(bays, 1)]
        view = stack.enter_context(TerminalView()) if sys.stderr.isatty() else PlainView(sys.stderr)
        session = Session(channels, label, args.label, method, profile, Options(rate_hz=args.rate),
                          panel.views(view) if panel else view, **hooks, trace=shift,
                          **({"readings": panel.board.readings} if panel else {}))
        for channel in channels:
            view(session, channel)
        records = panel.run(session) if panel else session.run(sys.stdin)
    print(_("pbgrade station: {tally}; `pbgrade history --station '*'` lists them").format(tally=tally(records)))
    return 0 if all(r["passed"] for r in records) else 1


def web_panel(bind, token):
    from .web.station import StationPanel  # the web server's packages only where a panel is served

    return StationPanel(bind, token)
