"""The rig's scale ([scale] in the rig file: a load cell on an HX711, firmware/hx711.py): `pbgrade scale tare`,
`calibrate --known-g G` and `weigh`. The device answers raw counts (WEIGH -> WEIGHT); the zero (tare) and the
counts per gram are the station's, kept per rig in its data folder like its calibrations, and a run that weighs
keeps the ones it used in its mass step's plan, so its record never depends on this file again."""
import json
from contextlib import ExitStack
from datetime import datetime, timezone

from . import paths
from .evaluate import Evaluation
from .link import IDLE_CONFIG, command, open_rig
from .steps.mass import SCALE_READINGS, grams
from .testsetup import start_sim, tested_rig
from .tomlcheck import read_json

MIN_COUNTS_PER_G = 10  # below, the known weight barely moved the reading: not on the platform, or no load cell
SETUP = "tare it empty (`pbgrade scale tare`), then weigh a known weight (`pbgrade scale calibrate --known-g 500`)"


class ScaleError(ValueError):
    """A scale that is missing, not set up or not answering; the message says what to do."""


def calibration_path(rig):
    return paths.data_dir() / "rigs" / rig["rig"]["name"] / "scale.json"


def calibration(rig):
    """The rig's scale as set up here ({"tare_counts", "counts_per_g", ...}); None: the rig has no scale."""
    if "scale" not in rig:
        return None
    path = calibration_path(rig)
    if not path.exists():
        return {}
    kept = read_json(path, ScaleError, f"set the scale up again: {SETUP}")
    return kept if isinstance(kept, dict) else {}


def ready(rig):
    """The rig's scale calibration for a run to weigh with; ScaleError if it is not set up."""
    kept = calibration(rig)
    if "counts_per_g" not in kept:
        raise ScaleError(f"rig {rig['rig']['name']}'s scale is not set up on this station: {SETUP}")
    return kept


def read_counts(port):
    """The scale's mean raw reading over SCALE_READINGS conversions."""
    with open_rig(port) as (link, _):
        evaluation = Evaluation(IDLE_CONFIG)
        command(link, evaluation, "WEIGH", readings=SCALE_READINGS)
    if evaluation.weight is None:  # acknowledged, but its reading lost on the way and no longer kept
        raise ScaleError(f"the scale's reading from {port} did not arrive: check the cable, then weigh again")
    return evaluation.weight.counts


def _save(rig, kept):
    path = calibration_path(rig)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(kept, indent=1))


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def add_commands(sub):
    p = sub.add_parser("scale", help="set up and read the rig's scale (the quick check's mass against energy)")
    actions = p.add_subparsers(dest="action", required=True)
    for name, help_, sim_dut in (("tare", "zero the scale: nothing on the platform", None),
                                 ("calibrate", "weigh a known weight on the tared platform", "weight-500g"),
                                 ("weigh", "weigh what is on the platform, in grams", "honest-10000")):
        a = actions.add_parser(name, help=help_)
        a.add_argument("--rig", help="the rig's file or name (default: with --port the device's, else sim-scale)")
        a.add_argument("--port", help="serial device or pyserial URL of a running rig")
        a.add_argument("--channel", type=int, help="the rig's test channel, on a rig with several")
        a.add_argument("--sim-dut", default=sim_dut, help=f"on the simulated rig, what lies on the platform "
                                                          f"(default: {sim_dut or 'nothing'})")
        if name == "calibrate":
            a.add_argument("--known-g", type=float, required=True, help="the weight's mass in grams, e.g. 500")
        a.set_defaults(func=cmd_scale)


def cmd_scale(args):
    rig_file, rig = tested_rig(args.port, args.rig or (None if args.port else "sim-scale"), args.channel)
    if "scale" not in rig:
        raise ScaleError(f"rig {rig['rig']['name']} has no scale: add its [scale] table (sck_pin, dout_pin) to "
                         f"the rig file, or type the unit's mass with --mass-g")
    kept = calibration(rig)
    if args.action == "calibrate" and not (0 < args.known_g <= 50_000):
        raise ScaleError(f"--known-g {args.known_g:g}: give the calibration weight's mass in grams, e.g. 500")
    if args.action != "tare" and "tare_counts" not in kept:
        raise ScaleError(f"rig {rig['rig']['name']}'s scale was never tared here: {SETUP}")
    with ExitStack() as stack:
        sim = None if args.port else start_sim(stack, rig_file, args.sim_dut)
        counts = read_counts(args.port or sim.ports[rig["rig"].get("channel", 1) - 1])
    if args.action == "tare":
        _save(rig, {**kept, "tare_counts": counts, "tared_at": _now()})
        print(f"tared {rig['rig']['name']}'s scale: zero at {counts} counts")
    elif args.action == "calibrate":
        per_g = (counts - kept["tare_counts"]) / args.known_g
        if per_g < MIN_COUNTS_PER_G:
            raise ScaleError(f"the {args.known_g:g} g weight read {counts - kept['tare_counts']} counts over the "
                             f"empty platform: put it on the platform (and nothing else), then calibrate again")
        _save(rig, {**kept, "counts_per_g": per_g, "known_g": args.known_g, "calibrated_at": _now()})
        print(f"calibrated {rig['rig']['name']}'s scale with {args.known_g:g} g: {per_g:.2f} counts per gram")
    else:
        print(f"{grams(counts, ready(rig)):.1f} g")
    return 0
