"""Several stations and kits, one central PostgreSQL store (a real server: tests/postgresql_server.py).

A station writes its own SQLite file first (its history and its queue) and sends the central store what it
lacks, by run id: kits sync on demand, stations in the background; a database that is away loses nothing,
and nothing arrives twice.
"""
import copy
import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from conftest import ROOT, wait_for
from pbgrade import cli
from pbgrade.store import Store
from pbgrade.sync import Pushed, Uploader, push

STATIONS, CHANNELS, RUNS_PER_CHANNEL = 4, 3, 5


def pbgrade(data, config, *args, db=None, input=None):
    """The real command in a process of its own, as a kit or a station runs it."""
    env = {**os.environ, "PBGRADE_DATA": str(data), "PBGRADE_CONFIG": str(config)}
    env.pop("PBGRADE_DB", None)
    if db:
        env["PBGRADE_DB"] = db
    return subprocess.run([sys.executable, "-m", "pbgrade.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, env=env, input=input)


def kit(tmp_path, name):
    """A kit's data folder and its settings (its station name)."""
    data, config = tmp_path / name / "data", tmp_path / name / "config"
    config.mkdir(parents=True)
    (config / "settings.toml").write_text(f'station = "{name}"\n')
    return data, config


def unreachable_database(tmp_path):
    """A database no server answers: a socket folder with no server in it."""
    return f"postgresql://pbgrade@/pbgrade?host={tmp_path / 'no-server-here'}"


def quick_run(data, config, db=None):
    """One real quick test on the simulated rig: its record."""
    out = data.parent / "record.json"
    proc = pbgrade(data, config, "run", "--method", "quick", "--json", out, db=db)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text()), proc.stderr


@pytest.fixture(scope="module")
def real_record(tmp_path_factory):
    data, config = kit(tmp_path_factory.mktemp("real"), "bench")
    return quick_run(data, config)[0]


def dated(record, started: datetime, run_id_tail: str, station: str, channel: int = 1) -> dict:
    """The record as if tested at `started` on `station`'s channel: a run of its own."""
    copied = copy.deepcopy(record)
    copied.update(run_id=f"{started:%Y%m%dT%H%M%SZ}-{run_id_tail}", started_at=f"{started:%Y-%m-%dT%H:%M:%SZ}",
                  station=station)
    copied["rig"]["rig"]["channel"] = channel
    return copied


# -- kits that sync -------------------------------------------------------------------------------------

def test_two_kits_sync_to_one_central_database(tmp_path, postgresql_database, real_record):
    central = postgresql_database
    kit_a, kit_b = kit(tmp_path, "kit-a"), kit(tmp_path, "kit-b")

    # kit A tests in a shop with no database set, then syncs at the office; twice: nothing arrives twice
    first, _ = quick_run(*kit_a)
    assert pbgrade(*kit_a, "sync", db=central).stdout.startswith("sent 1 run(s) to ")
    second, _ = quick_run(*kit_a)
    again = pbgrade(*kit_a, "sync", "--journals", tmp_path / "office", db=central)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [f"sent 1 run(s) to {central}; it had 1 already",
                                         f"copied 2 run folder(s) into {tmp_path / 'office' / 'runs'}"]
    assert pbgrade(*kit_a, "sync", "--journals", tmp_path / "office", db=central).stdout.splitlines() == [
        f"sent 0 run(s) to {central}; it had 2 already", f"copied 0 run folder(s) into {tmp_path / 'office' / 'runs'}"]
    assert sorted(p.name for p in (tmp_path / "office" / "runs").iterdir()) == sorted(
        [first["run_id"], second["run_id"]])
    assert (tmp_path / "office" / "runs" / first["run_id"] / "record.json").is_file()

    # kit B was set up for the office database but spent a week away from it: it kept testing, its runs waited
    last_week = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=7)
    week_old = [dated(real_record, last_week + timedelta(hours=k), f"b0000{k}", "kit-b/sim") for k in range(2)]
    Store(kit_b[0] / "runs.sqlite").add_missing(week_old)
    today, said = quick_run(*kit_b, db=unreachable_database(tmp_path))
    assert "central database unreachable" in said and "the next run or `pbgrade sync` sends it" in said
    synced = pbgrade(*kit_b, "sync", db=central)
    assert synced.stdout == f"sent 3 run(s) to {central}; it had 0 already\n", synced.stderr

    # at the office: every kit's runs, each once, with its station; last week's where last week is
    office = tmp_path / "office-machine"
    listed = pbgrade(office, tmp_path / "no-settings", "history", "--json", db=central)
    runs = json.loads(listed.stdout)["runs"]
    assert [run["run_id"] for run in runs] == [*(r["run_id"] for r in week_old), first["run_id"],
                                               second["run_id"], today["run_id"]]
    assert [run["station"].split("/")[0] for run in runs] == ["kit-b", "kit-b", "kit-a", "kit-a", "kit-b"]
    assert [run["started_at"] for run in runs[:2]] == [r["started_at"] for r in week_old]
    stats = json.loads(pbgrade(office, tmp_path / "no-settings", "stats", "--station", "kit-b*", "--json",
                               db=central).stdout)
    assert (stats["runs"], stats["first"]) == (3, week_old[0]["started_at"])


def test_a_sync_cut_off_sends_the_rest_next_time_and_nothing_twice(tmp_path, postgresql_database, real_record):
    now = datetime(2026, 12, 1, 8, tzinfo=timezone.utc)
    records = [dated(real_record, now + timedelta(minutes=k), f"c{k:05}", "kit-c/sim") for k in range(7)]
    local, central = Store(tmp_path / "runs.sqlite"), Store(postgresql_database)
    local.add_missing(records)
    central.add_missing(records[:4])  # what got through before the link dropped
    assert push(local, central) == Pushed(sent=3, had=4)
    assert push(local, central).sent == 0
    assert [row["run_id"] for row in central.runs()] == [r["run_id"] for r in records]
    assert central.get(records[5]["run_id"]) == records[5]


# -- stations: the background uploader ------------------------------------------------------------------

def test_a_station_keeps_testing_while_the_database_is_down_and_sends_all_when_it_is_back(
        tmp_path, postgresql_server, real_record, capsys):
    central_url = postgresql_server.new_database()
    central, local = Store(central_url), Store(tmp_path / "runs.sqlite")
    start = datetime(2026, 12, 2, 6, tzinfo=timezone.utc)
    records = [dated(real_record, start + timedelta(minutes=k), f"d{k:05}", "line1/sim/ch1") for k in range(4)]
    postgresql_server.stop()
    try:
        uploader = Uploader(local, central_url, retry_s=0.1)
        for record in records[:3]:  # the channels go on testing: each run saved here
            local.add(record)
            uploader.nudge()
        wait_for(lambda: uploader.unreachable, "the uploader finds the database away")
        time.sleep(0.3)  # tries again (retry_s) while it is away: still queued, nothing lost
        assert [row["run_id"] for row in local.runs()] == [r["run_id"] for r in records[:3]]
    finally:
        postgresql_server.start()
    wait_for(lambda: len(central.runs()) == 3, "the queued runs reach the database once it is back")
    local.add(records[3])
    uploader.nudge()
    uploader.close()
    assert not uploader.thread.is_alive() and uploader.unreachable is None
    assert [row["run_id"] for row in central.runs()] == [r["run_id"] for r in records]
    err = capsys.readouterr().err.splitlines()
    assert [line.split(":")[1].strip() for line in err] == ["central database unreachable (postgresql",
                                                            "central database back"]
    assert err[1] == "pbgrade: central database back: 3 waiting run(s) sent"


def test_the_station_command_sends_each_run_to_the_central_database(tmp_path, postgresql_database):
    data, config = kit(tmp_path, "line1")
    proc = pbgrade(data, config, "station", "--channels", "2", "--sim-duts", "honest-10000,sagging-output",
                   "--label", ROOT / "rigs" / "sim" / "duts" / "honest-10000.label.toml", input="A-1\nA-2\nA-3\n",
                   db=postgresql_database)
    assert proc.returncode == 1, proc.stderr  # a unit failed
    here = Store(data / "runs.sqlite").runs()
    assert len(here) == 3  # the station's own history, and its queue
    central = Store(postgresql_database).runs()
    assert central == here
    assert {row["station"] for row in central} == {"line1/sim-ina226/ch1", "line1/sim-ina226/ch2"}


def station(url, local_path, name, record):
    """A station process: CHANNELS channels testing at once, each run saved to the station's own file and
    sent by its uploader, as production_line.Station does."""
    local = Store(local_path)
    uploader = Uploader(local, url, retry_s=0.1)
    started = datetime(2026, 12, 3, 6, tzinfo=timezone.utc)

    def channel(number):
        for k in range(RUNS_PER_CHANNEL):
            local.add(dated(record, started + timedelta(minutes=k), f"{name}c{number}r{k}", f"{name}/sim/ch{number}",
                            channel=number))
            uploader.nudge()

    channels = [threading.Thread(target=channel, args=(number,)) for number in range(1, CHANNELS + 1)]
    for thread in channels:
        thread.start()
    for thread in channels:
        thread.join()
    uploader.close()
    sys.exit(0 if uploader.unreachable is None and not uploader.thread.is_alive() else 1)


def test_four_stations_of_three_channels_write_one_database_at_once(tmp_path, postgresql_database, real_record):
    stations = [multiprocessing.Process(target=station, args=(postgresql_database, tmp_path / f"s{k}.sqlite",
                                                              f"line{k}", real_record)) for k in range(STATIONS)]
    for process in stations:
        process.start()
    for process in stations:
        process.join(timeout=120)
    assert [process.exitcode for process in stations] == [0] * STATIONS
    rows = Store(postgresql_database).runs()
    assert len(rows) == len({row["run_id"] for row in rows}) == STATIONS * CHANNELS * RUNS_PER_CHANNEL
    per_channel = {(row["station"], row["channel"]) for row in rows}
    assert per_channel == {(f"line{k}/sim/ch{c}", c) for k in range(STATIONS) for c in range(1, CHANNELS + 1)}


# -- what the operator can fix --------------------------------------------------------------------------

@pytest.mark.parametrize("db, args, message", [
    (None, ["sync"], "no central database: set PBGRADE_DB=postgresql://"),
    ("unreachable", ["sync"], "central database unreachable (postgresql://pbgrade@/pbgrade?host="),
    ("unreachable", ["history"], "--local reads this station's own runs"),
    ("mysql://db/x", ["sync"], "PBGRADE_DB is 'mysql://db/x', not a PostgreSQL URL"),
])
def test_a_sync_or_history_it_cannot_do_is_one_line_and_exit_2(tmp_path, real_record, monkeypatch, capsys,
                                                               db, args, message):
    Store(tmp_path / "runs.sqlite").add(real_record)
    monkeypatch.setenv("PBGRADE_DATA", str(tmp_path))
    if db:
        monkeypatch.setenv("PBGRADE_DB", unreachable_database(tmp_path) if db == "unreachable" else db)
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    if db == "unreachable":  # the station's own runs are still there to read
        assert cli.main(["history", "--local"]) == 0
        assert real_record["run_id"] in capsys.readouterr().out


def test_the_settings_database_must_be_a_postgresql_url(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PBGRADE_CONFIG", str(tmp_path))
    (tmp_path / "settings.toml").write_text('database = "runs.sqlite"\n')
    assert cli.main(["config"]) == 2
    assert "database is 'runs.sqlite', not a PostgreSQL URL" in capsys.readouterr().err
