"""The report's plots: a voltage axis that starts near the data, so the droop they are there to show fills
them (issue 17: they started at 0 V), with the rated voltage and the profile's limits where they are near;
titles, axes and legends in the language, every glyph in a font (a "Glyph ... missing" warning fails the
test), and a plot as Chromium draws it in English and in Chinese."""
import re
import warnings

import numpy as np
import pytest
from PIL import Image

from pbgrade import i18n, plots
from pbgrade.report import headless_chromium
from pbgrade.series import JournalStep
from test_e2e import run_record
from test_live import chinese, untranslated  # noqa: F401 (chinese: a fixture)

pytestmark = pytest.mark.filterwarnings("error::UserWarning")  # matplotlib's "Glyph ... missing from font(s)"


@pytest.fixture(scope="module")
def honest(tmp_path_factory):
    """A full run of the honest 10000 mAh unit: its record and traces. Asleep at rest, tripped, shorted and
    cut off at the end, its output read 0 V in four steps: that set the axis at 0 V before."""
    tmp = tmp_path_factory.mktemp("plots")
    record, _ = run_record(tmp, "--method", "full")
    return record, plots.collect(tmp / "data" / "runs" / record["run_id"])


def y_ticks(svg):
    """The numbers on a plot's y axis, as the SVG writes them."""
    return [float(t.replace("−", "-")) for t in re.findall(r'<g id="ytick_\d+">.*?<text[^>]*>([^<]*)</text>', svg, re.S)]


def texts(svg):
    """The words a plot shows."""
    return " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", svg))


def test_an_honest_units_voltage_axis_holds_its_data_and_limits_and_not_0_v(honest):
    record, traces = honest
    references = plots.voltage_references(record)
    assert [v for v, _ in references] == [5.0, 4.75, 5.25]  # rated; gbt35590's 95 % and 105 %
    voltage = plots.over_time(traces, references=references)[0]
    _, (v, _, _) = traces.timeline.points()
    ticks = y_ticks(voltage)
    assert 4.0 < min(ticks) <= 4.75 and 5.25 <= max(ticks) < 6.0  # the limits in sight, 0 V far out of it
    (low, high), shown = plots.voltage_axis([v], references)
    assert v.min() == 0.0 and low > 4.0  # the readings with the output off run off the bottom ...
    assert "output off (under 1 V): off the bottom of the plot" in texts(voltage)  # ... and the legend says so
    on = v[v > 1.0]
    assert low < on.min() and on.max() < high and shown == references
    assert (on.max() - on.min()) / (high - low) > 0.2  # the unit's 0.16 V fills a fifth of the height, not 3 %
    assert "rated output voltage: 5 V" in texts(voltage) and "limit: 4.75 V" in texts(voltage)
    curve = plots.against_capacity(traces, record["config"]["end_mv"] / 1000, references)
    assert min(y_ticks(curve)) > 4.0 and "end of discharge: 4.00 V (below the plot)" in texts(curve)


def drooping():
    """A discharge that droops from 5.0 V to 4.6 V over its 100 s."""
    traces, step = plots.RunTraces(), JournalStep(1, "discharge", 1.0)
    t = np.arange(100.0)
    traces.add(step, t, 5.0 - 0.004 * t, np.full(100, 2.1))
    return traces


def test_a_limit_near_the_data_is_drawn_and_one_far_from_it_named():
    _, (v, _, _) = drooping().timeline.points()
    references = [(5.0, "rated"), (4.75, "limit"), (3.0, "end"), (6.5, "over")]
    (low, high), shown = plots.voltage_axis([v], references)
    assert shown == references[:2] and 4.5 < low < v.min() and v.max() < high < 5.1
    svg = plots.against_capacity(drooping(), 3.0)
    assert "end of discharge: 3.00 V (below the plot)" in texts(svg) and min(y_ticks(svg)) > 4.0


def test_the_plots_speak_chinese_with_every_glyph_in_a_font(chinese):
    svgs = [*plots.over_time(drooping(), [(40.0, 50.0)], [(5.0, "额定")]), plots.against_capacity(drooping(), 4.7)]
    shown = texts("".join(svgs))
    for text in ("输出电压随时间变化", "输出电流随时间变化", "输出功率随时间变化", "输出电压随已输出容量变化",
                 "电压 (V)", "时间 (s)", "已输出容量 (mAh)", "放电终止：4.70 V", "数据缺口：未收到样本"):
        assert text in shown
    assert untranslated(shown) == ["s"] * 3  # the time axis's unit, seconds
    assert "font-family: 'DejaVu Sans', 'Noto Sans CJK SC'" in svgs[0]  # the browser draws what was measured


def test_a_glyph_no_font_has_fails_the_plot(chinese, monkeypatch):
    monkeypatch.setitem(plots.STYLE, "font.family", ["DejaVu Sans"])
    with pytest.raises(UserWarning, match="Glyph .* missing from font"):
        plots.against_capacity(drooping(), 4.7)


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_a_plot_as_chromium_draws_it(tmp_path, language):
    """The voltage plot in a page, screenshot by headless Chromium: the trace fills the plot's height (the
    blue of matplotlib's first line is found across most of it), and the title is drawn."""
    i18n.use(language)
    try:
        svg = plots.over_time(drooping(), references=[(4.75, "4.75 V")])[0]
    finally:
        i18n.use(i18n.SOURCE_LANGUAGE)
    page, png = tmp_path / "plot.html", tmp_path / f"plot-{language}.png"
    page.write_text(f'<!doctype html><meta charset="utf-8"><body style="margin:0">{svg}</body>', encoding="utf-8")
    proc = headless_chromium(page, f"--screenshot={png}", "--window-size=1000,320")
    assert proc.returncode == 0 and png.is_file(), proc.stderr[-500:]
    pixels = np.asarray(Image.open(png).convert("RGB")).astype(int)
    blue = np.all(np.abs(pixels - (0x1F, 0x77, 0xB4)) < 40, axis=2)  # the trace, matplotlib's C0
    rows = np.flatnonzero(blue.any(axis=1))
    plot_rows = 320 * (0.84 - 0.16)  # subplots_adjust: the axes' share of the figure's height
    assert rows.size and (rows.max() - rows.min()) > 0.6 * plot_rows  # 5.0 V to 4.6 V spans the axes, not 8 %
    dark = (pixels.sum(axis=2) < 200)[:30]  # the title's band
    assert dark.sum() > 200  # the title's strokes: a font drew them
