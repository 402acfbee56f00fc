"""What a test needs before it starts, shared by `pbgrade run`, `calibrate` and `station`: the rig
channel it runs on, its label, method and profile checked to go together, and the simulated rig."""
import math
import tempfile
from pathlib import Path

from . import paths
from .label import load_label
from .link import RigError, device_channel, open_rig
from .method import load_method
from .profile import ProfileError, load_profile
from .rig import RigFileError, channels, load_rig, settings_hash, settings_json
from .simdut import load_dut
from .simkeeper import KeptSim
from .simrig import SimError, SimRig
from .steps import measured_by

LONGEST_PERIOD_S = 60  # the firmware refuses a CONFIG with a longer sample period (station.py)
FASTEST_RATE_HZ = 1e6  # CONFIG's period_us: 1 us at the least


class FlagError(ValueError):
    """A flag's value out of its range: one line naming the flag, the value and the range."""


def check_options(options, rig):
    """--rate and --end-voltage within what CONFIG carries and the rig measures, before any current flows."""
    rate, end_v = options.rate_hz, options.end_voltage_v
    if not (math.isfinite(rate) and 1 / LONGEST_PERIOD_S <= rate <= FASTEST_RATE_HZ):
        raise FlagError(f"--rate {rate:g}: give samples per second from {1 / LONGEST_PERIOD_S:.4g} (one every "
                        f"{LONGEST_PERIOD_S} s) to {FASTEST_RATE_HZ:g}, e.g. --rate 10")
    top = rig["limits"]["max_voltage_v"]
    if end_v is not None and not (math.isfinite(end_v) and 0 < end_v <= top):
        raise FlagError(f"--end-voltage {end_v:g}: give a voltage above 0 and up to this rig's {top:g} V limit, "
                        f"e.g. --end-voltage 4.0")


def check_json_path(path):
    """--json's folder exists: checked before a test runs, not found missing after it."""
    if path is not None and not Path(path).parent.is_dir():
        raise FlagError(f"--json {path}: the folder {Path(path).parent} does not exist: create it, or give "
                        f"another path")


def tested_rig(port, name_or_path, number):
    """(the rig file's table, the channel's) a command tests on: with a port, the device's (checked against
    name_or_path, if given: device_rig); without, name_or_path's (default sim), simulated."""
    if port:
        return device_rig(port, name_or_path, number)
    return channel_rig(name_or_path or "sim", number or 1)


def channel_rig(name_or_path, number):
    """(the rig file's table, its channel number's): a one-channel rig is its channel 1."""
    return _channel(load_rig(name_or_path), number)


def device_rig(port, name_or_path=None, number=None):
    """(the rig file's table, its channel's) for the device on port, which reports the rig it runs (its
    name and a hash of its settings): that rig's file, found by its name, or the one given, which must be
    the same rig with the same settings; refused before any current flows if not, naming both. number:
    the channel, default the one the device names."""
    with open_rig(port) as (_, device):
        ident = device.identity
    reported = f"the device on {port} runs rig {ident.rig} (settings {ident.settings_hash.hex()})"
    deploy = f"`pbgrade deploy --rig {name_or_path or 'RIG'} --port {port}`"
    if name_or_path is None:
        rig = _rig_named(ident.rig)
        if rig is None:
            raise RigError(f"{reported}, which no rig file here names: give its file with --rig, or deploy "
                           f"one with {deploy}")
    else:
        rig = load_rig(name_or_path)
        if rig["rig"]["name"] != ident.rig:
            raise RigError(f"--rig {name_or_path} is rig {rig['rig']['name']}, but {reported}: leave --rig out "
                           f"to test with the device's, or deploy this one with {deploy}")
    ours = settings_hash(settings_json(rig))
    if ours != ident.settings_hash.hex():
        raise RigError(f"{reported}, not the settings of rig file {name_or_path or ident.rig} ({ours}): "
                       f"deploy the file again with {deploy}, or give --rig the file it was deployed from")
    return _channel(rig, number or device_channel(ident))


def _rig_named(name):
    """The rig file, the user's or a shipped one (paths.find), whose [rig] name is name, or None."""
    for path in (paths.find(n, "rigs") for n in paths.names("rigs")):
        try:
            rig = load_rig(path)
        except RigFileError:
            continue
        if rig["rig"]["name"] == name:
            return rig
    return None


def _channel(rig, number):
    chans = channels(rig)
    if not 1 <= number <= len(chans):
        raise RigError(f"--channel {number}: rig {rig['rig']['name']} has "
                       + (f"channels 1 to {len(chans)}" if len(chans) > 1 else "one channel: leave --channel out"))
    return rig, chans[number - 1]


def checked_test(rig, label_path, method_name, profile_name):
    """(label, method, profile) for a test on this rig, refused in one line if they cannot go together."""
    label = load_label(label_path)
    if label.rated_output_a > rig["limits"]["max_current_a"]:
        raise RigError(f"the label's rated output of {label.rated_output_a:g} A is over this rig's "
                       f"{rig['limits']['max_current_a']:g} A current limit: test it on a rig with a larger range")
    method = load_method(method_name)
    profile = load_profile(profile_name or method.profile)
    missing = {limit.quantity for g in profile.grades for limit in g.limits if not limit.if_measured} - set().union(
        *(measured_by(step) for step in method.steps))
    if missing:
        raise ProfileError(f"profile {profile.name} grades {', '.join(sorted(missing))}, which method "
                           f"{method.name} does not measure: pick a profile made for this method "
                           f"(`pbgrade profiles`), or a method that measures it")
    return label, method, profile


def start_sim(stack, rig, dut, speed=0, link=None, outlive_host=False):
    """Start the simulated rig for the length of `stack`; its flash persists per rig. dut: a
    catalogue name or file, or None for an empty bay (SimRig.plug); link: simrig.LINKS; outlive_host: in a
    process of its own that outlives a killed host for a while, for a resume (simkeeper)."""
    if rig["rig"]["board"] != "sim":
        raise RigError(f"rig {rig['rig']['name']} is real hardware: pass --port with its serial device")
    if not (math.isfinite(speed) and speed >= 0):
        raise SimError(f"--speed {speed:g}: give a positive factor, e.g. --speed 60 for a minute per second")
    flash = paths.sim_flash(rig)
    if outlive_host:
        return stack.enter_context(KeptSim(rig, load_dut(dut) if dut else None, flash, speed, link))
    work = stack.enter_context(tempfile.TemporaryDirectory(prefix="pbgrade-sim-"))
    return stack.enter_context(SimRig(rig, load_dut(dut) if dut else None, work, flash, speed, link))
