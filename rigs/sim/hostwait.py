"""The simulated device waiting for its host: once a simulated second the
board asks its relay (pbgrade.simrig) whether the host has taken all the
channel sent, and waits while more than HOST_LAG_ASKS asks are unanswered, so
virtual time runs on no more than a few seconds ahead of a host that reads,
as a board's real time runs on no more than the host's latency. A host that
did not take it all within the relay's HOST_READS_WITHIN_S is not waited on
until it reads again (its output is then held back by the pipe, and the
device paced by the host-away flag).
"""
import select

HOST_LAG_ASKS = 2  # asks left unanswered before the device waits: it runs on this many simulated seconds
# ahead of its host at most, and seldom waits on a host process busy decoding (its relay answers late)
TAKEN_WAIT_MS = 1000  # the relay answers within its HOST_READS_WITHIN_S (0.2 s) even when the host is away
_TAKEN = 0x21  # "!": the host took all; "-": it did not within the relay's HOST_READS_WITHIN_S


class HostWait:
    def __init__(self, asks_fd, answers_fd):
        self._asks, self._answers = open(asks_fd, "wb"), open(answers_fd, "rb")
        self._answered = select.poll()
        self._answered.register(self._answers, select.POLLIN)
        self._answer = bytearray(1)
        self._unanswered = 0
        self._host_reads = True  # its host took all the channel sent in time, when last asked

    def wait(self):
        """Ask, and wait if too many asks are unanswered by a host that reads."""
        if self._asks is None:
            return
        try:
            if self._host_reads or not self._unanswered:  # a host that stopped reading is asked once at a time
                self._asks.write(b"?")
                self._unanswered += 1
            wait = self._host_reads and self._unanswered > HOST_LAG_ASKS
            while self._answered.poll(TAKEN_WAIT_MS if wait else 0):
                if not self._answers.readinto(self._answer):  # a byte at a time: readinto waits to fill
                    raise OSError  # the relay is gone: the simulation is ending
                self._unanswered = max(0, self._unanswered - 1)
                self._host_reads = self._answer[0] == _TAKEN
                wait = self._host_reads and self._unanswered > HOST_LAG_ASKS
            if wait:
                self._unanswered = 0  # the relay is stuck: go on, as before asks
        except OSError:
            self._asks = None
