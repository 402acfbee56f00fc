"""The live view of a running test: what the unit delivers, how long is left,
how close the limits are, and how the link holds up.

`snapshot` computes what is shown from a step's Evaluation alone (a pure
function, so it is tested without a rig); `panel` and `line` render it. `Live`
is the runner's progress callback: on a terminal a panel redrawn at most
REFRESH_S apart (rich), anywhere else (CI logs, pipes) plain lines, one per
step start and end and one per PLAIN_EVERY_S of test time, without escape
codes or carriage returns. rich is imported where a view is drawn: every
pbgrade command imports this module, few draw it.
"""
import time
from dataclasses import dataclass

import numpy as np

from . import steps
from .i18n import N_, _


REFRESH_S = 0.25  # at most 4 redraws a second of wall time: more is flicker, not news
# A plain line per 10 minutes of test time: a 3-hour discharge logs ~20 lines, few enough to read in a CI log,
# enough to see the voltage's course and, on a real rig, that the run is alive; the full method's 10-minute rest
# gets its start and end lines and nothing between.
PLAIN_EVERY_S = 600
SPARKS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 60  # points in the sparkline; the trace keeps up to twice as many
MIN_SPAN_V = 0.05  # the sparkline's smallest range: millivolts of noise do not fill its height
MIN_BASIS_S = 60  # the first minute of a discharge says too little of its power to project from
TREND_POINTS = 12  # the voltage trend is fitted to this many of the trace's latest points


@dataclass(frozen=True)
class Snapshot:
    """What the live view shows at one moment; None where nothing is known (yet)."""
    step: str  # its title, and its name if it has one ("discharge half")
    n: int  # 1-based place of the step in the method ...
    steps: int  # ... of this many
    elapsed_s: float  # test time since the first step began
    step_s: float  # test time into this step
    length_s: float | None  # the step's planned length; None: the discharge to the end
    v: float | None
    i: float | None
    wh: float  # drawn in this step
    mah: float
    step_left_s: float | None
    test_left_s: float | None
    basis: str  # how the time left was found, or why it is unknown
    end_v: float | None  # the step ends below this voltage (its end_mv); None: it has no end voltage
    max_v: float | None  # the rig's limits, as its device enforces them
    max_a: float | None
    frames: int  # received whole, in this step
    corrupt: int
    lost: int
    recovered: int  # missing once, then received again on request
    spark: str
    spark_v: tuple[float, float] | None  # the lowest and highest voltage in the sparkline ...
    spark_s: float  # ... and the test time it spans

    @property
    def p(self):
        return None if self.v is None else self.v * self.i

    @property
    def end_margin_v(self):
        return None if self.v is None or self.end_v is None else self.v - self.end_v

    @property
    def v_margin(self):
        return None if self.v is None or self.max_v is None else self.max_v - self.v

    @property
    def a_margin(self):
        return None if self.i is None or self.max_a is None else self.max_a - self.i


def snapshot(evaluation, method, plans, n, label, before_s=0.0, trace=()):
    """The live view of step n (0-based) of the method, from its Evaluation.

    plans: every step's plan (its duration: 0 for the discharge to the end);
    before_s: test time of the steps before; trace: this step's (t_s, v)
    points, oldest first."""
    step, plan = method.steps[n], plans[n]
    t, v, i = evaluation.last or (0.0, None, None)
    integrator = evaluation.integrator
    if evaluation.finished:
        step_left, basis = 0.0, _("the step has ended")
    elif plan.seconds:
        step_left, basis = max(plan.seconds - t, 0.0), _("timed steps")
    else:
        step_left, basis = _discharge_left(t, integrator.energy_wh, label, trace,
                                           evaluation.config["end_mv"] / 1000)
    test_left = None if step_left is None else step_left + sum(p.seconds for p in plans[n + 1:])
    if test_left is not None and any(not (p.seconds or p.skip) for p in plans[n + 1:]):
        test_left, basis = None, _("the test is unknown until its discharge to the end runs")
    ident = evaluation.identity
    shown = trace[-SPARK_WIDTH:]
    points = [p[1] for p in shown]
    return Snapshot(
        step=step_title(step), n=n + 1, steps=len(method.steps), elapsed_s=before_s + t,
        step_s=t, length_s=plan.seconds or None, v=v, i=i, wh=integrator.energy_wh, mah=integrator.charge_mah,
        step_left_s=step_left, test_left_s=test_left, basis=basis, end_v=evaluation.config["end_mv"] / 1000 or None,
        max_v=ident.max_mv / 1000 if ident else None, max_a=ident.max_ma / 1000 if ident else None,
        frames=evaluation.frames, corrupt=evaluation.frames_corrupt, lost=evaluation.frames_lost,
        recovered=evaluation.order.recovered, spark=sparkline(points), spark_v=(min(points), max(points)) if points else None,
        spark_s=shown[-1][0] - shown[0][0] if shown else 0.0)


def step_title(step):
    """The step as the operator reads it: its test item, and the method's name for it if it has one."""
    return f"{steps.title(step.type)} {step.name}".strip()


def _discharge_left(t, wh, label, trace, end_v):
    """Time left of a discharge to the end, and how it was found; (None, why) without a basis.

    From the energy: what it drew so far at its mean power, against the
    energy the label rates its output for (or, once past that, what it rates
    its cells for). From the voltage trend, when the output is falling: when
    it reaches the end voltage. The sooner of the two."""
    if t < MIN_BASIS_S:
        return None, _("unknown in the discharge's first minute")
    watts = wh * 3600 / t
    if watts < 0.01:
        return None, _("unknown: no current is drawn")
    rated_wh = label.rated_output_wh
    if wh < rated_wh:
        target, basis = rated_wh, _("energy: {wh:.1f} of the label's rated output {target:.1f} Wh at {watts:.1f} W")
    elif wh < label.rated_energy_wh:
        target, basis = label.rated_energy_wh, _("energy: {wh:.1f} of the label's cells' {target:.1f} Wh at "
                                                 "{watts:.1f} W")
    else:
        return None, _("unknown: past the {wh:.1f} Wh its cells are rated for").format(wh=label.rated_energy_wh)
    left, basis = (target - wh) * 3600 / watts, basis.format(wh=wh, target=target, watts=watts)
    falling = _falling(trace, end_v)
    if falling is not None and falling[0] < left:
        return falling
    return left, basis


def _falling(trace, end_v):
    """(seconds until the voltage reaches end_v, basis) if the trace's latest points fall towards it, else None."""
    points = np.array(trace[-TREND_POINTS:], dtype=float).reshape(-1, 2)
    if not end_v or len(points) < 5 or np.ptp(points[:, 0]) < 30:
        return None
    slope, intercept = np.polyfit(points[:, 0], points[:, 1], 1)
    if slope >= 0:
        return None
    now = slope * points[-1, 0] + intercept
    return max(now - end_v, 0.0) / -slope, _("voltage trend: {slope:+.0f} mV/min to {end_v:.2f} V").format(
        slope=slope * 60000, end_v=end_v)


def sparkline(values):
    """Values as unicode bars, scaled to their range (at least MIN_SPAN_V, centred)."""
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = max(hi - lo, MIN_SPAN_V)
    base = (lo + hi - span) / 2
    top = len(SPARKS) - 1
    return "".join(SPARKS[min(top, max(0, int((v - base) / span * top + 0.5)))] for v in values)


class Trace:
    """A step's voltage in at most 2 x SPARK_WIDTH (t_s, v) points, for the
    sparkline and the trend: when full, every other point goes and the spacing
    doubles, so it spans the whole step however long it runs. The last point
    is always the latest reading."""

    def __init__(self):
        self.points = []
        self._every = 0.0

    def add(self, t, v):
        if len(self.points) >= 2 and t < self.points[-2][0] + self._every:
            self.points[-1] = (t, v)  # moves on with the readings until there is room for another
            return
        self.points.append((t, v))
        if len(self.points) >= 2 * SPARK_WIDTH:
            self.points = self.points[:-1:2] + self.points[-1:]  # every other, the first and the latest kept
            self._every = (self.points[-1][0] - self.points[0][0]) / SPARK_WIDTH


def hms(seconds):
    s = int(seconds)
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}"


def _num(value, fmt, none="-"):
    return none if value is None else format(value, fmt)


def _left(s):
    return _("step {step}, test {test}").format(step=_hms_or_unknown(s.step_left_s),
                                                test=_hms_or_unknown(s.test_left_s))


def _hms_or_unknown(seconds):
    return _("unknown") if seconds is None else hms(seconds)


# The plain line's head for each moment of a step; {what} is what follows the colon
_HEADS = {"started": N_("{time} step {n}/{steps} {step} started: {what}"),
          "running": N_("{time} step {n}/{steps} {step} running: {what}"),
          "ended": N_("{time} step {n}/{steps} {step} ended: {what}"),
          "stopped": N_("{time} step {n}/{steps} {step} stopped: {what}")}


def line(s, what):
    """One plain line, at the test time it tells of: no escape codes, no carriage return.

    what: "started" (the step's length), "running" (readings, time left),
    "ended" or "stopped" (readings)."""
    if what == "started":
        length = (_("runs until the unit stops or reaches its end voltage") if s.length_s is None
                  else _("runs {length}").format(length=hms(s.length_s)))
        return _(_HEADS[what]).format(time=hms(s.elapsed_s - s.step_s), n=s.n, steps=s.steps, step=s.step,
                                      what=length)
    readings = f"{_output(s)} {_drawn(s)}"
    if what == "running":
        readings = _("{readings}; left: {left}").format(readings=readings, left=_left(s))
    return _(_HEADS[what]).format(time=hms(s.elapsed_s), n=s.n, steps=s.steps, step=s.step,
                                  what=_("{readings}; link: {link}").format(readings=readings, link=_link(s)))


def _output(s, gap=" "):
    return gap.join((f"{_num(s.v, '.3f')} V", f"{_num(s.i, '.3f')} A", f"{_num(s.p, '.2f')} W"))


def _drawn(s, gap=" "):
    return gap.join((f"{s.wh:.3f} Wh", f"{s.mah:.1f} mAh"))


def _link(s):
    return _("{frames} frames, {corrupt} corrupt, {lost} lost, {recovered} recovered").format(
        frames=s.frames, corrupt=s.corrupt, lost=s.lost, recovered=s.recovered)


def _margin(limit, margin, unit, inside, outside):
    """A limit and how far the reading is from it: inside and outside are templates of {margin}."""
    if limit is None or margin is None:
        return _("none")
    distance = (inside if margin >= 0 else outside).format(margin=f"{abs(margin):.2f} {unit}")
    return f"{limit:.2f} {unit} ({distance})"


def panel(s):
    """The terminal view of a snapshot.

    Every cell is a Text, never a markup string: a console.print(markup=False) while the panel is live renders
    the panel with the same options, which printed "[dim]timed steps[/]" raw at each step change."""
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    spare, over = _("{margin} to spare"), _("{margin} over")
    rows = [
        (_("output"), Text(_output(s, "   "))),
        (_("drawn"), Text(_drawn(s, "   "))),
        (_("time"), Text(_("{test} test, {step} in this step").format(test=hms(s.elapsed_s), step=hms(s.step_s)))),
        (_("left"), Text(_left(s))),
        ("", Text(s.basis, style="dim")),
        (_("limits"), Text(_("end voltage {margin}").format(
            margin=_margin(s.end_v, s.end_margin_v, "V", _("{margin} above"), _("{margin} below"))))),
        ("", Text(_("rig {volts}, {amps}").format(volts=_margin(s.max_v, s.v_margin, "V", spare, over),
                                                   amps=_margin(s.max_a, s.a_margin, "A", spare, over)))),
        (_("link"), Text(_link(s))),
        (_("voltage"), Text(s.spark, style="cyan")),
    ]
    if s.spark_v:
        rows.append(("", Text(_("{low:.3f}-{high:.3f} V over the last {span}").format(
            low=s.spark_v[0], high=s.spark_v[1], span=hms(s.spark_s)))))
    for name, value in rows:
        grid.add_row(Text(name), value)
    return Panel(grid, title=Text(_("step {n}/{steps}: {step}").format(n=s.n, steps=s.steps, step=s.step)),
                 title_align="left", subtitle=Text(_("Ctrl-C stops: load off, run saved as aborted")),
                 subtitle_align="right")


class Live:
    """The runner's progress callback (update) and the view it feeds; a context
    manager, so the last step's line is written however the run ends.

    plans: every step's plan, as the runner makes them (runner.plans_for)."""

    def __init__(self, stream, label, method, plans):
        self.stream = stream
        self.label = label
        self.method = method
        self._plans = plans
        from rich.console import Console

        self._console = Console(file=stream)
        self._terminal = self._console.is_terminal and not self._console.is_dumb_terminal
        self._display = None  # the rich Live, from the first redraw on
        self._shown = 0.0  # wall time of the last redraw or plain check
        self._evaluation = None  # the running step's, with its place and trace
        self._n = -1
        self._before_s = 0.0
        self._trace = None
        self._durations = {}  # step index -> its test time, for the steps seen to their end
        self._printed_s = 0.0  # test time of the last plain line

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_exc):
        if self._evaluation is not None:
            self._line("stopped" if exc_type else "ended")
        if self._display is not None:
            self._redraw()  # the panel left on the screen is the last state, not the last redraw
            self._display.stop()
        return False

    def update(self, step, evaluation):
        if evaluation is not self._evaluation:
            self._begin(step, evaluation)
        if time.monotonic() - self._shown < REFRESH_S:
            return  # what follows integrates the samples so far, which costs more than a batch of them at once
        self._shown = time.monotonic()
        last = evaluation.last
        if last is not None:
            self._trace.add(last[0], last[1])
        if self._terminal:
            self._redraw()
        elif last is not None and self._before_s + last[0] - self._printed_s >= PLAIN_EVERY_S:
            self._line("running")

    def _begin(self, step, evaluation):
        """A new step: the one before it ends, its line is written."""
        if self._evaluation is not None:
            self._line("ended")
            last = self._evaluation.last  # the step lasted to the end of its last sample's period
            self._durations[self._n] = last[0] + self._evaluation.period_us / 1e6 if last else 0.0
        steps = self.method.steps
        self._n = next(k for k in range(self._n + 1, len(steps)) if steps[k] == step)
        self._before_s = sum(self._durations.get(k, self._plans[k].seconds) for k in range(self._n))
        self._evaluation, self._trace = evaluation, Trace()
        self._line("started")
        if self._terminal:
            self._redraw()

    def snapshot(self):
        return snapshot(self._evaluation, self.method, self._plans, self._n, self.label, self._before_s,
                        self._trace.points)

    def _line(self, what):
        s = self.snapshot()
        self._printed_s = s.elapsed_s
        if self._terminal:  # above the panel, kept in the scrollback
            from rich.text import Text

            self._console.print(Text(line(s, what)), highlight=False)
        else:
            self.stream.write(line(s, what) + "\n")
            self.stream.flush()

    def _redraw(self):
        view = panel(self.snapshot())
        if self._display is None:
            import rich.live

            self._display = rich.live.Live(view, console=self._console, auto_refresh=False)
            self._display.start()
        self._display.update(view, refresh=True)
