"""The report as a person sees it: simulated runs of every method (full, quick, eol, one the rig stopped),
their reports in English and Chinese, rendered by real headless Chromium (a screenshot, the DOM after
rendering, a PDF).

No skip without Chromium: `make test` installs it, and a report that no
browser has rendered is not tested.
"""
import html
import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from pbgrade import i18n, plots, resulttable, steps, wording
from pbgrade.report import headless_chromium, render
from pbgrade.series import Envelope
from test_e2e import SIM_RIG, pbgrade, run_record
from test_export import pbgrade_here

PASS_BAND_RGB = (0x1E, 0x7B, 0x34)  # --pass in host/pbgrade/report.html
LANGUAGES = ("en", "zh-CN")
# what Chinese text may still spell in Latin letters: units, acronyms, and the record's own names and ids
UNITS_AND_ACRONYMS = {"V", "A", "W", "s", "I", "mAh", "Wh", "mV", "mA", "ms", "min", "p-p", "RMS", "Hz", "GMT", "UTC", "I²C", "pbgrade",
                      "INA226", "µs", "DC", "PWM", "MOSFET", "DAC", "SCPI", "g", "kg"}
SECTIONS = ("Test record", "Label against measured", "Steps", "Plots", "Rig, calibration and firmware",
            "Data integrity", "Signatures")
ZH_SECTIONS = ("测试记录", "标签值与实测值", "测试步骤", "曲线图", "测试台、校准和固件", "数据完整性", "签字")
WEIGHED = {"quick": ("--mass-g", "222")}  # the honest unit's mass, as the inspector types it


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One run of each method in one data folder, and one the rig stopped in its third step (12 W at most: the
    over-current ramp draws more): (tmp dir, {run: record}, {run: the folder whose data/ holds it})."""
    tmp = tmp_path_factory.mktemp("runs")
    rig = tmp / "rig.toml"
    rig.write_text(SIM_RIG.replace("max_current_a = 3.5", "max_current_a = 3.5\nmax_power_w = 12"))
    records = {method: run_record(tmp, "--method", method, *WEIGHED.get(method, ()))[0]
               for method in ("full", "quick", "eol")}
    stopped = tmp / "stopped.json"  # in a data folder of its own: a simulated board keeps its first rig settings
    assert pbgrade(tmp / "stopped", "run", "--rig", rig, "--method", "eol", "--json", stopped).returncode == 1
    records["stopped"] = json.loads(stopped.read_text())
    assert records["stopped"]["grade"] == "ABORTED"
    return tmp, records, {**dict.fromkeys(records, tmp), "stopped": tmp / "stopped"}


@pytest.fixture(scope="module")
def pages(runs):
    """Every run's report in every language: {(run, language): HTML text}."""
    tmp, records, homes = runs
    written = {}
    for name, record in records.items():
        for language in LANGUAGES:
            out = tmp / f"{name}.{language}.html"
            proc = pbgrade(homes[name], "report", record["run_id"], "--lang", language, "--out", out)
            assert proc.returncode == 0, proc.stderr
            written[name, language] = out.read_text(encoding="utf-8")
    return written


class VisibleText(HTMLParser):
    """The text a reader sees, less what is quoted from English data (lang="en": the profile's sources) and the
    plots' SVG (their axes are plots.py's)."""

    SKIPPED = {"style", "title", "svg"}

    def __init__(self):
        super().__init__()
        self.open, self.skipping, self.texts = [], 0, []

    def handle_starttag(self, tag, attrs):
        if tag in ("meta", "br"):
            return
        skip = tag in self.SKIPPED or dict(attrs).get("lang") == "en"
        self.open.append(skip)
        self.skipping += skip

    def handle_endtag(self, tag):
        if tag in ("meta", "br"):
            return
        self.skipping -= self.open.pop()

    def handle_data(self, data):
        if not self.skipping and data.strip():
            self.texts.append(data.strip())


def untranslated(page, record):
    """The visible text nodes of a Chinese page that still hold an English word: any Latin-letter word but
    units, acronyms, and the names and ids the record holds (model, serial, run id, method, profile, rig)."""
    names = {str(v) for v in (*record["label"].values(), record["run_id"], record["method"], record["profile"],
                              record["station"], record["firmware_version"],
                              record.get("operator"), record.get("note"), *record["rig"]["rig"].values(),
                              *record["device"].values()) if v is not None}
    allowed = UNITS_AND_ACRONYMS | {word for name in names for word in _latin_words(name)}
    parser = VisibleText()
    parser.feed(page)
    return [text for text in parser.texts if any(word not in allowed for word in _latin_words(text))]


def _latin_words(text):
    """Words that begin with a Latin letter, but in `a command to type` and a unit such as °C."""
    return re.findall(r"(?<![\w.°])[A-Za-z][\w.²-]*", re.sub(r"`[^`]*`", "", text))


@pytest.mark.parametrize("run", ("full", "quick", "eol", "stopped"))
def test_a_chinese_report_has_no_english_left_in_any_section(runs, pages, run):
    _, records, _homes = runs
    assert untranslated(pages[run, "zh-CN"], records[run]) == []
    assert '<html lang="zh-CN">' in pages[run, "zh-CN"]
    for language, sections in (("en", SECTIONS), ("zh-CN", ZH_SECTIONS)):
        assert all(f"<h2>{section}</h2>" in pages[run, language] for section in sections), language
        assert 'id="verdict"' in pages[run, language]
    english = pages[run, "en"]
    assert not re.search(r"[\u4e00-\u9fff]", english), "Chinese in the English report"


def test_the_untranslated_check_finds_english(runs, pages):
    _, records, _homes = runs
    page = pages["full", "zh-CN"].replace("测试记录", "Test record")
    assert untranslated(page, records["full"]) == ["Test record"]


@pytest.mark.parametrize("run", ("full", "quick", "eol", "stopped"))
def test_reasons_are_retold_from_the_checks_in_either_language_and_the_record_stays_english(runs, run):
    _, records, _homes = runs
    record = records[run]
    english = wording.reasons(record)
    stop = 1 if run == "stopped" else 0  # its first reason is the rig's stop, told with the step's display name
    assert english[stop:] == record["verdict"]["reasons"][stop:]  # one source: the English re-told is the record's
    assert english[:stop] == [reason.replace("(over_current)", "(over-current protection)")
                              for reason in record["verdict"]["reasons"][:stop]]
    try:
        i18n.use("zh-CN")
        chinese = wording.reasons(record)
    finally:
        i18n.use("en")
    assert len(chinese) == len(record["verdict"]["reasons"]) > 0
    for reason in chinese:
        command = re.sub(r"`[^`]*`", "", reason)  # a command to type stays as typed
        assert re.search(r"[\u4e00-\u9fff]", reason) and not re.search(r"\b[a-z]{3,}\b", command), reason


def test_what_the_unit_did_is_retold_from_the_templates_that_said_it(runs):
    _, records, _homes = runs
    said = [sentence for record in records.values() for step in record["steps"] for sentence in step["behaviours"]]
    samples = [template.format(**dict.fromkeys(re.findall(r"{(\w+)}", template), "1.5")) for template in
               steps.SAYINGS]
    assert len(said) > 8 and [wording.retold(s) for s in said + samples] == said + samples  # English: as recorded
    try:
        i18n.use("zh-CN")
        chinese = [wording.retold(s) for s in said + samples]
    finally:
        i18n.use("en")
    assert [s for s in chinese if not re.search(r"[\u4e00-\u9fff]", s)
            or set(_latin_words(s)) - UNITS_AND_ACRONYMS] == []
    assert "过流保护在 3.36 A（额定电流的 160%）时动作，电流升至该值后 20.4 ms（分辨率 0.672 ms）；8.0 s 后输出恢复（自动恢复）" in chinese


def test_an_operators_stop_is_retold_too(runs):
    _, records, _homes = runs
    stopped = records["stopped"]
    by_operator = ("stopped by the operator after 0.4 min of test time, in step 3 of 4 (over_current): an aborted run "
                   "is never passed; on what it measured until then it grades FAIL")
    record = {**stopped, "status": "aborted by operator",
              "verdict": {**stopped["verdict"], "reasons": [by_operator, *stopped["verdict"]["reasons"][1:]]}}
    try:
        i18n.use("zh-CN")
        first = wording.reasons(record)[0]
    finally:
        i18n.use("en")
    assert first == "测试 0.4 min 后由操作员在第 3 步（共 4 步，过流保护）停止：中止的测试一律不判为合格；按此前的测量结果，等级为不合格"


def test_the_verdict_line_speaks_the_language(runs):
    _, records, _homes = runs
    try:
        i18n.use("zh-CN")
        full, stopped = resulttable.result_table(records["full"]), resulttable.result_table(records["stopped"])
    finally:
        i18n.use("en")
    assert "结论：合格 - 测试方法 full，判定规则 gbt35590" in full
    assert "  - 实际输出容量 " in full and "合格要求不低于 100 %" in full
    assert "结论：已中止" in stopped and "负载功率超过了测试台的限值" in stopped


def test_the_report_names_quantities_for_people_not_by_their_keys(pages):
    leaks = ("ocp trip a", "voltage_ratio_min", "voltage ratio min", "duration s", "address 64", "host_away",
             "host away file", "/tmp/")
    for (run, language), page in pages.items():
        assert not [leak for leak in leaks if leak in page], (run, language)
    assert "over-current protection trip current" in pages["full", "en"] and "0x40" in pages["full", "en"]
    assert "过流保护动作电流" in pages["full", "zh-CN"] and "转换效率" in pages["full", "zh-CN"]
    assert "duration 0 s" not in pages["full", "en"] and "时长 0 s" not in pages["full", "zh-CN"]  # the discharge
    assert "持续至样品停止输出或降至终止电压" in pages["full", "zh-CN"]  # runs to the unit's end, not for 0 s


def test_the_report_carries_what_an_inspector_signs(pages):
    for language, labels in (("en", ("operator", "station", "ambient temperature", "reference instrument",
                                     "calibration due", "pbgrade version", "firmware version", "tested by",
                                     "checked by")),
                             ("zh-CN", ("操作员", "测试工位", "环境温度", "参考仪器", "校准有效期至", "固件版本",
                                        "检验员", "审核员"))):
        page = pages["full", language]
        assert all(f"<td>{label}</td>" in page or f"<span>{label}</span>" in page for label in labels), language
    assert pages["full", "zh-CN"].count('class="line"') == 3


def test_a_chinese_pdf_carries_a_cjk_font_and_its_screenshot_is_a_page(runs):
    tmp, _records, _homes = runs
    out = tmp / "full.zh-CN.html"
    pdf = tmp / "full.zh-CN.pdf"
    proc = headless_chromium(out, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    assert pdf.is_file(), proc.stderr[-500:]
    assert re.search(rb"/FontName\s*/[A-Z]{6}\+NotoSansCJKsc", pdf.read_bytes()), "no CJK font in the PDF: tofu"
    png = tmp / "full.zh-CN.png"
    headless_chromium(out, f"--screenshot={png}", "--window-size=1200,1600")
    pixels = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3)
    assert np.all(pixels == PASS_BAND_RGB, axis=1).mean() > 0.02 and (pixels.sum(axis=1) < 200).mean() > 0.005


def test_the_test_record_shows_who_where_when_and_with_what_in_the_language(runs):
    _, records, _homes = runs
    record = {**records["full"], "operator": "王工", "note": "batch 7", "started_local": "2026-12-04T14:46:43+08:00",
              "ambient": {"temperature_c": 23.46, "source": "rig"}, "host_version": "0.9.1",
              "calibration": {"calibrated": True, "date": "2026-11-02T08:00:00Z", "v_gain": 1.001, "v_offset_v": 0.002,
                              "i_gain": 0.998, "i_offset_a": -0.001, "reference_instrument": "Keysight 34465A #MY123",
                              "due": "2027-11-02"}}
    try:
        i18n.use("zh-CN")
        chinese = render(record, plots.RunTraces())
    finally:
        i18n.use("en")
    english = render(record, plots.RunTraces())
    for page, shown in ((chinese, ("王工", "batch 7", "GMT+08:00 14:46:43", "23.5 °C（测试台传感器）",
                                   "Keysight 34465A #MY123", "2027年11月2日", "校准于 2026年11月2日", "0.9.1")),
                        (english, ("王工", "Friday, December 4, 2026", "GMT+08:00", "23.5 °C (the rig's sensor)",
                                   "November 2, 2027", "calibrated November 2, 2026"))):
        assert all(html.escape(text) in page for text in shown), [t for t in shown if html.escape(t) not in page]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A quick run of the honest unit, reported with --pdf: (run's tmp dir, record, HTML path)."""
    tmp = tmp_path_factory.mktemp("report")
    record, _ = run_record(tmp, "--method", "quick", *WEIGHED["quick"])
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
        assert f"Step {number}: {steps.TITLES[step['type']]}" in dom
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
