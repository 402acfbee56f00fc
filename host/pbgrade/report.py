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
import shutil
import subprocess
import tempfile
from datetime import date, datetime
from pathlib import Path
from string import Template

from babel.dates import format_date, format_datetime

from . import i18n, paths, plots, settings, steps, wording
from .i18n import N_, SOURCE_LANGUAGE, _
from .wire import END_EVENTS
from .journal import read_record
from .profile import NEEDS_FULL_TEST
from .record import COMPLETE, verdict_kind
from .replay import RUN_HELP, find_run, regrade

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
         ("_mah", " mAh", 1, 0), ("_wh", " Wh", 1, 3), ("_v", " V", 1, 3), ("_a", " A", 1, 3), ("_s", " s", 1, 1),
         ("_ms", " ms", 1, 3))
YES_NO = ("collapsed", "ocp_below_rated", "ocp_recovered", "stopped_by_itself", "short_protected",
          "short_recovered", "short_peak_clipped")  # measurements that are 1 (yes) or 0 (no)
MISSING = "—"  # a field the record does not have (a record from before it was kept), or left empty
# the rig file's fields a report shows, by [section] and key: (name, unit); the simulator's own (its DUT and
# host-away files: paths of a temporary folder) say nothing about the measurement and are left out
RIG_FIELDS = {("rig", "name"): (N_("rig"), ""), ("rig", "board"): (N_("board"), ""),
              ("sensor", "chip"): (N_("sensor"), ""), ("sensor", "shunt_ohms"): (N_("shunt resistance"), " Ω"),
              ("sensor", "max_current_a"): (N_("sensor's current range"), " A"),
              ("sensor", "averages"): (N_("readings averaged"), ""),
              ("sensor", "conversion_us"): (N_("conversion time"), " µs"),
              ("limits", "max_voltage_v"): (N_("rig's voltage limit"), " V"),
              ("limits", "max_current_a"): (N_("rig's current limit"), " A"),
              ("limits", "max_power_w"): (N_("rig's power limit"), " W"),
              ("limits", "max_dut_temp_c"): (N_("unit's temperature limit"), " °C"),
              ("limits", "max_load_temp_c"): (N_("load's temperature limit"), " °C"),
              ("load", "kind"): (N_("electronic load"), ""), ("load", "max_current_a"): (N_("load's current range"), " A"),
              ("sim", "seed"): (N_("simulated rig: random seed"), "")}
LOAD_KINDS = {"cc": N_("constant-current sink (PWM-driven MOSFET)"), "dac": N_("constant-current sink (DAC-driven)"),
              "relays": N_("switched resistors"), "scpi": N_("programmable electronic load (SCPI)")}  # rig.LOAD_KINDS
INTEGRITY_COLUMNS = {"samples_received": N_("samples received"), "samples_lost": N_("samples lost"),
                     "frames": N_("frames"), "frames_corrupt": N_("frames corrupt"), "frames_lost": N_("frames lost"),
                     "frames_duplicate": N_("frames repeated")}


class ReportError(RuntimeError):
    """A report that cannot be made; the message says what to do."""


def add_commands(subparsers):
    p = subparsers.add_parser("report", help="write a run's report: one self-contained HTML page (and PDF)",
                              description="Write a run's report: the verdict in plain words, label against "
                                          "measured, every step with its limits, plots of every sample, the "
                                          "rig, its calibration and the data's integrity, in one HTML file "
                                          "that loads nothing from outside. Samples come from the run's "
                                          "journal, the source of truth.")
    p.add_argument("run", help=RUN_HELP)
    p.add_argument("--out", type=Path, help="the HTML file (default: RUN_ID.html in the current directory)")
    p.add_argument("--pdf", action="store_true",
                   help="also print it to PDF beside the HTML (needs a Chromium-family browser: chromium, Chrome, "
                        "Edge, Brave; or the settings' browser)")
    p.set_defaults(func=cmd_report)


def cmd_report(args):
    run_dir, _ = find_run(args.run)
    record, traces = _record(run_dir)
    out = args.out or Path(f"{record['run_id']}.html")
    out.write_text(render(record, traces), encoding="utf-8")
    print(out)
    if args.pdf:
        pdf = out.with_suffix(".pdf")
        print_pdf(out, pdf)
        print(pdf)
    return 0


def _record(run_dir):
    """The run's saved record, and its samples for the plots (plots.RunTraces), from one replay of its
    journal; for a run that never saved a record (killed, not resumed), that replay rebuilds it."""
    saved = read_record(run_dir)
    if saved is not None:
        return saved, plots.collect(run_dir)
    traces = plots.RunTraces()
    return regrade(run_dir, on_samples=traces.add), traces


def render(record, traces):
    """The report page of a run as one HTML string, in the language in use; traces: its samples for the plots
    (plots.RunTraces)."""
    label = record["label"]
    unit = " ".join(filter(None, (label.get("manufacturer"), label.get("model")))) or _("Power bank")
    body = "\n".join((
        f"<h1>{_e(unit)}</h1>",
        '<p class="faint">' + _e(_("serial {serial} · run {run} · {started} · method {method} · profile {profile}").format(
            serial=label.get("serial") or MISSING, run=record["run_id"], started=_started(record),
            method=record["method"], profile=record["profile"])) + "</p>",
        _verdict(record), _traceability(record), _label_table(record), _steps(record), _plots(record, traces),
        _identity(record), _integrity(record), _signatures()))
    return Template(paths.REPORT_TEMPLATE.read_text(encoding="utf-8")).substitute(
        lang=i18n.language(), title=_e(f"{unit}: {wording.grade(record)}"), body=body)


# -- the verdict, in words a consumer understands ------------------------------------------------------

def _verdict(r):
    words, detail = _headline(r)
    unfinished = r["status"] != COMPLETE
    tone = "unsure" if unfinished or r["grade"] == NEEDS_FULL_TEST else "pass" if r["passed"] else "fail"
    lines = [f'<p class="headline">{_e(words)}</p>'] + [f"<p>{_e(d)}</p>" for d in detail]
    if unfinished:
        lines.append("<p>" + _e(_("The test did not finish ({status}): the figures cover only what was measured.")
                                .format(status=wording.shown(wording.STATUSES, r["status"]))) + "</p>")
    lines.append('<p class="grade">' + _("Verdict: {grade} under profile {profile}, because:").format(
        grade=f"<strong>{_e(wording.grade(r))}</strong>", profile=_e(r["profile"])) + "</p>")
    lines.append(_list(wording.reasons(r), "reasons"))
    return f'<div class="verdict {tone}" id="verdict">\n' + "\n".join(lines) + "\n</div>"


def _headline(r):
    """The one sentence a buyer wants, and what backs it."""
    label = r["label"]
    if r["capacity_ratio"] is not None:
        detail = [_("It delivered {delivered} mAh of the {rated} mAh printed on it, at {volts} V and {amps} A.").format(
            delivered=f"{r['capacity_mah']:,.0f}", rated=f"{label['rated_capacity_mah']:,.0f}",
            volts=f"{label['rated_output_v']:g}", amps=f"{label['rated_output_a']:g}")]
        if r.get("energy_before_discharge_wh"):  # counted from full: the steps before the discharge are credited
            detail.append(_("Counted from the start of the test: {charge} mAh and {energy} Wh of it came out in the "
                            "steps before the discharge, at other currents.").format(
                charge=f"{r['charge_before_discharge_mah']:,.1f}", energy=f"{r['energy_before_discharge_wh']:.2f}"))
        if r["efficiency"] is not None:
            detail.append(_("Of the {rated} Wh its cells are rated for, it delivered {delivered} Wh: {percent} %.").format(
                rated=f"{label['rated_energy_wh']:.1f}", delivered=f"{r['energy_wh']:.1f}",
                percent=f"{r['efficiency'] * 100:.0f}"))
        return _("This power bank delivers {percent} % of the capacity on its label").format(
            percent=f"{r['capacity_ratio'] * 100:.0f}"), detail
    capacity = _("Only a full test measures its capacity.")
    if verdict_kind(r) == "screen":
        if r["grade"] == NEEDS_FULL_TEST:
            return _("This quick check could not decide: the power bank needs a full test"), [capacity]
        if r["passed"]:
            return _("In a quick check this power bank behaved as its label says"), [
                capacity + " " + _("A unit with fewer cells than its label claims can pass this check.")]
        return _("This power bank does not behave as its label says"), [capacity]
    if r["passed"]:
        return _("This power bank meets every limit of profile {profile}").format(profile=r["profile"]), [capacity]
    return _("This power bank fails profile {profile}").format(profile=r["profile"]), [capacity]


def _started(r):
    """When the run started, in the station's local time with its offset (record's started_local), else its UTC
    start in this computer's zone; written the language's way."""
    local = r.get("started_local")
    started = (datetime.fromisoformat(local) if local else
               datetime.fromisoformat(r["started_at"].replace("Z", "+00:00")).astimezone())
    return format_datetime(started, "full", tzinfo=started.tzinfo, locale=i18n.locale())


# -- who tested what, where, when and with what: the part an inspector signs ------------------------------

def _traceability(r):
    label, cal = r["label"], r["calibration"]
    ambient = r.get("ambient")
    ambient_shown = MISSING if not ambient else _("{temperature} °C ({source})").format(
        temperature=f"{ambient['temperature_c']:.1f}",
        source=_("the rig's sensor") if ambient["source"] == "rig" else _("typed in"))
    rows = [(_("operator"), r.get("operator") or MISSING), (_("note"), r.get("note") or MISSING),
            (_("serial number"), label.get("serial") or MISSING), (_("station"), r.get("station") or MISSING),
            (_("started"), _started(r)), (_("ambient temperature"), ambient_shown),
            (_("calibration"), _calibrated(cal)),
            (_("reference instrument"), cal.get("reference_instrument") or MISSING),
            (_("calibration due"), _date(cal.get("due"))),
            (_("pbgrade version"), r.get("host_version") or MISSING),
            (_("firmware version"), r.get("firmware_version") or MISSING)]
    return _heading(2, _("Test record")) + "\n" + _table((), rows)


def _calibrated(cal):
    return _("calibrated {date}").format(date=_date(cal["date"][:10])) if cal["calibrated"] else _("never calibrated")


def _date(iso):
    return format_date(date.fromisoformat(iso[:10]), "long", locale=i18n.locale()) if iso else MISSING


def _signatures():
    """Blank lines to sign on the printed page."""
    fields = "".join(f'<div class="sign"><span>{_e(name)}</span><span class="line"></span></div>'
                     for name in (_("tested by"), _("checked by"), _("date")))
    return _heading(2, _("Signatures")) + f'\n<div class="signatures">{fields}</div>'


# -- label against measured, and the steps -------------------------------------------------------------

def _label_table(r):
    label = r["label"]
    ocp_ran = any(step["type"] == "over_current" for step in r["steps"])
    trip = r.get("ocp_trip_a")
    rows = [
        (_("output capacity"), f"{label['rated_capacity_mah']:,.0f} mAh", _fmt("capacity_mah", r["capacity_mah"]),
         _fmt("capacity_ratio", r["capacity_ratio"])),
        (_("output energy"), _("{energy} Wh (cells: {capacity} mAh at {volts} V)").format(
            energy=f"{label['rated_energy_wh']:.2f}", capacity=f"{label['cell_capacity_mah']:,.0f}",
            volts=f"{label['cell_voltage_v']:g}"), _fmt("energy_wh", r["energy_wh"]), _fmt("efficiency", r["efficiency"])),
        (_("output voltage under load"), f"{label['rated_output_v']:g} V", _fmt("min_voltage_v", r["min_voltage_v"]),
         _fmt("voltage_ratio_min", r["voltage_ratio_min"])),
        (_("no-load output voltage"), f"{label['rated_output_v']:g} V",
         _fmt("no_load_voltage_v", r.get("no_load_voltage_v")),
         _fmt("no_load_voltage_ratio", r.get("no_load_voltage_ratio"))),
        (_("output current"), f"{label['rated_output_a']:g} A",
         _("protection tripped at {current}").format(current=_fmt("ocp_trip_a", trip)) if trip is not None
         else _("no protection trip") if ocp_ran else _("not measured"), ""),
    ]
    if label.get("declared_efficiency") is not None:
        rows.append((_("conversion efficiency"), _fmt("efficiency", label["declared_efficiency"]),
                     _fmt("efficiency", r["efficiency"]), ""))
    return _heading(2, _("Label against measured")) + "\n" + _table(
        ("", _("on the label"), _("measured"), _("measured / label")), rows, numeric=(2, 3))


def _steps(r):
    """Each step with its measurements, the limits graded on them, and what the unit did."""
    checks_of = _checks_by_step(r)
    parts = [_heading(2, _("Steps"))]
    for number, step in enumerate(r["steps"], start=1):
        step_settings = ", ".join(wording.setting(k, v) for k, v in step["settings"].items())
        name = f" {step['name']}" if step["name"] else ""
        ended = [e["name"] for e in step["events"] if e["code"] in END_EVENTS]
        ended_by = " · " + _("ended by: {event}").format(event=wording.shown(wording.END_EVENTS, ended[0])) if ended else ""
        title = _("Step {number}: {type}").format(number=number, type=steps.title(step["type"]))
        parts.append(f'<section class="step" id="step-{number}"><h3>{_e(title + name)} '
                     f'<small>{_e(step_settings + ended_by)}</small></h3>')
        rows = [(wording.quantity_name(key), _fmt(key, value)) for key, value in step["measurements"].items()]
        parts.append(_table((_("measurement"), _("value")), rows, numeric=(1,)) if rows else
                     _paragraph(_("no measurements"), "faint"))
        parts.append(_checks_table(checks_of.get(number, [])))
        parts.append(_behaviours(step))
        parts.append("</section>")
    whole_run = checks_of.get(None)
    if whole_run:
        parts += [_heading(3, _("Limits on the whole run")), _checks_table(whole_run)]
    return "\n".join(parts)


def _behaviours(step):
    """What the unit did, re-told in the language in use, and how the load settled; a sentence no step's template
    says (a record from an older pbgrade) stays as the record words it, marked as English."""
    told = [(wording.retold(sentence), sentence) for sentence in step["behaviours"] if sentence]
    told.append((_settling(step["load_settling"]), None))
    in_english = i18n.language() != SOURCE_LANGUAGE
    items = [f'<li{" lang=en" if in_english and said == sentence else ""}>{_e(said)}</li>' for said, sentence in told
             if said]
    return '<ul class="behaviours">' + "".join(items) + "</ul>" if items else ""


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
        limit = (_("must be {value}") if key.endswith(YES_NO) else
                 _("at least {value}") if c["bound"] == "min" else _("at most {value}")).format(
            value=_fmt(key, c["threshold"]))
        result = (_span(_("met"), "ok") if c["ok"] else _span(_("not measured"), "faint") if c["value"] is None
                  else _span(_("not met"), "not-ok"))
        rows.append((_e(wording.shown(wording.GRADES, c["grade"])),
                     f'{_e(wording.quantity_name(key))}<span class="source" lang="en">{_e(c["source"])}</span>',
                     _e(limit), _e(_fmt(key, c["value"])), result))
    return _table((_("grade"), _("limit on"), _("limit"), _("measured"), _("result")), rows, numeric=(2, 3, 4),
                  escape=False)


def _settling(settling):
    if settling is None:
        return ""
    if isinstance(settling, str):
        return _(settling)
    return _("the load held its setpoint within 1 % at most {seconds} s after each of its {count} setpoint "
             "changes").format(seconds=f"{max(s['seconds'] for s in settling):g}", count=len(settling))


# -- plots of every sample ---------------------------------------------------------------------------

def _plots(r, traces):
    heading = _heading(2, _("Plots"))
    if not traces.spans:
        return heading + "\n" + _paragraph(_("No samples were received."))
    about = _("The steps run back to back on the time axis, a dotted line where each begins, numbered above where "
              "there is room (the pause between steps, a second or so, is left out): {steps}. Each trace shows the "
              "lowest and the highest reading of every 1/{buckets} of the run or less, so no spike or dropout is "
              "smoothed away.").format(
        steps=", ".join(f"{step.number} {steps.title(step.type)}" for step, *_span in traces.spans),
        buckets=plots.BUCKETS)
    gaps = [(start + a, start + b) for step, start, _end in traces.spans
            for a, b in r["steps"][step.number - 1]["integrity"]["gaps"]]
    if gaps:
        about += " " + _("Gaps in the samples: {n}, shaded; the line across a gap is not a measurement.").format(
            n=len(gaps))
    figures = [f"<figure>{svg}</figure>" for svg in plots.over_time(traces, gaps, plots.voltage_references(r))]
    if traces.curves:
        svg = plots.against_capacity(traces, r["config"]["end_mv"] / 1000, plots.voltage_references(r))
        caption = _("The discharge curve: charge counted from the start of the discharge step.")
        figures.append(f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>")
    return f"{heading}\n<p>{_e(about)}</p>\n" + "\n".join(figures)


# -- identity and integrity ------------------------------------------------------------------------

def _identity(r):
    cal = r["calibration"]
    calibration = ([(_("calibrated"), _date(cal["date"]))] + [
        (_(name), f"{cal[key]:.6g}{unit}") for key, name, unit in (
            ("v_gain", N_("voltage gain"), ""), ("v_offset_v", N_("voltage offset"), " V"),
            ("i_gain", N_("current gain"), ""), ("i_offset_a", N_("current offset"), " A"))]
                   if cal["calibrated"] else [(_("calibrated"), _("never calibrated: datasheet scaling only"))])
    run = [(_("run"), r["run_id"]), (_("status"), wording.shown(wording.STATUSES, r["status"])),
           (_("end of discharge"), wording.shown(wording.END_EVENTS, r["cutoff_reason"]))]
    chip = r.get("chip_accumulators")
    if chip:  # a chip that counted nothing (a unit off from the start) has no difference to show
        difference = chip["host_minus_chip_energy"]
        run.append((_("sensor's own energy count"), f"{chip['energy_wh']:.3f} Wh" + (
            "" if difference is None else " " + _("(host integral {difference} from it)").format(
                difference=f"{difference:+.3%}"))))
    return "\n".join((_heading(2, _("Rig, calibration and firmware")),
                      _heading(3, _("Run")), _table((), run),
                      _heading(3, _("Calibration")), _table((), calibration),
                      _heading(3, _("Device as it reported itself")), _table((), _device(r["device"])),
                      _heading(3, _("Rig file")), _table((), _rig(r["rig"]))))


def _device(device):
    if not device:
        return [(_("device"), _("did not identify itself"))]
    limits = device.get("limits") or {}
    rows = [(_("sensor"), device["sensor"]), (_("I²C address"), f"0x{device['address']:02X}"),
            (_("shunt resistance"), f"{device['shunt_ohms']:.6g} Ω"),
            (_("voltage resolution"), f"{device['bus_lsb_v'] * 1000:.4g} mV"),
            (_("current resolution"), f"{device['current_lsb_a'] * 1000:.4g} mA"),
            (_("sensor's reading period"), f"{device['sensor_period_us'] / 1000:g} ms"),
            (_("rig's voltage limit"), f"{limits.get('max_voltage_v', MISSING)} V"),
            (_("rig's current limit"), f"{limits.get('max_current_a', MISSING)} A"),
            (_("board"), device.get("board") or MISSING), (_("board's serial"), device.get("board_id") or MISSING),
            (_("rig"), device.get("rig") or MISSING),
            (_("rig settings' fingerprint"), device.get("settings_hash") or MISSING)]
    return rows


def _rig(rig):
    """The rig file's fields that bear on the measurement, named for people."""
    def value(section, key):
        written = rig[section][key]
        if (section, key) == ("load", "kind"):
            return wording.shown(LOAD_KINDS, written)
        return f"{written:g}" if isinstance(written, float) else written
    return [(_(name), f"{value(section, key)}{unit}")
            for (section, key), (name, unit) in RIG_FIELDS.items() if key in rig.get(section, {})]


def _integrity(r):
    """What arrived and what did not, step by step: a gap is never bridged in the totals."""
    rows, gaps = [], []
    for number, step in enumerate(r["steps"], start=1):
        integrity = step["integrity"]
        rows.append((f"{number} {steps.title(step['type'])}",
                     *(integrity[c] for c in INTEGRITY_COLUMNS), f"{len(integrity['gaps'])} ({integrity['gap_s']:.1f} s)"))
        gaps += [_("step {number}: {start} s to {end} s").format(number=number, start=f"{a:.1f}", end=f"{b:.1f}")
                 for a, b in integrity["gaps"]]
    totals = (_("all steps"), *(sum(row[k] for row in rows) for k in range(1, len(INTEGRITY_COLUMNS) + 1)), "")
    whole = r["integrity"]
    note = (_("No gaps between samples in any step.") if not gaps else  # the record sums every step's gaps
            _("The gaps may have held {energy} Wh ({charge} mAh), not counted in the totals.").format(
                energy=f"{whole['gap_energy_estimate_wh']:.3f}", charge=f"{whole['gap_charge_estimate_mah']:.1f}"))
    shown = 20
    more = [_("and {n} more").format(n=len(gaps) - shown)] if len(gaps) > shown else []
    return "\n".join((_heading(2, _("Data integrity")),
                      _table((_("step"), *map(_, INTEGRITY_COLUMNS.values()), _("gaps")), rows + [totals],
                             numeric=range(1, len(INTEGRITY_COLUMNS) + 2)),
                      f"<p>{_e(note)}</p>", _list(gaps[:shown] + more, "")))


# -- HTML pieces --------------------------------------------------------------------------------------

def _e(text):
    return html.escape(str(text))


def _heading(level, text):
    return f"<h{level}>{_e(text)}</h{level}>"


def _paragraph(text, css_class=None):
    return f'<p class="{css_class}">{_e(text)}</p>' if css_class else f"<p>{_e(text)}</p>"


def _span(text, css_class):
    return f'<span class="{css_class}">{_e(text)}</span>'


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
        return _("not measured")
    if key.endswith(YES_NO):
        return _("yes") if value else _("no")
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
