"""A run's voltage and current as a sigrok session file (.sr), for PulseView and sigrok-cli.

The format is sigrok's session file, version 2 ("srzip", as libsigrok's srzip
output module writes it): a zip holding `version` ("2"), `metadata` (INI: the
sample rate and the analog channels' names) and each analog channel's
samples as little-endian 32-bit floats in `analog-1-N-1` (N from 1 when there
are no logic channels). Each channel is one entry: Debian's sigrok-cli 0.7.2
(libsigrok 0.5.2) converts a channel split into several entries wrong.

A session is one capture at one sample rate; a run is steps the device ran
one after another, each from its own slot 0 and perhaps at its own rate. So
the steps lie end to end as series.RunTimeline puts them, at the fastest
step's rate: a slower step's sample is held over the slots of its period, and
a slot whose sample never arrived is NaN (a gap, not a reading). sigrok has no
unit per analog channel: it shows both as volts; I is in amperes.
"""
import shutil
import tempfile
import zipfile

import numpy as np

from .journal import read_meta
from .replay import replay
from .series import RunTimeline

CHANNELS = ("V", "I")  # volts and amperes at the unit's output
FORMAT_VERSION = "2"
LIBSIGROK = "0.5.2"  # the release whose srzip output this follows, and Debian's sigrok-cli reads


class SigrokError(ValueError):
    """A run that cannot be written as a sigrok session; the message says what to do instead."""


def write_session(run_dir, out):
    """A run's samples as a sigrok session into `out`, a binary file; how many samples each channel has."""
    period_us = session_period_us(sorted({plan["config"]["period_us"] for plan in read_meta(run_dir)["plans"]}))
    timeline = RunTimeline()
    written = 0
    with tempfile.TemporaryFile() as volts, tempfile.TemporaryFile() as amps:  # a long run's, not in memory

        def add(step, t_s, v, i):
            nonlocal written
            hold = round(step.period_s * 1e6) // period_us
            first = timeline.run_us(step, t_s) // period_us
            new = first >= written  # no slot is written twice
            if not new.any():
                return
            slots = (first[new][:, None] + np.arange(hold)).ravel()
            for spool, values in ((volts, v), (amps, i)):
                chunk = np.full(slots[-1] + 1 - written, np.nan, dtype="<f4")
                chunk[slots - written] = np.repeat(values[new], hold)
                spool.write(chunk.tobytes())
            written = int(slots[-1]) + 1

        replay(run_dir, add)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as session:
            session.writestr("version", FORMAT_VERSION)
            session.writestr("metadata", metadata(1_000_000 // period_us))
            for number, spool in enumerate((volts, amps), start=1):
                size = spool.tell()
                spool.seek(0)
                with session.open(f"analog-1-{number}-1", "w", force_zip64=size > zipfile.ZIP64_LIMIT) as entry:
                    shutil.copyfileobj(spool, entry)
    return written


def session_period_us(periods_us):
    """The session's sample period: the fastest step's, if every step's is a whole multiple of it and it
    makes a whole number of samples per second (sigrok's sample rate is a whole number of hertz)."""
    period = periods_us[0]
    if 1_000_000 % period or any(p % period for p in periods_us):
        rates = ", ".join(f"{1e6 / p:g}" for p in periods_us)
        raise SigrokError(f"the run's steps sampled at {rates} samples/s: a sigrok session needs one whole "
                          f"number of samples per second that each step's period is a multiple of; "
                          f"`pbgrade export RUN --samples FILE.csv` has every sample with its time")
    return period


def metadata(rate_hz):
    """The session's INI: one device of analog channels only, as libsigrok writes one."""
    channels = "".join(f"analog{n}={name}\n" for n, name in enumerate(CHANNELS, start=1))
    return (f"[global]\nsigrok version={LIBSIGROK}\n\n"
            f"[device 1]\nsamplerate={rate_hz} Hz\ntotal analog={len(CHANNELS)}\n{channels}")
