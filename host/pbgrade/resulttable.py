"""A run's result as the terminal shows it after a test or a re-grade: measured against the label, what
the unit did, and the verdict line."""
from . import wording
from .i18n import _


def result_table(r):
    label = r["label"]
    cell_wh = label["cell_capacity_mah"] * label["cell_voltage_v"] / 1000
    rows = [
        ("capacity at output", _q(r["capacity_mah"], "{:.0f} mAh"), f"{label['rated_capacity_mah']:.0f} mAh"),
        ("capacity ratio", _q(r["capacity_ratio"], "{:.1%}"), ""),
        ("energy", _q(r["energy_wh"], "{:.2f} Wh"), f"{cell_wh:.2f} Wh"),
        ("efficiency", _q(r["efficiency"], "{:.1%}"), ""),
        ("voltage under load", _q(r["min_voltage_v"], "{:.3f} V"), f"{label['rated_output_v']:.2f} V"),
        ("voltage without load", _q(r.get("no_load_voltage_v"), "{:.3f} V"), ""),
        ("load regulation", _q(r.get("load_regulation"), "{:.1%}"), ""),
        ("ripple and noise", _q(r.get("ripple_mv_pp"), "{:.1f} mV p-p"), "slow part only: see below"),
        ("over-current trip", _q(r.get("ocp_trip_a"), "{:.2f} A"), f"{label['rated_output_a']:.2f} A"),
        ("end of discharge", r["cutoff_reason"], ""),
        ("samples", f"{r['samples_received']}", f"{r['integrity']['samples_lost']} lost, "
                                                f"{r['integrity']['decoder']['frames_corrupt']} corrupt frames"),
        ("sensor", r["device"]["sensor"] if r["device"] else "-",
         f"calibrated {r['calibration']['date'][:10]}" if r["calibration"]["calibrated"] else "never calibrated"),
    ]
    chip = r.get("chip_accumulators")
    if chip:  # a chip that counted nothing (a unit off from the start) has no difference to show
        difference = chip["host_minus_chip_energy"]
        rows.append(("chip accumulators", f"{chip['energy_wh']:.2f} Wh",
                     "" if difference is None else f"host integral {difference:+.3%} from the chip's count"))
    lines = [f"{'':<22}{'measured':>14}  {'label':<14}"] + [f"{a:<22}{b:>14}  {c}" for a, b, c in rows]
    for step in r["steps"]:
        lines += [f"  {step['type']}: {b}" for b in step["behaviours"]]
    lines += ["", _("verdict: {grade} - method {method}, profile {profile}, run {run} [{status}]").format(
        grade=wording.grade(r), method=r["method"], profile=r["profile"], run=r["run_id"],
        status=wording.shown(wording.STATUSES, r["status"]))]
    lines += [f"  - {reason}" for reason in wording.reasons(r)]
    if r["capacity_mah"] is None:
        lines.append("  " + _("capacity and efficiency were not measured: only the full method measures them"))
    return "\n".join(lines)


def _q(value, fmt):
    return "not measured" if value is None else fmt.format(value)
