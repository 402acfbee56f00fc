"""Hardware in the loop: the end-to-end tests against a real board, run by
`make hil PORT=... RIG=... LABEL=...` (never by `make test`: tests/conftest.py
leaves this folder out). tests/test_hil_on_sim.py runs them once against the
simulated rig, so they are known to work before a board is on the bench."""
import pytest

from pbgrade.rig import channels, load_rig


def pytest_addoption(parser):
    group = parser.getgroup("hil", "hardware in the loop")
    group.addoption("--port", help="the board's serial port (device path or pyserial URL)")
    group.addoption("--rig", help="the rig file the board was deployed with (name or path)")
    group.addoption("--channel", type=int, default=1, help="the rig channel behind --port (default: 1)")
    group.addoption("--label", help="label file of the known unit plugged into the rig")
    group.addoption("--expect", help="the verdict the quick method gives that unit (optional: CONSISTENT ...)")


def _option(config, name):
    value = config.getoption(name)
    if not value:
        raise pytest.UsageError(f"--{name} is missing: make hil PORT=P RIG=R LABEL=L.label.toml")
    return value


@pytest.fixture(scope="session")
def port(pytestconfig):
    return _option(pytestconfig, "port")


@pytest.fixture(scope="session")
def rig_name(pytestconfig):
    return _option(pytestconfig, "rig")


@pytest.fixture(scope="session")
def channel(pytestconfig, rig_name):
    """The rig channel behind the port: its own table (sensor, limits, pins)."""
    chans = channels(load_rig(rig_name))
    k = pytestconfig.getoption("channel")
    if not 1 <= k <= len(chans):
        raise pytest.UsageError(f"--channel {k}: rig {rig_name} has {len(chans)} channel(s)")
    return chans[k - 1]


@pytest.fixture(scope="session")
def label(pytestconfig):
    return _option(pytestconfig, "label")
