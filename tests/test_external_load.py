"""An external electronic load ([load] kind = "scpi"): the host sets it over
SCPI, the device switches it in and out through its series switch, so the
device's limits cut it whatever the host does. End to end on the simulated
rig, whose load answers SCPI on a local TCP port."""
import json
import socket
import threading
from contextlib import ExitStack

import pytest
import pyvisa

from conftest import ROOT
from external_load import ExternalLoad, ScpiServer
from pbgrade.rig import load_rig
from pbgrade.simdut import load_dut
from test_e2e import run_record
from powerbank import bank_from
from world import World
from clock import VirtualClock

RIG = ROOT / "rigs" / "sim-scpi.toml"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Bench:
    """The simulated external load in a world, its SCPI server polled in a thread."""

    def __init__(self):
        self.world = World(VirtualClock(), bank_from(load_dut("honest-10000"), 1), ExternalLoad())
        self.port = free_port()
        self.server = ScpiServer(self.port, self.world.load, self._measure,
                                 lambda setting: self.world.set_load(self.world.load.set, setting))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _measure(self):
        self.world.sense(self.world.clock.now_us, False)
        return self.world.present()

    def _serve(self):
        while not self._stop.is_set():
            self.server.poll()
            self._stop.wait(0.001)

    def current(self):
        self.world.clock.advance(100_000)
        return self.world.sense(self.world.clock.now_us)[1]

    def close(self):
        self._stop.set()
        self._thread.join()


@pytest.fixture
def bench():
    b = Bench()
    yield b
    b.close()


def test_the_simulated_load_speaks_scpi_and_draws_only_through_the_rig_switch(bench):
    from pbgrade.scpi_load import ScpiLoad, ScpiLoadError

    with ScpiLoad(f"TCPIP::127.0.0.1::{bench.port}::SOCKET", max_current_a=3.5, backend="@py") as el:
        assert el.identity.startswith("pbgrade,SIM-ELOAD")
        el.set_target("CC", 2.1)
        el.on()
        assert bench.current() == 0.0  # the rig's switch is open: the device has not connected it
        bench.world.set_load(bench.world.load.set, ("ENABLE", True))
        assert bench.current() == pytest.approx(2.1)
        assert el.measured()[1] == pytest.approx(2.1)
        el.set_target("CP", 10.5)
        assert bench.current() * bench.world.present()[0] == pytest.approx(10.5, rel=1e-3)
        el.set_target("CR", 2.4)
        assert bench.current() == pytest.approx(bench.world.present()[0] / 2.4, rel=1e-3)
        bench.world.set_load(bench.world.load.set, ("ENABLE", False))  # a limit tripped on the device
        assert bench.current() == 0.0 and bench.world.load.input_on  # cut, whatever the host set
        with pytest.raises(ScpiLoadError, match="refused 'RES 0.0100'.*-222"):
            el.set_target("CR", 0.01)
    assert not bench.world.load.input_on  # closing the host's side switched its input off


def test_a_discharge_on_an_external_load_measures_like_the_rigs_own(tmp_path):
    """fake-tiny to the end at 2.1 A: the capacity and energy of the same unit on the closed-loop MOSFET
    sink, within the sensor's accuracy; the ramp steps are recorded as not tested."""
    own, _ = run_record(tmp_path / "own", "--sim-dut", "fake-tiny", "--method", "discharge")
    external, _ = run_record(tmp_path / "ext", "--rig", RIG, "--sim-dut", "fake-tiny", "--method", "discharge")
    assert external["rig"]["load"]["kind"] == "scpi" and external["cutoff_reason"] == own["cutoff_reason"]
    assert external["capacity_mah"] == pytest.approx(own["capacity_mah"], rel=0.005)
    assert external["energy_wh"] == pytest.approx(own["energy_wh"], rel=0.005)
    assert isinstance(external["steps"][0]["load_settling"], list)  # the device saw it settle


def test_ramp_steps_are_not_tested_on_an_external_load(tmp_path):
    record, _ = run_record(tmp_path, "--rig", RIG, "--method", "quick")
    skipped = {s["type"]: s["behaviours"] for s in record["steps"] if s["type"] in ("load_regulation", "over_current")}
    assert set(skipped) == {"load_regulation", "over_current"}
    assert all("not tested: the host sets an external load" in b[0] for b in skipped.values())
    assert record["grade"] == "NEEDS A FULL TEST" and record["status"] == "complete"


def test_a_device_limit_cuts_the_external_load_and_the_host_switches_it_off(tmp_path, monkeypatch):
    """A 5 W power limit under a 10.5 W discharge: the device trips at once (EVENT 19) and opens its
    switch; when the run ends the host's side has switched the load's input off too."""
    from pbgrade import testsetup
    from pbgrade.label import load_label
    from pbgrade.method import load_method
    from pbgrade.profile import load_profile
    from pbgrade.runner import Options, run_test

    monkeypatch.setenv("PBGRADE_DATA", str(tmp_path))
    rig = load_rig(RIG)
    rig["limits"]["max_power_w"] = 5.0
    label = ROOT / "rigs/sim/duts/honest-10000.label.toml"
    method = load_method("discharge")
    with ExitStack() as stack:
        sim = testsetup.start_sim(stack, rig, "honest-10000")
        record = run_test(sim.port, load_label(label), label, method, load_profile(method.profile), sim.rig,
                          Options(), tmp_path)
        inst = pyvisa.ResourceManager("@py").open_resource(sim.rig["load"]["resource"], read_termination="\n",
                                                            write_termination="\n")
        input_state = inst.query("INP?")
        inst.close()
    assert record["cutoff_reason"] == "limit_power", json.dumps(record["events"])
    assert record["energy_wh"] < 0.01 and input_state == "OFF"


def test_a_channels_external_load_answers_while_another_channel_runs(tmp_path, monkeypatch):
    """Two channels with external loads on one simulated board: channel 2's host sets its load (here:
    asks who it is, 2 s timeout) while channel 1 discharges for seconds of wall time."""
    from pbgrade import testsetup
    from pbgrade.label import load_label
    from pbgrade.method import load_method
    from pbgrade.profile import load_profile
    from pbgrade.rig import channels
    from pbgrade.runner import Options, run_test
    from pbgrade.scpi_load import ScpiLoad

    monkeypatch.setenv("PBGRADE_DATA", str(tmp_path))
    rig_file = tmp_path / "scpi-2ch.toml"
    rig_file.write_text(RIG.read_text() + "\n[[channel]]\n\n[[channel]]\nsensor = { address = 0x41 }\n"
                                          "load = { short_pin = 15 }\n")
    label = ROOT / "rigs/sim/duts/honest-10000.label.toml"
    method = load_method("discharge")
    with ExitStack() as stack:
        sim = testsetup.start_sim(stack, load_rig(rig_file), "honest-10000")
        one, two = channels(sim.rig)
        runs = tmp_path / "runs"
        records = []
        test = threading.Thread(target=lambda: records.append(run_test(
            sim.ports[0], load_label(label), label, method, load_profile(method.profile), one, Options(), tmp_path)))
        test.start()
        while not any(f.stat().st_size > 2000 for f in runs.glob("*/rx-1-discharge.bin")):  # channel 1 runs
            assert test.is_alive()
            threading.Event().wait(0.02)
        load = ScpiLoad(two["load"]["resource"], two["limits"]["max_current_a"], backend="@py")
        assert test.is_alive()  # answered while channel 1 was still running
        assert load.identity.startswith("pbgrade,SIM-ELOAD")  # channel 2's load, asked who it is
        load.close()
        test.join()
    assert records and records[0]["status"] == "complete"  # and channel 1's run went on to its end
