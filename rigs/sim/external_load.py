"""The simulated rig's external electronic load, for rigs whose [load] kind
is "scpi": it draws what the host sets over SCPI, and only while the
device's series switch (pins.load_enable) connects it, as a lab load wired
through the rig's relay does.

It listens on TCP like a LAN load on its raw SCPI port (pyvisa resource
TCPIP::127.0.0.1::PORT::SOCKET) and speaks the short forms host/pbgrade/
scpi_load.py sends. A lab load regulates to ~0.05 %: it has no gain error
here. Runs inside the simulator, under MicroPython.
"""
import select
import socket

IDN = "pbgrade,SIM-ELOAD,0,1.0"
MAX_A = 30.0
_NO_ERROR = '0,"No error"'
_BAD_VALUE = '-222,"Data out of range"'
_BAD_HEADER = '-113,"Undefined header"'
_RANGES = {"CURR": (0.0, MAX_A), "POW": (0.0, 300.0), "RES": (0.05, 10_000.0)}


class ExternalLoad:
    """Constant current, power or resistance, drawn while the input is on and the rig's switch closed."""

    rise_c = 0.0  # its own fan keeps it cool: the rig's heatsink sensor sees nothing of it

    def __init__(self):
        self.function = "CURR"
        self.values = {"CURR": 0.0, "POW": 0.0, "RES": 1000.0}
        self.input_on = False
        self.enabled = False  # the device's series switch

    def set(self, command):
        """(header, argument) of one accepted SCPI setting, or ("ENABLE", bool) from the rig's switch."""
        header, arg = command
        if header == "ENABLE":
            self.enabled = arg
        elif header == "FUNC":
            self.function = arg
        elif header == "INP":
            self.input_on = arg == "ON"
        else:
            self.values[header] = float(arg)

    def drawing(self):
        return self.enabled and self.input_on

    def heat(self, watts, seconds):
        pass

    def current(self, bank):
        if not self.drawing():
            return 0.0
        if self.function == "CURR":
            i = self.values["CURR"]
            return i if bank.voltage(i) > 0.5 else 0.0  # below its minimum operating voltage it draws nothing
        i = 0.0
        for _ in range(6):  # the output's own resistance, by iteration as for a resistor
            v = bank.voltage(i)
            i = v / self.values["RES"] if self.function == "RES" else (self.values["POW"] / v if v > 0.5 else 0.0)
        return min(i, MAX_A)


class ScpiServer:
    """One client at a time (a new connection replaces the last: a host that
    died leaves none behind); poll() answers what arrived, without blocking.

    change(setting) applies an accepted setting to the load: the world
    advances its clock to now first, so the truth stays exact."""

    def __init__(self, port, load, measure, change):
        self.load, self.measure, self.change = load, measure, change
        self._listen = socket.socket()
        self._listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listen.bind(socket.getaddrinfo("127.0.0.1", port)[0][-1])
        self._listen.listen(1)
        self._listen.setblocking(False)
        self._poll = select.poll()
        self._poll.register(self._listen, select.POLLIN)
        self._client = None
        self._line = b""
        self._errors = []

    def poll(self):
        for obj, _ in self._poll.poll(0):
            if obj is self._listen or obj == self._listen.fileno():  # MicroPython gives the object, CPython the fd
                self._accept()
            else:
                self._receive()

    def _accept(self):
        client, _ = self._listen.accept()
        if self._client is not None:
            self._drop()
        client.setblocking(False)
        self._client = client
        self._poll.register(client, select.POLLIN)

    def _receive(self):
        try:
            data = self._client.recv(256)
        except OSError:
            data = b""
        if not data:
            self._drop()
            return
        self._line += data
        while b"\n" in self._line:
            line, self._line = self._line.split(b"\n", 1)
            answer = self.execute(line.decode().strip())
            if answer is not None:
                self._client.send((answer + "\n").encode())

    def _drop(self):
        self._poll.unregister(self._client)
        self._client.close()
        self._client, self._line = None, b""

    def execute(self, line):
        """One SCPI command; the answer to a query, else None."""
        words = line.split()
        header = words[0].upper() if words else ""
        if header == "*IDN?":
            return IDN
        if header == "SYST:ERR?":
            return self._errors.pop(0) if self._errors else _NO_ERROR
        if header == "MEAS:VOLT?":
            return "%.4f" % self.measure()[0]
        if header == "MEAS:CURR?":
            return "%.4f" % self.measure()[1]
        if header == "INP?":
            return "ON" if self.load.input_on else "OFF"
        if len(words) != 2:
            self._errors.append(_BAD_HEADER)
            return None
        arg = words[1].upper()
        if header == "FUNC" and arg in _RANGES or header == "INP" and arg in ("ON", "OFF"):
            self.change((header, arg))
        elif header in _RANGES:
            try:
                value = float(arg)
            except ValueError:
                value = -1.0
            low, high = _RANGES[header]
            if low <= value <= high:
                self.change((header, value))
            else:
                self._errors.append(_BAD_VALUE)
        else:
            self._errors.append(_BAD_HEADER)
        return None
