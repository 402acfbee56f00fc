"""The simulated rig as the benchmarks use it: rig and unit descriptions, and
the firmware's and simulator's modules importable under CPython."""
import sys

from pbgrade.label import load_label
from pbgrade.paths import FIRMWARE, ROOT, SIM
from pbgrade.rig import load_rig
from pbgrade.runner import Options
from pbgrade.simdut import dut_path, load_dut, matching_label

# firmware/ and rigs/sim/ import `micropython`: the test suite's CPython stand-in serves here too
for _path in (FIRMWARE, SIM, ROOT / "tests" / "shims"):
    if str(_path) not in sys.path:
        sys.path.append(str(_path))

from inabase import AVERAGES, CONVERSION_US  # noqa: E402

UNIT = "honest-10000"


def rig_for(rate_hz):
    """rigs/sim.toml with the INA226's quietest setting (longest averaging x
    conversion time) whose reading still fits one sample period."""
    period_us = 1_000_000 // rate_hz
    averages, conversion_us = max(((a, c) for a in AVERAGES for c in CONVERSION_US if 2 * a * c <= period_us),
                                  key=lambda ac: ac[0] * ac[1])
    rig = load_rig("sim")
    rig["sensor"].update(averages=averages, conversion_us=conversion_us)
    return rig


def unit(name, capacity_mah=None):
    """A catalogue unit as the simulator takes it, its cell resized if capacity_mah is given."""
    dut = load_dut(name)
    if capacity_mah is not None:
        dut["model"]["cell"]["capacity_mah"] = capacity_mah
    return dut


def describe(name, capacity_mah=None):
    return name if capacity_mah is None else f"{name} with a {capacity_mah} mAh cell"


def label_path(name=UNIT):
    return matching_label(dut_path(name))


def config(rate_hz, name=UNIT):
    """The CONFIG the host sends for a discharge of a catalogue unit at its label's rated current."""
    return Options(rate_hz=rate_hz).config(load_label(label_path(name)))


def curve(hours, volts=5.05):
    """A unit that holds `volts` for `hours` at UNIT's rated current, then switches off."""
    mah = hours * config(1)["load_ma"]
    return {"kind": "curve", "points": [[0, volts], [mah, volts], [mah + 0.5, volts - 1]]}
