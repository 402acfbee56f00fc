"""`pbgrade report RUN`: one self-contained HTML page for a run, optionally printed to PDF.

The page is for the person who bought the unit as much as for the lab: it
opens with the verdict in plain words, then backs it with everything the
record holds (label against measured, each step with its limits, plots of
every sample from the journal, the rig, its calibration and the data's
integrity). It loads nothing from outside (styles inline, plots as inline
SVG), so it reads the same offline, archived, or mailed; Chromium prints
it to PDF because a browser is what lays the page out anyway.
"""
import html
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from string import Template

from . import paths, plots, settings
from .wire import END_EVENTS
from .label import load_label
from .profile import NEEDS_FULL_TEST, load_profile
from .record import COMPLETE, outcome
from .replay import find_run, regrade

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
CHROMIUM_TIMEOUT_S = 120
# any Chromium-family browser prints the same: these names on PATH, then where installers put them
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "msedge", "microsoft-edge",
            "microsoft-edge-stable", "brave-browser", "brave")
BROWSER_PATHS = ("C:/Program Files/Google/Chrome/Application/chrome.exe",
                 "C:/Program Files (x86)/Google/Chrome/Application/chrome.exe",
                 "~/AppData/Local/Google/Chrome/Application/chrome.exe",
                 "C:/Program Files (x86)/Microsoft/Edge/Application/msedge.exe",
                 "C:/Program Files/Microsoft/Edge/Application/msedge.exe",
                 "C:/Program Files/BraveSoftware/Brave-Browser/Application/brave.exe",
                 "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
                 "/Applications/Chromium.app/Contents/MacOS/Chromium",
                 "/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
                 "/Applications/Brave Browser.app/Contents/MacOS/Brave Browser")
# measurement name ending -> unit, scale, decimals
UNITS = (("_mv_pp", " mV p-p", 1, 1), ("_mv_rms", " mV RMS", 1, 1), ("_v_per_min", " V/min", 1, 4),
         ("_ratio", " %", 100, 1), ("_ratio_min", " %", 100, 2), ("_ratio_max", " %", 100, 2),
         ("efficiency", " %", 100, 1), ("load_regulation", " %", 100, 2),
         ("_mah", " mAh", 1, 0), ("_wh", " Wh", 1, 3), ("_v", " V", 1, 3), ("_a", " A", 1, 3), ("_s", " s", 1, 1))
YES_NO = ("collapsed", "ocp_below_rated", "ocp_recovered", "stopped_by_itself", "short_protected",
          "short_recovered")  # measurements that are 1 (yes) or 0 (no)


class ReportError(RuntimeError):
    """A report that cannot be made; the message says what to do."""


def add_commands(subparsers):
    p = subparsers.add_parser("report", help="write a run's report: one self-contained HTML page (and PDF)",
                              description="Write a run's report: the verdict in plain words, label against "
                                          "measured, every step with its limits, plots of every sample, the "
                                          "rig, its calibration and the data's integrity, in one HTML file "
                                          "that loads nothing from outside. Samples come from the run's "
                                          "journal, the source of truth.")
    p.add_argument("run", help="run id or run directory")
    p.add_argument("--out", type=Path, help="the HTML file (default: RUN_ID.html in the current directory)")
    p.add_argument("--pdf", action="store_true",
                   help="also print it to PDF beside the HTML (needs a Chromium-family browser: chromium, Chrome, "
                        "Edge, Brave; or the settings' browser)")
    p.set_defaults(func=cmd_report)


def cmd_report(args):
    run_dir, meta = find_run(args.run)
    record, traces = _record(run_dir, meta)
    out = args.out or Path(f"{record['run_id']}.html")
    out.write_text(render(record, traces), encoding="utf-8")
    print(out)
    if args.pdf:
        pdf = out.with_suffix(".pdf")
        print_pdf(out, pdf)
        print(pdf)
    return 0


def _record(run_dir, meta):
    """The run's saved record, and its samples for the plots (plots.RunTraces), from one replay of its
    journal; for a run that never saved a record (killed, not resumed), that replay rebuilds it."""
    saved = run_dir / "record.json"
    if saved.is_file():
        return json.loads(saved.read_text(encoding="utf-8")), plots.collect(run_dir)
    traces = plots.RunTraces()
    return regrade(run_dir, load_label(meta["label_path"]), load_profile(meta["profile"]), traces.add), traces


def render(record, traces):
    """The report page of a run as one HTML string; traces: its samples for the plots (plots.RunTraces)."""
    label = record["label"]
    unit = " ".join(filter(None, (label.get("manufacturer"), label.get("model")))) or "Power bank"
    body = "\n".join((
        f"<h1>{_e(unit)}</h1>",
        f'<p class="faint">serial {_e(label.get("serial") or "not given")} · run {_e(record["run_id"])} · '
        f'{_e(record["started_at"])} · method {_e(record["method"])} · profile {_e(record["profile"])}</p>',
        _verdict(record), _label_table(record), _steps(record), _plots(record, traces), _identity(record),
        _integrity(record)))
    return Template(paths.REPORT_TEMPLATE.read_text(encoding="utf-8")).substitute(title=_e(f"{unit}: {record['grade']}"), body=body)


# -- the verdict, in words a consumer understands ------------------------------------------------------

def _verdict(r):
    words, detail = _headline(r)
    unfinished = r["status"] != COMPLETE
    tone = "unsure" if unfinished or r["grade"] == NEEDS_FULL_TEST else "pass" if r["passed"] else "fail"
    lines = [f'<p class="headline">{_e(words)}</p>'] + [f"<p>{_e(d)}</p>" for d in detail]
    if unfinished:
        lines.append(f"<p>The test did not finish ({_e(r['status'])}): the figures cover only what was measured.</p>")
    lines.append(f'<p class="grade">Verdict: <strong>{_e(r["grade"])}</strong>{outcome(r)} under profile '
                 f'{_e(r["profile"])}, because:</p>')
    lines.append(_list(r["verdict"]["reasons"], "reasons"))
    return f'<div class="verdict {tone}" id="verdict">\n' + "\n".join(lines) + "\n</div>"


def _headline(r):
    """The one sentence a buyer wants, and what backs it."""
    label = r["label"]
    if r["capacity_ratio"] is not None:
        detail = [f"It delivered {r['capacity_mah']:,.0f} mAh of the {label['rated_capacity_mah']:,.0f} mAh "
                  f"printed on it, at {label['rated_output_v']:g} V and {label['rated_output_a']:g} A."]
        if r["efficiency"] is not None:
            detail.append(f"Of the {label['rated_energy_wh']:.1f} Wh its cells are rated for, it delivered "
                          f"{r['energy_wh']:.1f} Wh: {r['efficiency'] * 100:.0f} %.")
        return f"This power bank delivers {r['capacity_ratio'] * 100:.0f} % of the capacity on its label", detail
    capacity = "Only a full test measures its capacity."
    if r["method_verdict"] == "screen":
        if r["grade"] == NEEDS_FULL_TEST:
            return "This quick check could not decide: the power bank needs a full test", [capacity]
        if r["passed"]:
            return "In a quick check this power bank behaved as its label says", [
                capacity + " A unit with fewer cells than its label claims can pass this check."]
        return "This power bank does not behave as its label says", [capacity]
    if r["passed"]:
        return f"This power bank meets every limit of profile {r['profile']}", [capacity]
    return f"This power bank fails profile {r['profile']}", [capacity]


# -- label against measured, and the steps -------------------------------------------------------------

def _label_table(r):
    label = r["label"]
    ocp_ran = any(step["type"] == "over_current" for step in r["steps"])
    rows = [
        ("capacity at the output", f"{label['rated_capacity_mah']:,.0f} mAh", _fmt("capacity_mah", r["capacity_mah"]),
         _fmt("capacity_ratio", r["capacity_ratio"])),
        ("energy", f"{label['rated_energy_wh']:.2f} Wh (cells: {label['cell_capacity_mah']:,.0f} mAh at "
                   f"{label['cell_voltage_v']:g} V)", _fmt("energy_wh", r["energy_wh"]),
         _fmt("efficiency", r["efficiency"])),
        ("output voltage under load", f"{label['rated_output_v']:g} V", _fmt("min_voltage_v", r["min_voltage_v"]),
         _fmt("voltage_ratio_min", r["voltage_ratio_min"])),
        ("output voltage without load", f"{label['rated_output_v']:g} V",
         _fmt("no_load_voltage_v", r.get("no_load_voltage_v")),
         _fmt("no_load_voltage_ratio", r.get("no_load_voltage_ratio"))),
        ("output current", f"{label['rated_output_a']:g} A",
         "protection tripped at " + _fmt("ocp_trip_a", r["ocp_trip_a"]) if r.get("ocp_trip_a") is not None
         else "no protection trip" if ocp_ran else "not measured", ""),
    ]
    if label.get("declared_efficiency") is not None:
        rows.append(("efficiency", _fmt("efficiency", label["declared_efficiency"]), _fmt("efficiency", r["efficiency"]),
                     ""))
    return "<h2>Label against measured</h2>\n" + _table(("", "on the label", "measured", "measured / label"), rows,
                                                        numeric=(2, 3))


def _steps(r):
    """Each step with its measurements, the limits graded on them, and what the unit did."""
    checks_of = _checks_by_step(r)
    parts = ["<h2>Steps</h2>"]
    for number, step in enumerate(r["steps"], start=1):
        settings = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in step["settings"].items())
        name = f" {step['name']}" if step["name"] else ""
        ended = [e["name"] for e in step["events"] if e["code"] in END_EVENTS]
        parts.append(f'<section class="step" id="step-{number}"><h3>Step {number}: '
                     f'{_e(step["type"].replace("_", " ") + name)} <small>{_e(settings)}'
                     f'{" · ended by " + _e(ended[0]) if ended else ""}</small></h3>')
        rows = [(key.replace("_", " "), _fmt(key, value)) for key, value in step["measurements"].items()]
        parts.append(_table(("measurement", "value"), rows, numeric=(1,)) if rows else
                     '<p class="faint">no measurements</p>')
        parts.append(_checks_table(checks_of.get(number, [])))
        parts.append(_list(step["behaviours"] + [_settling(step["load_settling"])], "behaviours"))
        parts.append("</section>")
    whole_run = checks_of.get(None)
    if whole_run:
        parts += ["<h3>Limits on the whole run</h3>", _checks_table(whole_run)]
    return "\n".join(parts)


def _checks_by_step(r):
    """Each limit under the step that measured its quantity (the last one, as the record takes it); None: the run."""
    measured_in = {key: number for number, step in enumerate(r["steps"], start=1) for key in step["measurements"]}
    grouped = {}
    for check in r["verdict"]["checks"]:
        grouped.setdefault(measured_in.get(check["quantity"]), []).append(check)
    return grouped


def _checks_table(checks):
    if not checks:
        return ""
    rows = []
    for c in checks:
        key = c["quantity"]
        limit = (f"must be {_fmt(key, c['threshold'])}" if key.endswith(YES_NO) else
                 f"{'at least' if c['bound'] == 'min' else 'at most'} {_fmt(key, c['threshold'])}")
        result = ('<span class="ok">met</span>' if c["ok"] else
                  '<span class="faint">not measured</span>' if c["value"] is None else
                  '<span class="not-ok">not met</span>')
        rows.append((c["grade"], f'{_e(key)}<span class="source">{_e(c["source"])}</span>', _e(limit),
                     _e(_fmt(key, c["value"])), result))
    return _table(("grade", "limit on", "limit", "measured", "result"), rows, numeric=(2, 3, 4), escape=False)


def _settling(settling):
    if settling is None:
        return ""
    if isinstance(settling, str):
        return settling
    return (f"the load held its setpoint within 1 % at most {max(s['seconds'] for s in settling):g} s after "
            f"each of its {len(settling)} setpoint changes")


# -- plots of every sample ---------------------------------------------------------------------------

def _plots(r, traces):
    if not traces.spans:
        return "<h2>Plots</h2>\n<p>No samples were received.</p>"
    about = ("The steps run back to back on the time axis, a dotted line where each begins, numbered above where "
             "there is room (the pause between steps, a second or so, is left out): " +
             ", ".join(f"{step.number} {step.type.replace('_', ' ')}" for step, _, _ in traces.spans) +
             f". Each trace shows the lowest and the highest reading of every 1/{plots.BUCKETS} of the run "
             "or less, so no spike or dropout is smoothed away.")
    gaps = [(start + a, start + b) for step, start, _ in traces.spans
            for a, b in r["steps"][step.number - 1]["integrity"]["gaps"]]
    if gaps:
        about += f" {len(gaps)} gap{'s' if len(gaps) > 1 else ''} in the samples, shaded: the line across is not " \
                 "a measurement."
    figures = [f"<figure>{svg}</figure>" for svg in plots.over_time(traces, gaps)]
    if traces.curves:
        svg = plots.against_capacity(traces, r["config"]["end_mv"] / 1000)
        figures.append(f"<figure>{svg}<figcaption>The discharge curve: charge counted from the start of the "
                       f"discharge step.</figcaption></figure>")
    return "<h2>Plots</h2>\n" + f"<p>{_e(about)}</p>\n" + "\n".join(figures)


# -- identity and integrity ------------------------------------------------------------------------

def _identity(r):
    cal = r["calibration"]
    calibration = ([("calibrated", cal["date"])] + _fields({k: cal[k] for k in
                                                             ("v_gain", "v_offset_v", "i_gain", "i_offset_a")})
                   if cal["calibrated"] else [("calibrated", cal["note"])])
    run = [("firmware version", r["firmware_version"] or "unknown"), ("run", r["run_id"]),
           ("started", r["started_at"]), ("status", r["status"]), ("end of discharge", r["cutoff_reason"])]
    chip = r.get("chip_accumulators")
    if chip:  # a chip that counted nothing (a unit off from the start) has no difference to show
        difference = chip["host_minus_chip_energy"]
        run.append(("sensor's own energy count", f"{chip['energy_wh']:.3f} Wh" + (
            "" if difference is None else f" (host integral {difference:+.3%} from it)")))
    return "\n".join(("<h2>Rig, calibration and firmware</h2>",
                      "<h3>Run</h3>", _table((), run), "<h3>Calibration</h3>", _table((), calibration),
                      "<h3>Device as it reported itself</h3>", _table((), _fields(r["device"] or {})),
                      "<h3>Rig file</h3>", _table((), _fields(r["rig"]))))


def _fields(tree, within=""):
    """A nested dict (the rig file, the device's identity) as (name, value) rows, sections named before keys."""
    rows = []
    for key, value in tree.items():
        name = f"{within}{key.replace('_', ' ')}"
        if isinstance(value, dict):
            rows += _fields(value, f"{name}: ")
        else:
            rows.append((name, f"{value:.6g}" if isinstance(value, float) else value))
    return rows


def _integrity(r):
    """What arrived and what did not, step by step: a gap is never bridged in the totals."""
    columns = ("samples_received", "samples_lost", "frames", "frames_corrupt", "frames_lost", "frames_duplicate")
    rows, gaps = [], []
    for number, step in enumerate(r["steps"], start=1):
        integrity = step["integrity"]
        rows.append((f"{number} {step['type'].replace('_', ' ')}", *(integrity[c] for c in columns),
                     f"{len(integrity['gaps'])} ({integrity['gap_s']:.1f} s)"))
        gaps += [f"step {number}: {a:.1f} s to {b:.1f} s" for a, b in integrity["gaps"]]
    totals = ("all steps", *(sum(row[k] for row in rows) for k in range(1, len(columns) + 1)), "")
    whole = r["integrity"]
    note = ("No gaps between samples in any step." if not gaps else  # the record sums every step's gaps
            f"The gaps may have held {whole['gap_energy_estimate_wh']:.3f} Wh "
            f"({whole['gap_charge_estimate_mah']:.1f} mAh), not counted in the totals.")
    shown = 20
    return "\n".join(("<h2>Data integrity</h2>",
                      _table(("step", *(c.replace("_", " ") for c in columns), "gaps"), rows + [totals],
                             numeric=range(1, len(columns) + 2)),
                      f"<p>{_e(note)}</p>",
                      _list(gaps[:shown] + ([f"and {len(gaps) - shown} more"] if len(gaps) > shown else []), "")))


# -- HTML pieces --------------------------------------------------------------------------------------

def _e(text):
    return html.escape(str(text))


def _table(head, rows, numeric=(), escape=True):
    cell = _e if escape else str
    header = f"<tr>{''.join(f'<th>{_e(h)}</th>' for h in head)}</tr>\n" if any(head) else ""
    body = "".join("<tr>" + "".join(f'<td{" class=num" if k in numeric else ""}>{cell(v)}</td>'
                                    for k, v in enumerate(row)) + "</tr>\n" for row in rows)
    return f"<table>{header}{body}</table>"


def _list(items, css_class):
    items = [item for item in items if item]
    return f'<ul class="{css_class}">' + "".join(f"<li>{_e(item)}</li>" for item in items) + "</ul>" if items else ""


def _fmt(key, value):
    """A measurement (or a limit on it) with its unit, named by the record's key."""
    if value is None:
        return "not measured"
    if key.endswith(YES_NO):
        return "yes" if value else "no"
    for ending, unit, scale, decimals in UNITS:
        if key.endswith(ending):
            return f"{value * scale:,.{decimals}f}{unit}"
    return f"{value:,.6g}"


# -- PDF and screenshots through headless Chromium ---------------------------------------------------

def headless_chromium(page, *args):
    """Run headless Chromium on a local page with a throwaway profile; its CompletedProcess (text output).

    The flags keep it from reaching out (no sync, no component updates, no
    background networking): the page is local and so is everything in it."""
    exe = find_browser()
    with tempfile.TemporaryDirectory(prefix="pbgrade-chromium-") as profile:
        try:
            return subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args,
                                   Path(page).resolve().as_uri()], capture_output=True, text=True,
                                  timeout=CHROMIUM_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise ReportError(f"chromium did not finish within {CHROMIUM_TIMEOUT_S} s") from None


def find_browser():
    """The browser that prints: the settings' `browser`, else the first of BROWSERS on PATH, else of
    BROWSER_PATHS that exists; one line naming what was searched when none is there."""
    chosen = settings.load().get("browser")
    if chosen:
        exe = shutil.which(str(Path(chosen).expanduser()))
        if exe is None:
            raise ReportError(f"browser = {chosen!r} in {settings.settings_file()} is not an executable: give the "
                              f"path of a Chromium-family browser (chromium, Chrome, Edge, Brave)")
        return exe
    found = [shutil.which(name) for name in BROWSERS] + [
        str(p) for p in map(Path.expanduser, map(Path, BROWSER_PATHS)) if p.is_file()]
    exe = next(filter(None, found), None)
    if exe is None:
        raise ReportError(f"no Chromium-family browser found (searched PATH for {', '.join(BROWSERS)}; and "
                          f"{'; '.join(BROWSER_PATHS)}): install one (Debian: apt-get install chromium; `make "
                          f"setup` does) or set browser = \"PATH\" in {settings.settings_file()}")
    return exe


def print_pdf(page, pdf):
    pdf = Path(pdf).resolve()
    pdf.unlink(missing_ok=True)
    proc = headless_chromium(page, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    if not pdf.is_file() or pdf.stat().st_size == 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ReportError(f"chromium made no PDF (exit {proc.returncode}: {last})")
