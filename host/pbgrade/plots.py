"""The report's plots: every sample of a run, replayed from its journal, drawn as inline SVG.

A run of any length gives plots of the same size: each trace keeps the
lowest and highest reading of at most BUCKETS stretches of the run (a few
thousand points), so a spike or a dropout shows at any length, and the
replay (replay.replay) holds no more than a re-grade: a batch of samples at
a time, and the samples of a step of an hour or less.

matplotlib rather than hand-written SVG: its tick placement, number
formatting and layout keep the axes readable for any range without code of
our own. It is imported where a plot is drawn, not with the module: every
pbgrade command imports the report, and matplotlib takes longer to import
than most commands run.
"""
import io
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from . import steps
from .i18n import _
from .replay import replay
from .series import Envelope

BUCKETS = 1000  # min/max pairs per trace: at most about 2000 points, whatever the run's length
# Chinese text falls back glyph by glyph to Noto Sans CJK SC (Debian's fonts-noto-cjk, installed by make setup);
# the SVG names both families, so the page's browser draws the same fonts matplotlib measured
CJK_FONT = "Noto Sans CJK SC"
STYLE = {"svg.fonttype": "none", "font.size": 9, "axes.titlesize": 11, "axes.titlelocation": "left",
         "axes.grid": True, "grid.color": "#d0d4d9", "grid.linewidth": 0.5, "axes.xmargin": 0,
         "lines.linewidth": 0.8, "legend.fontsize": 8, "font.family": ["DejaVu Sans", CJK_FONT]}
# A voltage axis spans the data with this much room above and below (a fraction of the data's span, at least
# MIN_PAD_V): a 5 V output that droops 150 mV fills the plot's height instead of its top 3 %
PAD_FRACTION = 0.1
MIN_PAD_V = 0.05
# A reference voltage (rated, a limit, the end of discharge) within this fraction of the data's highest reading
# of the axis is drawn, the axis stretched to it: how close the output came to a limit is what it is there to show.
# One further away would squash the data again: the legend names it and says where it lies.
NEAR_FRACTION = 0.1
REFERENCE_COLOURS = ("#b3261e", "#e37400", "#188038", "#9334e6", "#1967d2", "#5f6368")  # dashed lines, in order


class DeliveredCharge:
    """Voltage against the charge delivered so far in one discharge step, decimated like the timeline.

    A gap in the samples is bridged linearly, as the record's gap estimate
    does; without gaps the curve ends at the step's measured charge."""

    def __init__(self):
        self.envelope = Envelope(1, BUCKETS)
        self._last = None  # (t_s, i, mAh) of the previous batch's last sample

    def add(self, t, v, i):
        start_mah = 0.0
        if self._last is not None:
            last_t, last_i, start_mah = self._last
            t, i = np.concatenate(([last_t], t)), np.concatenate(([last_i], i))
        mah = start_mah + np.concatenate(([0.0], np.cumsum((i[1:] + i[:-1]) / 2 * np.diff(t)) / 3.6))
        if self._last is not None:
            mah = mah[1:]
        self._last = (t[-1], i[-1], mah[-1])
        self.envelope.add(mah, v)

    def points(self):
        """Delivered mAh and voltage, as plot points."""
        mah, (v,) = self.envelope.points()
        return mah, v


@dataclass
class RunTraces:
    timeline: Envelope = field(default_factory=lambda: Envelope(3, BUCKETS))  # v, i, p against run time (s)
    spans: list = field(default_factory=list)  # [step, start_s, end_s] of each step with samples, on that time
    curves: dict = field(default_factory=dict)  # discharge step -> DeliveredCharge

    def add(self, step, t, v, i):
        """One batch of a step's samples, the steps in order (replay.replay's on_samples).

        The steps go back to back: the journal counts time within a step,
        not the second or so between steps."""
        if not self.spans or self.spans[-1][0] != step:
            self.spans.append([step, self.spans[-1][2] if self.spans else 0.0, None])
        start = self.spans[-1][1]
        self.spans[-1][2] = start + t[-1] + step.period_s
        self.timeline.add(start + t, v, i, v * i)
        if step.type == "discharge":
            self.curves.setdefault(step, DeliveredCharge()).add(t, v, i)


def collect(run_dir):
    """Replay the journal once: the run's timeline, each step's span on it, and the discharge curves."""
    traces = RunTraces()
    replay(run_dir, traces.add)
    return traces


def over_time(traces, gaps=(), references=()):
    """Voltage, current and power against the run's time, the steps marked and numbered, the gaps
    (start_s, end_s on that time, in which no sample arrived) shaded: three SVGs. references: (volts, name)
    lines of the voltage plot (voltage_references)."""
    x, (v, i, p) = traces.timeline.points()
    unit, scale = _time_unit(traces.spans[-1][2])
    xlabel = _("time ({unit})").format(unit=unit)
    return [_svg(_("Output voltage against time"), xlabel, _("voltage (V)"), [(x / scale, v, None)], traces.spans,
                 scale, references=references, gaps=gaps),
            _svg(_("Output current against time"), xlabel, _("current (A)"), [(x / scale, i, None)], traces.spans,
                 scale, gaps=gaps),
            _svg(_("Output power against time"), xlabel, _("power (W)"), [(x / scale, p, None)], traces.spans,
                 scale, gaps=gaps)]


def against_capacity(traces, end_v, references=()):
    """Voltage against the charge delivered, one line per discharge step, with the end-of-discharge voltage
    and the references (voltage_references)."""
    several = len(traces.curves) > 1
    lines = [(*curve.points(), _("step {n} {step}").format(n=step.number, step=steps.title(step.type))
              if several else None)
             for step, curve in traces.curves.items()]
    return _svg(_("Output voltage against capacity delivered"), _("capacity delivered (mAh)"), _("voltage (V)"),
                lines, references=[(end_v, _("end of discharge: {volts:.2f} V").format(volts=end_v)), *references])


def voltage_references(record):
    """The voltages a run's voltage is judged against, as (volts, name): the label's rated output voltage and
    each voltage limit of its profile's grades, a limit on a fraction of the rated voltage in volts."""
    rated = record["label"]["rated_output_v"]
    limits = set()
    for check in record["verdict"]["checks"]:
        unit = steps.QUANTITIES[check["quantity"]].unit
        if unit == "V" or (unit == "%" and "voltage_ratio" in check["quantity"]):
            limits.add(round(check["threshold"] * (rated if unit == "%" else 1), 3))
    return [(rated, _("rated output voltage: {volts:g} V").format(volts=rated))] + [
        (volts, _("limit: {volts:.2f} V").format(volts=volts)) for volts in sorted(limits - {rated})]


def _time_unit(end_s):
    """Seconds, minutes or hours: whichever keeps the axis's numbers under a few hundred."""
    return next(((unit, s) for unit, s in (("s", 1), ("min", 60)) if end_s <= 300 * s), ("h", 3600))


def voltage_axis(ys, references):
    """The voltage axis's (low, high) for the data ys, and the references (volts, name) drawn on it.

    The axis spans the readings with the output on (above steps.OFF_V): a unit asleep at rest, tripped or
    shorted reads 0 V, and those readings would squash the droop into the axis's top few percent again; they
    run off its bottom edge, and the legend says so. References near the data stretch the axis to them; the
    others are left off it."""
    on = [y[y > steps.OFF_V] for y in ys]
    on = [y for y in on if y.size] or ys  # a unit whose output never came on: its 0 V is the data
    lo, hi = min(y.min() for y in on), max(y.max() for y in on)
    pad = max((hi - lo) * PAD_FRACTION, MIN_PAD_V)
    near = NEAR_FRACTION * max(abs(hi), abs(lo))
    shown = [(volts, name) for volts, name in references if lo - near <= volts <= hi + near]
    lo, hi = min([lo] + [v for v, _name in shown]), max([hi] + [v for v, _name in shown])
    return (lo - pad, hi + pad), shown


def _svg(title, xlabel, ylabel, lines, spans=(), scale=1, references=None, gaps=()):
    """One plot as an SVG element; lines: (x, y, legend name or None); references: (volts, name), dashed, on a
    voltage axis that starts near the data (voltage_axis), None on another; gaps: (start, end) shaded, in the x
    axis's seconds.

    Text stays text (svg.fonttype none): smaller, searchable, drawn in the
    page's font. Fixed margins line the plots' axes up one under another. A
    Figure without pyplot: no GUI backend, no global state."""
    import matplotlib
    from matplotlib.figure import Figure

    _know_new_fonts()
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(10, 3))
        fig.subplots_adjust(left=0.07, right=0.99, bottom=0.16, top=0.84)
        ax = fig.add_subplot(xlabel=xlabel, ylabel=ylabel)
        ax.set_title(title, pad=14)
        _number_steps(ax, spans, scale)
        for k, (start, end) in enumerate(gaps):  # a line drawn across a gap is not a measurement: shade it
            ax.axvspan(start / scale, end / scale, color="#f4c7c3", lw=0, zorder=0,
                       label=None if k else _("gap: no samples arrived"))
        for x, y, name in lines:
            ax.plot(x, y, label=name)
        if references is not None:
            (low, high), shown = voltage_axis([y for _x, y, _name in lines], references)
            ax.set_ylim(low, high)
            for k, (volts, name) in enumerate(shown):
                ax.axhline(volts, ls="--", lw=0.9, color=REFERENCE_COLOURS[k % len(REFERENCE_COLOURS)], label=name)
            for volts, name in references:
                if (volts, name) not in shown:  # named, not drawn: where it lies says the data is far from it
                    where = _("{name} (below the plot)") if volts < low else _("{name} (above the plot)")
                    ax.plot([], [], ls="--", lw=0.9, color="#9aa0a6", label=where.format(name=name))
            if any(y.min() < low for _x, y, _name in lines):
                ax.plot([], [], color="none", label=_("output off (under {volts:g} V): off the bottom of the plot")
                        .format(volts=steps.OFF_V))
        if any(not a.get_label().startswith("_") for a in (*ax.get_lines(), *ax.patches)):
            ax.legend(loc="best")
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]  # without the XML declaration and DOCTYPE: it goes inside the page


@cache
def _know_new_fonts():
    """matplotlib lists the system's fonts once and keeps the list in its cache: a CJK font installed after
    matplotlib first ran (make setup's fonts-noto-cjk, after any earlier use) is missing from it, and Chinese
    text would be drawn as boxes. The fonts installed since are added to its list."""
    from matplotlib import font_manager

    manager = font_manager.fontManager
    if any(font.name == CJK_FONT for font in manager.ttflist):
        return
    known = {font.fname for font in manager.ttflist}
    for path in font_manager.findSystemFonts():
        if path not in known:
            try:
                manager.addfont(path)
            except (OSError, RuntimeError):  # a font file FreeType cannot read: as matplotlib's own scan does
                continue


def _number_steps(ax, spans, scale):
    """A dotted line where each step begins, and the steps' numbers above the plot where there is room."""
    labelled_at = -np.inf
    for step, start, end in spans:
        if start:
            ax.axvline(start / scale, color="#5f6368", lw=0.8, ls=":", zorder=0)
        middle = (start + end) / 2
        if (middle - labelled_at) / spans[-1][2] >= 0.02:  # numbers closer than that would overlap
            ax.text(middle / scale, 1.01, str(step.number), transform=ax.get_xaxis_transform(),  # x: data, y: axes
                    ha="center", va="bottom", fontsize=8, color="#5f6368")
            labelled_at = middle
