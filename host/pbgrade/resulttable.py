"""A run's result as the terminal shows it after a test or a re-grade: measured against the label, what
the unit did, and the verdict line, in the language in use."""
from rich.cells import cell_len

from . import steps, wording
from .i18n import N_, _

NAME_COLUMNS = 22  # terminal columns: a Chinese character takes two


def result_table(r):
    label = r["label"]
    cell_wh = label["cell_capacity_mah"] * label["cell_voltage_v"] / 1000
    rows = [
        (N_("capacity at output"), _q(r["capacity_mah"], "{:.0f} mAh"), f"{label['rated_capacity_mah']:.0f} mAh"),
        (N_("capacity ratio"), _q(r["capacity_ratio"], "{:.1%}"), ""),
        (N_("energy"), _q(r["energy_wh"], "{:.2f} Wh"), f"{cell_wh:.2f} Wh"),
        (N_("efficiency"), _q(r["efficiency"], "{:.1%}"), ""),
        (N_("voltage under load"), _q(r["min_voltage_v"], "{:.3f} V"), f"{label['rated_output_v']:.2f} V"),
        (N_("voltage without load"), _q(r.get("no_load_voltage_v"), "{:.3f} V"), ""),
        (N_("load regulation"), _q(r.get("load_regulation"), "{:.1%}"), ""),
        (N_("ripple and noise"), _q(r.get("ripple_mv_pp"), "{:.1f} mV p-p"), _("slow part only: see the report")),
        (N_("over-current trip"), _q(r.get("ocp_trip_a"), "{:.2f} A"), f"{label['rated_output_a']:.2f} A"),
        (N_("end of discharge"), wording.shown(wording.END_EVENTS, r["cutoff_reason"]), ""),
        (N_("samples"), f"{r['samples_received']}", _("{lost} lost, {corrupt} corrupt frames").format(
            lost=r['integrity']['samples_lost'], corrupt=r['integrity']['decoder']['frames_corrupt'])),
        (N_("sensor"), r["device"]["sensor"] if r["device"] else "-",
         _("calibrated {date}").format(date=r['calibration']['date'][:10]) if r["calibration"]["calibrated"]
         else _("never calibrated")),
    ]
    chip = r.get("chip_accumulators")
    if chip:  # a chip that counted nothing (a unit off from the start) has no difference to show
        difference = chip["host_minus_chip_energy"]
        rows.append((N_("chip accumulators"), f"{chip['energy_wh']:.2f} Wh", "" if difference is None else
                     _("host integral {difference} from the chip's count").format(difference=f"{difference:+.3%}")))
    lines = [_pad("", NAME_COLUMNS) + _pad(_("measured"), 14, right=True) + "  " + _("label")]
    lines += [_pad(_(name), NAME_COLUMNS) + _pad(measured, 14, right=True) + f"  {rated}"
              for name, measured, rated in rows]
    for step in r["steps"]:
        lines += [f"  {steps.title(step['type'])}: {wording.retold(b)}" for b in step["behaviours"]]
    lines += ["", _("verdict: {grade} - method {method}, profile {profile}, run {run} [{status}]").format(
        grade=wording.grade(r), method=r["method"], profile=r["profile"], run=r["run_id"],
        status=wording.shown(wording.STATUSES, r["status"]))]
    lines += [f"  - {reason}" for reason in wording.reasons(r)]
    if r["capacity_mah"] is None:
        lines.append("  " + _("capacity and efficiency were not measured: only the full method measures them"))
    return "\n".join(lines)


def _q(value, fmt):
    return _("not measured") if value is None else fmt.format(value)


def _pad(text, columns, right=False):
    """text in `columns` terminal columns (a Chinese character fills two)."""
    space = " " * max(0, columns - cell_len(text))
    return space + text if right else text + space
