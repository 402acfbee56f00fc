"""A host stopped at any point (killed between a step's journal and its START, after CONFIG, after START;
SIGTERM; its link lost) leaves a run that ends in bounded time: resumed to the result of an unbroken run,
or saved as stopped; a second host never takes a run from the first; a resume never waits forever on a
device that is not where the run left it; a simulated rig outlives its killed host for a bounded time."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, wait_for
from test_e2e import PBGRADE, pbgrade, run_record
from test_resume import LABEL
from test_safety import status

TINY = ["--sim-dut", "fake-tiny", "--method", "discharge"]  # a short discharge
HONEST = ["--sim-dut", "honest-10000", "--method", "discharge"]  # a discharge a kill lands in (3 h in virtual time)
# pbgrade itself, but SIGKILLed just before or just after it sends a command: a host killed at that point
KILLED_AT = """
import os, signal, sys
from pbgrade import runner
from pbgrade.cli import main
message, when = sys.argv[1:3]
command = runner.command
def dying(link, evaluation, msg_type, **body):
    if (msg_type, "before") == (message, when):
        os.kill(os.getpid(), signal.SIGKILL)
    command(link, evaluation, msg_type, **body)
    if (msg_type, "after") == (message, when):
        os.kill(os.getpid(), signal.SIGKILL)
runner.command = dying
sys.argv = ["pbgrade", *sys.argv[3:]]
sys.exit(main())
"""


def env(tmp_path):
    return dict(os.environ, PBGRADE_DATA=str(tmp_path / "data"))


def start_sim(tmp_path, dut, *rig):
    sim = subprocess.Popen([*PBGRADE, "sim", "--sim-dut", dut, *map(str, rig)], stdout=subprocess.PIPE, text=True,
                           env=env(tmp_path), cwd=ROOT)
    return sim, sim.stdout.readline().strip()


def stop(proc):
    proc.terminate()
    proc.wait(timeout=20)


def host(tmp_path, *args, **popen):
    return subprocess.Popen([*PBGRADE, *map(str, args)], env=env(tmp_path), cwd=ROOT, text=True,
                            **{"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, **popen})


def discharging_host(tmp_path, port, *args):
    """A host running honest-10000's discharge on port, once its samples are coming."""
    run = host(tmp_path, "run", "--port", port, "--label", LABEL, "--method", "discharge", *args)
    wait_for(discharging(tmp_path))
    return run


def killed_mid_discharge(tmp_path):
    """The folder of a run whose host was killed mid-discharge, its simulated rig stopped since."""
    sim, port = start_sim(tmp_path, "honest-10000")
    try:
        run = discharging_host(tmp_path, port)
        run.send_signal(signal.SIGKILL)
        run.wait()
    finally:
        stop(sim)
    return the_run(tmp_path).parent


def the_run(tmp_path):
    return next((tmp_path / "data" / "runs").glob("*/rx-1-discharge.bin"), None)


def discharging(tmp_path, size=20_000):
    return lambda: the_run(tmp_path) is not None and the_run(tmp_path).stat().st_size > size


def meta(run_dir):
    return json.loads((run_dir / "meta.json").read_text())


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"


def children(pid):
    """The pids whose parent is pid (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
        except OSError:
            pass  # ended meanwhile
    return found


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return run_record(tmp_path_factory.mktemp("clean"), *TINY)[0]


@pytest.fixture(scope="module")
def clean_honest(tmp_path_factory):
    """honest-10000's discharge, unbroken: long enough in virtual time for a kill to land in it."""
    return run_record(tmp_path_factory.mktemp("clean-honest"), *HONEST)[0]


@pytest.mark.parametrize("message, when", [("CONFIG", "before"), ("START", "before"), ("START", "after")],
                         ids=["journal-opened-before-CONFIG", "after-CONFIG", "after-START"])
def test_a_host_killed_around_a_steps_start_resumes_to_the_clean_result(tmp_path, clean, message, when):
    sim, port = start_sim(tmp_path, "fake-tiny")
    try:
        killed = subprocess.run([sys.executable, "-c", KILLED_AT, message, when, "run", "--port", port, "--label",
                                 ROOT / "rigs/sim/duts/fake-tiny.label.toml", "--method", "discharge"],
                                env=env(tmp_path), cwd=ROOT, capture_output=True, timeout=120)
        assert killed.returncode == -signal.SIGKILL
        run_dir = the_run(tmp_path).parent
        proc = pbgrade(tmp_path, "resume", run_dir.name, "--json", tmp_path / "resumed.json", timeout=120)
        assert proc.returncode in (0, 1), proc.stderr
    finally:
        stop(sim)
    resumed = json.loads((tmp_path / "resumed.json").read_text())
    assert resumed["status"] == "complete" and resumed["samples_lost"] == 0
    assert resumed["energy_wh"] == clean["energy_wh"] and resumed["cutoff_reason"] == clean["cutoff_reason"]
    assert not (run_dir / "host.lock").exists()
    regraded = pbgrade(tmp_path, "regrade", run_dir.name, "--json", tmp_path / "regraded.json")
    assert regraded.returncode in (0, 1), regraded.stderr  # the journal alone gives the same
    assert json.loads((tmp_path / "regraded.json").read_text())["energy_wh"] == resumed["energy_wh"]


def test_a_second_host_is_refused_and_the_first_goes_on_unharmed(tmp_path):
    sim, port = start_sim(tmp_path, "honest-10000")
    try:
        first = discharging_host(tmp_path, port, "--json", tmp_path / "first.json")
        run_id = the_run(tmp_path).parent.name
        second = pbgrade(tmp_path, "resume", run_id, timeout=60)
        assert second.returncode == 2 and second.stderr.count("\n") == 1
        assert f"pbgrade: run {run_id} is driven by pid {first.pid} on this host" in second.stderr
        _, errors = first.communicate(timeout=300)
        assert first.returncode == 0, errors
    finally:
        stop(sim)
    record = json.loads((tmp_path / "first.json").read_text())
    assert record["status"] == "complete" and record["samples_lost"] == 0 and record["cutoff_reason"] == "end_voltage"


def test_sigterm_stops_the_test_as_ctrl_c_does(tmp_path):
    sim, port = start_sim(tmp_path, "honest-10000")
    try:
        run = discharging_host(tmp_path, port)
        run.send_signal(signal.SIGTERM)
        _, errors = run.communicate(timeout=60)
        assert run.returncode == 130
        assert errors.splitlines()[-1] == "pbgrade: stopped by operator; load switched off, run saved as aborted"
        assert status(port) == ("ended", 0)  # STOP went out: the load is off
    finally:
        stop(sim)
    run_dir = the_run(tmp_path).parent
    assert json.loads((run_dir / "record.json").read_text())["status"] == "aborted by operator"
    assert meta(run_dir)["status"] == "aborted by operator" and not (run_dir / "host.lock").exists()


def test_a_lost_link_keeps_the_run_resumable_and_resume_completes_it(tmp_path, clean_honest):
    sim, port = start_sim(tmp_path, "honest-10000")
    try:
        run = discharging_host(tmp_path, port)
        sim.send_signal(signal.SIGSTOP)  # the rig falls silent, as on a cable pulled out
        try:
            _, errors = run.communicate(timeout=120)
        finally:
            sim.send_signal(signal.SIGCONT)  # the cable back
        run_dir = the_run(tmp_path).parent
        assert run.returncode == 2 and errors.splitlines()[-1] == (
            f"pbgrade: rig silent for 15 s on {port}: the device ends the discharge safely on its own; check the "
            f"cable and power; what it sent is kept: once the link is back, `pbgrade resume {run_dir.name}` goes on "
            f"with the run")
        assert "status" not in meta(run_dir) and not (run_dir / "host.lock").exists()
        proc = pbgrade(tmp_path, "resume", run_dir.name, "--json", tmp_path / "resumed.json", timeout=300)
        assert proc.returncode == 0, proc.stderr
    finally:
        stop(sim)
    resumed = json.loads((tmp_path / "resumed.json").read_text())
    assert resumed["status"] == "complete" and resumed["samples_lost"] == 0
    assert resumed["energy_wh"] == clean_honest["energy_wh"] and resumed["cutoff_reason"] == "end_voltage"


def test_a_restarted_rig_is_refused_at_once_and_the_run_stays_resumable(tmp_path):
    run_dir = killed_mid_discharge(tmp_path)
    restarted, port = start_sim(tmp_path, "honest-10000")  # the same rig, started again: it answers, but idle
    try:
        proc = pbgrade(tmp_path, "resume", run_dir.name, "--port", port, timeout=120)
    finally:
        stop(restarted)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 2, proc.stderr  # the lock taken over; the refusal
    assert "restarted" in proc.stderr.splitlines()[-1] and f"`pbgrade regrade {run_dir.name}`" in proc.stderr
    assert "status" not in meta(run_dir) and not (run_dir / "host.lock").exists()


def test_another_rig_is_refused_before_anything_is_sent(tmp_path):
    run_dir = killed_mid_discharge(tmp_path)
    other_rig = tmp_path / "bench-2.toml"
    other_rig.write_text((ROOT / "rigs/sim.toml").read_text().replace('name = "sim-ina226"', 'name = "bench-2"')
                         .replace("[sim]\n", '[sim]\nboard_id = "e6614104033f5b2c"\n'))  # another board's serial
    other, other_port = start_sim(tmp_path, "honest-10000", "--rig", other_rig)
    try:
        proc = pbgrade(tmp_path, "resume", run_dir.name, "--port", other_port, timeout=120)
        assert status(other_port) == ("idle", 0)  # it was sent nothing that acts
    finally:
        stop(other)
    assert proc.returncode == 2, proc.stderr
    assert f"pbgrade: the rig on {other_port} is not the one run {run_dir.name} ran on (" in proc.stderr
    assert "rig 'bench-2', the run's 'sim-ina226'" in proc.stderr and "status" not in meta(run_dir)
    assert "board_id 'e6614104033f5b2c', the run's 'sim:sim-ina226'" in proc.stderr


def killed_and_resumed(tmp_path, *args):
    """honest-10000's discharge by `pbgrade run` on its own simulated rig (fake-tiny's could end before the
    kill landed), its host SIGKILLed mid-discharge, then `pbgrade resume`: (the resumed record, the pid of
    the rig's keeper, ended)."""
    run = host(tmp_path, "run", *args, *HONEST, "--json", tmp_path / "unused.json")
    wait_for(lambda: children(run.pid))
    keeper = children(run.pid)[0]
    wait_for(discharging(tmp_path))
    run.send_signal(signal.SIGKILL)
    run.wait()
    try:
        proc = pbgrade(tmp_path, "resume", the_run(tmp_path).parent.name, "--json", tmp_path / "resumed.json",
                       timeout=120)
        assert proc.returncode in (0, 1), proc.stderr
    finally:
        os.kill(keeper, signal.SIGTERM)
    return json.loads((tmp_path / "resumed.json").read_text()), keeper


def test_the_rig_of_a_killed_run_outlives_it_for_a_resume(tmp_path, clean_honest):
    resumed, keeper = killed_and_resumed(tmp_path)
    assert resumed["status"] == "complete" and resumed["energy_wh"] == clean_honest["energy_wh"]
    wait_for(lambda: not alive(keeper))


def test_a_kept_rig_ends_once_nobody_reads_it_and_its_micropython_with_it(tmp_path):
    """The keeper's bound, with a short orphan_s; and a rig process killed outright takes micropython along."""
    keeper_host = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from pbgrade.simkeeper import KeptSim\n"
        "from pbgrade.rig import load_rig\n"
        "from pbgrade.simdut import load_dut\n"
        "sim = KeptSim(load_rig('sim'), load_dut('honest-10000'), sys.argv[1], orphan_s=2).__enter__()\n"
        "print(sim.pid, sim.port, flush=True)\n"
        "time.sleep(600)\n"), tmp_path / "flash"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    keeper, port = keeper_host.stdout.readline().split()
    keeper = int(keeper)
    micropython = children(keeper)
    assert len(micropython) == 1
    keeper_host.kill()  # the host dies: the rig goes on ...
    keeper_host.wait()
    assert status(port)[0] == "idle"  # ... and answers a host that comes
    wait_for(lambda: not alive(keeper) and not alive(micropython[0]))  # ... until nobody read it for orphan_s

    sim, _ = start_sim(tmp_path, "honest-10000")  # `pbgrade sim` killed outright
    micropython = children(sim.pid)
    sim.kill()
    sim.wait()
    wait_for(lambda: not any(alive(pid) for pid in micropython))


def test_a_run_on_an_external_load_resumes_with_the_load_switched_on(tmp_path):
    """On a rig whose host sets an external load over SCPI, the resuming host opened the load switched off,
    and the device's step, still running, ended on the current's collapse. Resume opens it as it was left
    and sets it as the step draws before it collects the step."""
    scpi = ["--rig", ROOT / "rigs/sim-scpi.toml"]
    clean = run_record(tmp_path / "clean", *scpi, *HONEST)[0]
    resumed, _ = killed_and_resumed(tmp_path, *scpi)
    assert resumed["status"] == "complete" and resumed["samples_lost"] == 0
    assert resumed["cutoff_reason"] == clean["cutoff_reason"] == "end_voltage"  # not the current's collapse
    # the load set again, to the same current, while the device ran on: 32.364061 Wh vs 32.364059 Wh clean
    assert resumed["energy_wh"] == pytest.approx(clean["energy_wh"], rel=1e-6)
