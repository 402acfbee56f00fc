"""The simulated rig in a process of its own, which outlives the host that
started it for a bounded time, as a board outlives its host.

`pbgrade run` without --port used to run the simulated rig inside itself: a
host killed mid-test (SIGKILL, SIGTERM) took its rig with it, so the run it
left could never be resumed. Here the rig (simrig.SimRig: the firmware in
micropython and the relays to its ports) lives in a keeper process, started
in a session of its own (the operator's Ctrl-C is the host's). The host holds
the keeper's stdin: it writes STOP when it is done with the rig; the stdin's
end without STOP means the host died. The rig then goes on, as a board goes
on without its host, until no host has taken a byte from it for orphan_s
(a resume talks to it all the time), and the keeper ends it.

    with KeptSim(rig, dut, flash_dir, speed, link) as sim:
        sim.ports, sim.rig, sim.station_running(), sim.log_tail()
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .simrig import SimError, SimRig, log_tail, micropython_exe

STOP = "stop"
ORPHAN_S = 600.0  # a rig whose host died waits this long with nobody reading: time to `pbgrade resume`
START_TIMEOUT_S = 60.0  # the rig's start (micropython loading the firmware) on a busy machine
END_TIMEOUT_S = 15.0  # the keeper's own end once stopped: the firmware's truth, micropython ended


class KeptSim:
    """The simulated rig's ports and rig as SimRig gives them, its rig in the keeper process."""

    def __init__(self, rig, dut, flash_dir, speed=0, link=None, orphan_s=ORPHAN_S):
        self._spec = {"rig": rig, "dut": dut, "flash_dir": str(flash_dir), "speed": speed, "link": link,
                      "orphan_s": orphan_s}
        self._proc = None
        self.ports = self.port = self.rig = self.pid = None
        self._log = None

    def __enter__(self):
        micropython_exe()  # none for this platform: one line here, before a keeper starts to find it out
        Path(self._spec["flash_dir"]).mkdir(parents=True, exist_ok=True)
        keeper_log = Path(self._spec["flash_dir"]) / "keeper.log"
        with open(keeper_log, "w") as errors:  # not the host's stderr: a keeper outliving its host must not
            # hold the host's pipes open (whoever waits on a killed host's output would wait for the keeper)
            self._proc = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=errors, text=True, start_new_session=True)
        self.pid = self._proc.pid
        self._proc.stdin.write(json.dumps(self._spec) + "\n")
        self._proc.stdin.flush()
        answer = []  # a thread reads it: select() cannot wait on a pipe on Windows
        reader = threading.Thread(target=lambda: answer.append(self._proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(START_TIMEOUT_S)
        started = json.loads(answer[0] or "{}") if answer else {}
        if "ports" not in started:
            self.__exit__()
            raise SimError(started.get("error") or (f"the simulated rig's process failed: {_last_line(keeper_log)}" if answer
                                                    else f"the simulated rig did not start within {START_TIMEOUT_S:g} s"))
        self.ports, self.rig, self._log = started["ports"], started["rig"], started["log"]
        self.port = self.ports[0]
        return self

    def alive(self):
        return self._proc.poll() is None

    def station_running(self):
        return self.alive() and '{"truth"' not in self.log_tail(1)

    def log_tail(self, lines=5):
        try:
            with open(self._log) as log:
                return log_tail(log, lines)
        except OSError:  # the keeper ended and removed its work folder
            return "the simulated rig's process ended"

    def __exit__(self, *exc):
        try:
            self._proc.stdin.write(STOP + "\n")
            self._proc.stdin.close()
        except OSError:
            pass  # it ended already
        try:
            self._proc.wait(timeout=END_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        return False


def _last_line(path):
    with open(path) as log:
        return log_tail(log, 1)


def keep(spec):
    """The keeper's work: start the rig, say its ports, keep it until the host says STOP, or, once the host
    is gone, until nobody has read from it for spec["orphan_s"] or it stopped."""
    with tempfile.TemporaryDirectory(prefix="pbgrade-sim-") as work, \
            SimRig(spec["rig"], spec["dut"], work, spec["flash_dir"], spec["speed"], spec["link"]) as sim:
        print(json.dumps({"ports": sim.ports, "rig": sim.rig, "log": os.path.join(work, "sim.log")}), flush=True)
        stopped, host_ended = [], threading.Event()

        def listen():
            for line in sys.stdin:
                if line.strip() == STOP:
                    stopped.append(line)
                    break
            host_ended.set()  # STOP, or the host died
        threading.Thread(target=listen, daemon=True).start()
        while sim.alive() and not host_ended.wait(0.5):
            pass
        if stopped:
            return
        while sim.alive() and sim.unread_for_s() < spec["orphan_s"]:
            time.sleep(0.5)


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # the rig ends as on STOP
    try:
        spec = json.loads(sys.stdin.readline())
        keep(spec)
    except SimError as e:
        print(json.dumps({"error": str(e)}), flush=True)


if __name__ == "__main__":
    main()
