"""Who tested which unit, when in the station's own time, in what room and against which reference
instrument: what a record needs beside its measurements for an inspector to sign it.

What is given at the start of a run (the unit's serial, the operator, a note, a typed ambient
temperature) and the rig's calibration reference are kept in the run's journal (meta.json "trace"),
so a re-grade or a resumed run records the same years later; the rig's ambient reading comes from
the journal itself (the IDENTITY the device sent at HELLO, before the first load: protocol 3)."""
from datetime import date

from . import wire

AMBIENT_RANGE_C = (-20.0, 60.0)  # a room a power bank may be tested in; outside it, a typo (or °F)


class TraceError(ValueError):
    """A traceability input that cannot be right; the message says what to give."""


def typed_ambient(text):
    """--ambient-c as a float in °C, range-checked; None if not given."""
    return typed_number(text, "--ambient-c", AMBIENT_RANGE_C, "°C", "the room's temperature in °C", " (not °F)", 23.5)


def typed_number(text, flag, span, unit, what, not_what, example):
    """A number typed for a flag, within span; None if not given. TraceError: one line saying what to give."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise TraceError(f"{flag} {text!r} is not a number: give {what}, e.g. {flag} {example:g}") from None
    low, high = span
    if not low <= value <= high:
        raise TraceError(f"{flag} {value:g} is outside {low:g} to {high:g} {unit}: give {what}{not_what}, "
                         f"e.g. {flag} {example:g}")
    return value


def due_date(text):
    """A calibration due date as an ISO date string, checked; None if not given."""
    if not text:
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise TraceError(f"--due {text!r} is not a date: give the reference's calibration due date as "
                         f"YYYY-MM-DD, e.g. --due 2027-06-01") from None


def given(operator, note, ambient_c, serial=None, calibration_reference=None):
    """The trace a run keeps in its journal; serial: the unit's (--serial, else its label's, else None);
    calibration_reference: the rig's latest calibration in this station's history (calibrate.latest_reference)."""
    return {"serial": serial or None, "operator": operator or None, "note": note or None, "ambient_c": ambient_c,
            "calibration_reference": calibration_reference}


def local_time(started):
    """A UTC start as the station's clock showed it, with its offset: "2026-12-04T14:46:43+08:00"."""
    return started.astimezone().isoformat(timespec="seconds")


def label(label, trace):
    """The label as recorded: the serial the run was given replaces the label file's."""
    return {**label.as_dict(), **({"serial": trace["serial"]} if "serial" in trace else {})}


def ambient(trace, device):
    """{"temperature_c", "source", "sensor"}: typed if the operator gave it, else the unit's case NTC read
    before the first load; None if neither."""
    if trace.get("ambient_c") is not None:
        return {"temperature_c": trace["ambient_c"], "source": "typed", "sensor": None}
    reading = device.identity and device.identity.get("dut_centi_c")  # None from a device before protocol 3
    if reading is None or reading == wire.NO_TEMPERATURE:
        return None  # the heatsink's NTC is no ambient: it may still be warm from the unit before
    return {"temperature_c": reading / 100, "source": "rig",
            "sensor": "the unit's case NTC ([pins] ntc_dut), read before the first load"}


def calibration(device, trace, started_on):
    """The device's calibration with the reference instrument and due date the station's history has for
    it (matched by its date), and whether it was overdue on started_on (an ISO date)."""
    record = device.calibration_record()
    reference = trace.get("calibration_reference") or {}
    same = record["calibrated"] and reference.get("date") == record["date"]
    due = reference.get("due") if same else None
    return {**record, "reference_instrument": reference.get("reference_instrument") if same else None,
            "due": due, "overdue": None if due is None else due < started_on}


def notes(calibration_record):
    """Sentences an inspector must see next to the verdict, which they do not change."""
    if calibration_record["overdue"]:
        return [f"the rig's calibration was due on {calibration_record['due']}, before this run: its "
                f"measurements are not traceable to a reference in date; calibrate the rig (`pbgrade calibrate`)"]
    return []


def add_flags(parser):
    """--operator, --note and --ambient-c, for run and station (the settings' operator fills --operator)."""
    parser.add_argument("--operator", help="who tests, for the record (default: the settings' operator)")
    parser.add_argument("--note", help="a note for the record, e.g. the batch or why this unit is tested")
    parser.add_argument("--ambient-c", help="the room's temperature in °C, if the rig has no NTC on the unit "
                                            "or you measured it otherwise (default: the rig's NTC, else none)")
