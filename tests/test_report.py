"""The report as a person sees it: a quick simulated run, its report rendered
by real headless Chromium (a screenshot, the DOM after rendering, a PDF).

No skip without Chromium: `make test` installs it, and a report that no
browser has rendered is not tested.
"""
import html
import re

import numpy as np
import pytest
from PIL import Image

from pbgrade.report import headless_chromium
from pbgrade.series import Envelope
from test_e2e import pbgrade, run_record
from test_export import pbgrade_here

PASS_BAND_RGB = (0x1E, 0x7B, 0x34)  # --pass in host/pbgrade/report.html


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A quick run of the honest unit, reported with --pdf: (run's tmp dir, record, HTML path)."""
    tmp = tmp_path_factory.mktemp("report")
    record, _ = run_record(tmp, "--method", "quick")
    out = tmp / "report.html"
    proc = pbgrade(tmp, "report", record["run_id"], "--out", out, "--pdf")
    assert proc.returncode == 0, proc.stderr
    return tmp, record, out


def test_page_loads_nothing_from_outside(report):
    _, _, out = report
    page = out.read_text(encoding="utf-8")
    assert not re.search(r"<script|<link|<img|<iframe|@import", page)
    assert not re.search(r"""(?:href|src)\s*=\s*["'](?!#)|url\((?!#)""", page)  # only references within the page


def test_rendered_page_has_the_verdict_every_step_and_four_plots(report):
    _, record, out = report
    proc = headless_chromium(out, "--dump-dom")
    dom = proc.stdout
    assert proc.returncode == 0 and "</html>" in dom, proc.stderr[-500:]
    assert "In a quick check this power bank behaved as its label says" in dom
    assert '<div class="verdict pass"' in dom
    for number, step in enumerate(record["steps"], start=1):
        assert f"Step {number}: {step['type'].replace('_', ' ')}" in dom
        for behaviour in step["behaviours"]:
            assert html.escape(behaviour, quote=False) in dom
    plots = re.findall(r"<figure><svg.*?</svg>", dom, re.S)
    assert len(plots) == 4
    for plot, title in zip(plots, ("voltage against time", "current against time", "power against time",
                                   "voltage against capacity delivered")):
        assert f"Output {title}" in plot
        assert max(path.count("L") for path in re.findall(r'<path d="([^"]*)"', plot)) > 20  # a trace, not a stub


def test_screenshot_is_a_page_with_the_verdict_band(report):
    tmp, _, out = report
    png = tmp / "report.png"
    proc = headless_chromium(out, f"--screenshot={png}", "--window-size=1200,3000")
    assert png.is_file(), proc.stderr[-500:]
    image = Image.open(png).convert("RGB")
    pixels = np.asarray(image).reshape(-1, 3)
    band = np.all(pixels == PASS_BAND_RGB, axis=1)
    dark = pixels.sum(axis=1) < 200  # text and plot lines
    assert band.mean() > 0.02, "no green verdict band"
    assert np.argmax(band) < 1200 * 300, "the verdict band is not at the top"
    assert dark.mean() > 0.005, "no text"
    assert len(image.getcolors(1 << 16)) > 50, "a blank or flat page"


def test_pdf_is_printed(report):
    _, _, out = report
    pdf = out.with_suffix(".pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000


def test_a_run_that_does_not_exist_is_one_line(report, monkeypatch, capsys):
    tmp, _, _ = report
    code, _, err = pbgrade_here(monkeypatch, capsys, tmp, "report", "no-such-run")
    assert code == 2 and err.count("\n") == 1 and "no-such-run" in err


def test_pdf_without_chromium_says_how_to_install_it(report, monkeypatch, capsys):
    tmp, record, _ = report
    monkeypatch.setenv("PATH", str(tmp))  # no chromium there
    code, _, err = pbgrade_here(monkeypatch, capsys, tmp, "report", record["run_id"], "--out", tmp / "again.html",
                                "--pdf")
    assert code == 2 and err.count("\n") == 1 and "apt-get install chromium" in err


def test_envelope_is_bounded_and_keeps_every_extreme():
    envelope = Envelope(2, buckets=100)
    rng = np.random.default_rng(1)
    n = 1_000_003
    y = rng.normal(size=n)
    y[777_777] = 50.0  # a spike in one sample must survive any decimation
    for start in range(0, n, 16_384):  # the replay's batch size
        part = slice(start, start + 16_384)
        x = np.arange(n)[part].astype(float)
        envelope.add(x, y[part], -y[part])
    x, (trace, mirrored) = envelope.points()
    assert x.size <= 2 * (100 + 1) and np.all(np.diff(x) >= 0)
    assert trace.max() == 50.0 and mirrored.min() == -50.0 and trace.min() == y.min()


def test_a_gap_is_shaded_on_the_time_plots_not_just_bridged():
    from pbgrade import plots
    from pbgrade.series import JournalStep

    traces, step = plots.RunTraces(), JournalStep(1, "discharge", 1.0)
    for t in (np.arange(0.0, 10.0), np.arange(20.0, 30.0)):  # nothing arrived from 10 s to 20 s
        traces.add(step, t, np.full(10, 5.0), np.full(10, 2.1))
    shaded, plain = plots.over_time(traces, [(9.0, 20.0)]), plots.over_time(traces)
    assert all("gap: no samples arrived" in svg for svg in shaded)
    assert not any("gap" in svg for svg in plain)
