"""Result records and the SQLite store of runs."""
import json
import multiprocessing
import socket
import sqlite3
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import numpy as np
import pytest

from pbgrade import steps
from pbgrade.evaluate import SUMMED
from pbgrade.integrate import Integrator
from pbgrade.label import Label
from pbgrade.method import load_method
from pbgrade.profile import load_profile
from pbgrade.record import ABORTED, ABORTED_BY_OPERATOR, COMPLETE, build_record
from pbgrade.store import Store
from pbgrade.voltage import VoltageStats

PERIOD_US = 10_000
LABEL = Label(10000, 3.7, 6000, 5, 2.1, model="PB-10", serial="0042")
STARTED = datetime(2025, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=8)))
RIG = {"rig": {"name": "sim", "board": "sim"}, "sensor": {"chip": "INA226", "shunt_ohms": 0.01}}
METHOD = load_method("discharge")


@pytest.fixture(scope="module")
def evaluations():
    """A 3-hour 5 V 2.1 A discharge with one 1-second hole in it, as the method `discharge` sees it: the
    identify step's evaluation of a device that sent no identity, then the discharge's (stand-ins with
    what a record reads of an Evaluation)."""
    t = np.arange(3 * 360_000 + 1, dtype=np.int64) * PERIOD_US
    t = np.delete(t, np.arange(1000, 1099))
    v, i = np.full(t.size, 5.0), np.full(t.size, 2.1)
    integrator = Integrator(PERIOD_US)
    voltage = VoltageStats(PERIOD_US, min_current_a=0.1, cutoff_v=3.0, window_s=1.0)
    for chunk in np.array_split(np.arange(t.size), 100):
        integrator.add(t[chunk], v[chunk], i[chunk])
        voltage.add(v[chunk], i[chunk])
    device = SimpleNamespace(identity=None, close=lambda: None,
                             calibration_record=lambda: {"calibrated": False})
    discharge = SimpleNamespace(integrator=integrator, voltage=voltage, last=(t[-1] / 1e6, 5.0, 2.1),
                                end_event={"name": "undervoltage", "t_s": t[-1] / 1e6}, events=[],
                                samples_lost=integrator.samples_lost,
                                integrity=lambda: {**dict.fromkeys(SUMMED, 0), "samples_lost": 99,
                                                   "rx_errors_on_device": 3},
                                config={"period_us": PERIOD_US, "load_ma": 2100}, period_us=PERIOD_US,
                                chip_accumulators=lambda: None, close=lambda: None)
    return [device, discharge]


def make_record(evaluations, status=COMPLETE, station=None):
    plans = [steps.Plan({"period_us": PERIOD_US, "load_ma": 2100})]
    return build_record(evaluations, METHOD, plans, LABEL, load_profile("gbt35590"), RIG, "20250301T013000Z-0a1b2c",
                        STARTED, status, station)


@pytest.fixture(scope="module")
def record(evaluations):
    return make_record(evaluations)


REQUIRED = ("energy_wh", "capacity_mah", "efficiency", "capacity_ratio", "min_voltage_v", "mean_voltage_v",
            "duration_s", "cutoff_reason", "samples_received", "samples_lost", "grade", "passed", "profile",
            "label", "rig", "firmware_version", "run_id", "started_at", "station", "verdict", "gaps", "integrity")


def test_record_has_every_field_in_plain_json(record):
    assert set(REQUIRED) <= set(record)
    assert json.loads(json.dumps(record)) == record
    assert record["started_at"] == "2025-03-01T01:30:00Z"
    assert record["run_id"].startswith("20250301T013000Z-")
    assert (record["grade"], record["passed"], record["profile"]) == ("FAIL", False, "gbt35590")
    assert record["verdict"]["decided_by"] == ["samples_lost"]  # the hole: a grade on less than was delivered
    assert record["verdict"]["reasons"] == ["99 samples were lost; PASS allows at most 0"]
    assert len(record["verdict"]["checks"]) == 6
    assert record["label"]["rated_energy_wh"] == pytest.approx(37.0)


def test_record_says_what_the_gap_may_have_cost(record):
    assert record["gaps"] == [{"start_us": 999 * PERIOD_US, "end_us": 1099 * PERIOD_US}]
    integrity = record["integrity"]
    assert (integrity["samples_received"], integrity["samples_lost"], integrity["gap_count"]) == (1_079_902, 99, 1)
    assert integrity["gap_s"] == pytest.approx(1.0)
    assert integrity["gap_charge_estimate_mah"] == pytest.approx(2.1 / 3.6)
    assert integrity["covered_fraction"] == pytest.approx(1 - 1 / 10_800)
    assert integrity["decoder"] == {**dict.fromkeys(SUMMED, 0), "samples_lost": 99, "rx_errors_on_device": 3}
    assert record["capacity_mah"] + integrity["gap_charge_estimate_mah"] == pytest.approx(6300)


def test_a_discharge_with_no_step_before_it_credits_nothing(record):
    (part,) = record["delivered_by_step"]
    assert (part["step"], part["type"], part["charge_mah"]) == (1, "discharge", record["capacity_mah"])
    assert (record["charge_before_discharge_mah"], record["energy_before_discharge_wh"]) == (0, 0)


def test_station_is_this_host_and_the_rig_unless_given(evaluations, record):
    assert record["station"] == f"{socket.gethostname()}/sim"
    assert make_record(evaluations, station="line3/sim/ch2")["station"] == "line3/sim/ch2"


def test_a_run_stopped_before_its_end_is_never_passed(evaluations, record):
    aborted = make_record(evaluations, status=ABORTED_BY_OPERATOR)
    assert (aborted["grade"], aborted["passed"], aborted["status"]) == (ABORTED, False, ABORTED_BY_OPERATOR)
    assert aborted["verdict"]["decided_by"] == ["stopped_by_operator", *record["verdict"]["decided_by"]]
    assert aborted["verdict"]["reasons"][0].startswith("stopped by the operator after 180.0 min of test time, "
                                                       "in step 1 of 1 (discharge)")
    assert aborted["verdict"]["reasons"][0].endswith("it grades FAIL")
    assert list(aborted) == list(record)  # the same fields in the same order


def test_store_round_trips(tmp_path, record):
    store = Store(tmp_path / "data" / "runs.sqlite")
    store.add(record)
    assert store.get(record["run_id"]) == json.loads(json.dumps(record))
    assert store.get("no-such-run") is None
    [row] = Store(tmp_path / "data" / "runs.sqlite").runs()  # a second opener sees it
    assert row == {"run_id": record["run_id"], "started_at": "2025-03-01T01:30:00Z", "model": "PB-10",
                   "serial": "0042", "grade": "FAIL", "passed": False, "capacity_mah": record["capacity_mah"],
                   "energy_wh": record["energy_wh"], "efficiency": record["efficiency"], "profile": "gbt35590",
                   "station": record["station"], "method": "discharge", "status": "complete",
                   "capacity_ratio": record["capacity_ratio"], "voltage_ratio_min": record["voltage_ratio_min"],
                   "kind": "pass-fail", "channel": 1, "operator": None, "label": record["label"]}
    with sqlite3.connect(tmp_path / "data" / "runs.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_store_refuses_a_run_twice(tmp_path, record):
    store = Store(tmp_path / "runs.sqlite")
    store.add(record)
    with pytest.raises(ValueError, match="already in"):
        store.add(record)


def _add_runs(path, worker, record):
    store = Store(path)
    for n in range(10):
        store.add({**record, "run_id": f"w{worker}-{n}"})


def test_store_takes_writers_from_several_processes(tmp_path, record):
    path = tmp_path / "runs.sqlite"
    small = {**record, "gaps": [], "verdict": {**record["verdict"], "checks": []}}
    workers = [multiprocessing.Process(target=_add_runs, args=(path, w, small))
               for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0] * 4
    assert len(Store(path).runs()) == 40


def test_samples_lost_in_any_step_are_lost_to_the_run(tmp_path, evaluations):
    """A record counted the graded discharge's losses alone: 580 samples lost in a full method's rest step
    showed as 0 at the top and in the verdict."""
    method = tmp_path / "rest-then-discharge.toml"
    method.write_text('[method]\nname = "rest-then-discharge"\ntitle = "a rest, then the discharge"\n'
                      'verdict = "grade"\nprofile = "gbt35590"\nprovenance = "a test\'s"\n\n'
                      '[[step]]\ntype = "rest"\nseconds = 60\n\n[[step]]\ntype = "discharge"\ncurrent_fraction = 1.0\n')
    t = np.delete(np.arange(6001, dtype=np.int64) * PERIOD_US, np.arange(100, 105))  # 5 samples lost
    integrator = Integrator(PERIOD_US)
    integrator.add(t, np.full(t.size, 5.0), np.zeros(t.size))
    rest = SimpleNamespace(integrator=integrator, samples=lambda: (t / 1e6, np.full(t.size, 5.0), np.zeros(t.size)),
                           samples_lost=integrator.samples_lost, events=[], close=lambda: None,
                           last=(t[-1] / 1e6, 5.0, 0.0),
                           integrity=lambda: {**dict.fromkeys(SUMMED, 0), "samples_lost": 5,
                                              "rx_errors_on_device": 2})
    device, discharge = evaluations
    plans = [steps.Plan({"period_us": PERIOD_US, "load_ma": 0}, seconds=60),
             steps.Plan({"period_us": PERIOD_US, "load_ma": 2100})]
    record = build_record([device, rest, discharge], load_method(method), plans, LABEL, load_profile("gbt35590"),
                          RIG, "20250301T013000Z-0a1b2c", STARTED, COMPLETE)
    assert record["samples_lost"] == record["integrity"]["samples_lost"] == 99 + 5
    assert record["integrity"]["decoder"]["samples_lost"] == 99 + 5
    assert record["integrity"]["decoder"]["rx_errors_on_device"] == 3  # the device's own count, as it last said
    assert record["integrity"]["gap_count"] == 2
    assert record["samples_received"] == discharge.integrator.samples + rest.integrator.samples
    assert record["verdict"]["reasons"] == ["104 samples were lost; PASS allows at most 0"]
