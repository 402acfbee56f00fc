"""The result of one run as a JSON-ready record, built whole from its steps' evaluations (live, or
re-read from the journal), and the grade and statuses a record names."""
import dataclasses
from datetime import timezone

from . import settings, steps, traceability, wire
from .evaluate import run_integrity
from .i18n import N_
from .profile import grade

RECORD_VERSION = 1

# a run's status: how it ended
COMPLETE = "complete"
UNFINISHED = "aborted"  # ended before its steps did: the rig broke off, or the host stopped (no status kept)
ABORTED_BY_OPERATOR = "aborted by operator"
STOPPED_BY_RIG = "stopped by the rig"

ABORTED = "ABORTED"  # the grade of a run stopped before its end: never passed

# the limit_* and sensor_fault EVENTs (protocol/protocol.json): the device switched its load off on its own,
# and refuses to switch it on again until the operator clears the fault
RIG_STOPS = {"limit_voltage": N_("the output voltage went over the rig's limit"),
             "limit_current": N_("the current went over the rig's limit"),
             "limit_reverse": N_("current flowed back into the unit (check the wiring's polarity)"),
             "limit_power": N_("the load's power went over the rig's limit"),
             "limit_temperature": N_("a temperature went over the rig's limit"),
             "sensor_fault": N_("the sensor stopped answering (check the I2C wiring)")}


def build_record(evaluations, method, plans, label, profile, rig, run_id, started, status, station=None,
                 host_version=None, overrides=None, trace=None):
    """Everything a report or a later re-grade needs, in plain JSON types, from the identify step's
    evaluation and then each step's that ran (the last one as far as it got).

    `station` says where the unit was tested, so a batch can be split by test position: by default
    this host and the rig (default_station); a host driving several channels passes its own ("host/rig/ch2").
    host_version: the version of the host that ran the test (None: not known, a run from before records
    kept it); overrides: {"label": file, "profile": name or file}, what a re-grade was told to use instead
    of the run's own, as far as it was. `trace`: what the run was given at its start (the journal's "trace":
    traceability.given, with its started_local)."""
    for evaluation in evaluations:
        evaluation.close()
    device = evaluations[0]
    measurements, results, main, drawn = _measure(method, plans, evaluations, label)
    verdict = grade(profile, measurements, label)
    graded, passed, decided_by, reasons = verdict.grade, verdict.passed, verdict.decided_by, verdict.reasons
    if status in (ABORTED_BY_OPERATOR, STOPPED_BY_RIG):  # what it measured until then keeps its checks
        decided, reason = _why_never_passed(evaluations, method, status, verdict.grade)
        graded, passed, decided_by, reasons = ABORTED, False, [decided, *decided_by], [reason, *reasons]
    ident = device.identity
    end = main.end_event
    integrator = main.integrator
    trace = trace or {}
    started_at = started.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    calibration = traceability.calibration(device, trace, (trace.get("started_local") or started_at)[:10])
    integrity = _integrity(evaluations[1:], results, measurements["energy_wh"])
    return {
        "record_version": RECORD_VERSION,
        "run_id": run_id,
        "started_at": started_at,
        "started_local": trace.get("started_local"),
        "station": station or default_station(rig),
        "operator": trace.get("operator"),
        "note": trace.get("note"),
        "ambient": traceability.ambient(trace, device),
        **measurements,
        "cutoff_reason": end["name"] if end else "none",
        "samples_received": integrity["samples_received"],
        "grade": graded,
        "passed": passed,
        "profile": profile.name,
        "verdict": {
            "kind": profile.kind,  # what the grade is: a pass/fail, a tier grade or a screen's finding
            "decided_by": decided_by,
            "reasons": reasons,
            "checks": [dataclasses.asdict(check) for check in verdict.checks],
        },
        "label": traceability.label(label, trace),
        "rig": rig,
        "firmware_version": wire.firmware_version(ident) if ident else None,
        "host_version": host_version,
        "gaps": [{"start_us": start, "end_us": end} for start, end in integrator.gaps],
        "integrity": integrity,
        "status": status,
        "method": method.name,
        "method_verdict": method.verdict,
        "steps": results,
        **drawn,
        "config": main.config,
        "events": main.events,
        "device": _device(ident),
        "calibration": calibration,
        "notes": traceability.notes(calibration),
        "chip_accumulators": main.chip_accumulators(),
        **({"overrides": overrides} if overrides else {}),
    }


def default_station(rig):
    """Where a unit was tested, unless the caller says: this host (the settings' station name) and the rig."""
    return f"{settings.station_host()}/{rig['rig']['name']}"


def _measure(method, plans, evaluations, label):
    """(every quantity a record shows, each step's result, the main discharge's evaluation, what each step
    up to it delivered: _drawn). A quantity this method did not measure is None (a quick check: no capacity);
    a run aborted before its discharge grades what its last step measured."""
    measurements = dict.fromkeys(steps.FULL_DISCHARGE)
    measurements.update((name, None) for step in method.steps for name in steps.measured_by(step))
    results, main, parts = [], None, []
    for number, (step, plan, evaluation) in enumerate(zip(method.steps, plans, evaluations[1:]), 1):
        outcome = steps.measure(step, evaluation, plan, label)
        measurements.update(outcome.measurements)
        results.append({"type": step.type, "name": step.name, "settings": step.settings,
                        "measurements": outcome.measurements, "behaviours": outcome.behaviours,
                        "load_settling": _settling(evaluation, plan), "events": evaluation.events,
                        "integrity": evaluation.integrity()})
        if main is None and step.type == "recharge":
            parts = []  # full again: what grades the unit counts from here
        elif main is None:
            parts.append({"step": number, "type": step.type, "name": step.name,
                          "charge_mah": evaluation.integrator.charge_mah,
                          "energy_wh": evaluation.integrator.energy_wh})
        if step.type == "discharge" and not step.name:
            main = evaluation
    before = parts if main is None else parts[:-1]
    if main is None:
        main = evaluations[-1]
    elif measurements["capacity_mah"] is not None:
        _credit_from_start(measurements, before, label)
    measurements["samples_lost"] = sum(ev.samples_lost for ev in evaluations[1:])  # graded: every step's
    steps.recharge.with_charge_efficiency(method, measurements)  # each cycle's own, before the best one grades
    best = steps.recharge.best_of_cycles(method, measurements, label)
    for result in results:  # each step's own list shows the efficiency too
        result["measurements"].update((k, measurements[k]) for k in result["measurements"] if k.endswith(
            "charge_efficiency"))
    return measurements, results, main, {**_drawn(before, parts), **best}


def _credit_from_start(measurements, before, label):
    """Count the capacity and energy that grade the unit from the start of the test, as the standards
    measure them from full: the no-load, regulation and protection steps before the discharge drew from the
    unit, at other currents (methods/full.toml's provenance says why crediting them beats recharging)."""
    charge = measurements["capacity_mah"] + sum(part["charge_mah"] for part in before)
    energy = measurements["energy_wh"] + sum(part["energy_wh"] for part in before)
    measurements.update(steps.discharge.delivered(charge, energy, label))


def _drawn(before, parts):
    """The record's account of what the unit delivered step by step up to the end of its discharge: the
    totals before the discharge (credited to its capacity and energy) and each step's part."""
    return {"charge_before_discharge_mah": sum(part["charge_mah"] for part in before),
            "energy_before_discharge_wh": sum(part["energy_wh"] for part in before),
            "delivered_by_step": parts}


def _integrity(evaluations, results, energy):
    """What arrived and what did not, every step's figures summed."""
    integrators = [ev.integrator for ev in evaluations]
    span_s = sum(i.span_s for i in integrators)
    gap_energy = sum(i.gap_energy_estimate_wh for i in integrators)
    return {
        "samples_received": sum(i.samples for i in integrators),
        "samples_lost": sum(ev.samples_lost for ev in evaluations),
        "gap_count": sum(len(i.gaps) for i in integrators),
        "gap_s": sum(i.gap_s for i in integrators),
        "span_s": span_s,
        "covered_fraction": sum(i.duration_s for i in integrators) / span_s if span_s else None,
        "gap_energy_estimate_wh": gap_energy,
        "gap_charge_estimate_mah": sum(i.gap_charge_estimate_mah for i in integrators),
        "gap_energy_share": gap_energy / energy if energy else None,
        "decoder": run_integrity([result["integrity"] for result in results]),
    }


def _why_never_passed(evaluations, method, status, graded):
    """(what decided it, the reason) for a run stopped before its end: by whom and when."""
    ran = len(evaluations) - 1
    minutes = sum(ev.last[0] for ev in evaluations[1:] if ev.last) / 60
    where = f"in step {ran} of {len(method.steps)} ({method.steps[ran - 1].type})" if ran else "before the first step"
    if status == ABORTED_BY_OPERATOR:
        return "stopped_by_operator", (f"stopped by the operator after {minutes:.1f} min of test time, {where}: an "
                                       f"aborted run is never passed; on what it measured until then it grades "
                                       f"{graded}")
    return "stopped_by_rig", (f"the rig switched the load off {where}: {RIG_STOPS[evaluations[-1].end_event['name']]}; "
                              f"the steps after it were not run, and an unfinished run is never passed (on what it "
                              f"measured it grades {graded}): fix the cause, clear the rig (`pbgrade clear`), "
                              f"test again")


def _settling(evaluation, plan):
    """After each setpoint step of a step that draws current, how long the load took to hold
    within 1 % (EVENT 7), or that it never did."""
    if not plan.config.get("load_ma") or plan.skip:
        return None
    settled = [{"at_s": e["t_s"], "samples": e["value"], "seconds": e["value"] * evaluation.period_us / 1e6}
               for e in evaluation.events if e["name"] == "load_settled"]
    return settled or N_("the load never held within 1 % of its setpoint")


def _device(ident):
    if ident is None:
        return None
    return {"sensor": wire.SENSORS.get(ident.sensor, "none"), "address": ident.address,
            "shunt_ohms": ident.shunt_uohm / 1e6, "bus_lsb_v": ident.bus_lsb_v,
            "current_lsb_a": ident.current_lsb_a, "cal": ident.cal, "sensor_period_us": ident.sensor_period_us,
            "limits": {"max_voltage_v": ident.max_mv / 1000, "max_current_a": ident.max_ma / 1000},
            "board": ident.board, "board_id": ident.board_id,  # board_id: None from a device before protocol 5
            "rig": ident.rig,  # rig and settings_hash: None from a protocol 1 device
            "settings_hash": ident.settings_hash and ident.settings_hash.hex()}


def verdict_kind(record: dict) -> str:
    """The kind of the record's verdict (profile.KINDS): pass-fail, tiers or screen. A record made before
    the kind was recorded tells it by its method (a screen) or by how many grades its checks name."""
    verdict = record["verdict"]
    if "kind" in verdict:
        return verdict["kind"]
    if record.get("method_verdict") == "screen":
        return "screen"
    return "tiers" if len({check["grade"] for check in verdict["checks"]}) > 1 else "pass-fail"


def outcome(record: dict) -> str:
    """What follows a record's grade wherever it is shown (see grade_outcome)."""
    return grade_outcome(record["grade"], record["passed"], verdict_kind(record))


def grade_outcome(graded: str, passed: bool, kind: str) -> str:
    """" (PASS)" or " (FAIL)" after a grade such as B or ABORTED; nothing after one that says it itself
    (PASS, FAIL) or after a screen's (CONSISTENT, NEEDS A FULL TEST): a screen finds, it does not pass."""
    if kind == "screen" or graded in ("PASS", "FAIL"):
        return ""
    return f" ({'PASS' if passed else 'FAIL'})"
