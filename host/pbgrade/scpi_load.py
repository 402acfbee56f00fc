"""An external programmable electronic load, driven by the host over SCPI
(pyvisa): the load of a rig whose [load] kind = "scpi", for labs that have
one. The rig's own sensor still measures; the device cannot switch this load
off, so whoever starts it switches it off when the run ends, however it ends
(`with ScpiLoad(...)` does).

Commands are the SCPI short forms programmable loads share (Rigol DL3000,
Siglent SDL1000, B&K 8600, Keysight EL30000): FUNC CURR|POW|RES, CURR/POW/RES
<value>, INP ON|OFF, MEAS:VOLT?, MEAS:CURR?. Every setting is followed by
SYST:ERR?, so a setting the load refuses stops the test instead of running
it at the wrong load.
"""

MODES = {"CC": "CURR", "CP": "POW", "CR": "RES"}  # amperes, watts, ohms


class ScpiLoadError(RuntimeError):
    pass


class ScpiLoad:
    def __init__(self, resource, max_current_a, backend="", switch_off=True):
        """backend: pyvisa's ("" the installed VISA library, "FILE@sim" pyvisa-sim); switch_off: its input
        off once opened (False: as it was left, for a resumed step the device still runs through it)."""
        import pyvisa  # only rigs with an external load need it

        self.identity, why = "", "an empty answer"
        try:
            self.inst = pyvisa.ResourceManager(backend).open_resource(
                resource, read_termination="\n", write_termination="\n", timeout=2000)
            self.identity = self.inst.query("*IDN?").strip()
        except (pyvisa.Error, OSError, ValueError) as e:
            why = str(e)
        if not self.identity:
            raise ScpiLoadError(f"external load {resource} did not answer *IDN? ({why}): check the resource "
                                f"string, the cable and that the load is on")
        self.max_current_a = max_current_a
        if switch_off:
            self.off()

    def _send(self, command):
        self.inst.write(command)
        error = self.inst.query("SYST:ERR?").strip()
        if not error.lstrip("+").startswith("0"):
            raise ScpiLoadError(f"external load {self.identity} refused {command!r}: {error}")

    def set_target(self, mode, value):
        """CC amperes, CP watts or CR ohms; a current over the rig's limit is refused before it is sent."""
        if mode not in MODES:
            raise ValueError(f"load mode {mode!r}: use one of {', '.join(MODES)}")
        if mode == "CC" and value > self.max_current_a:
            raise ScpiLoadError(f"external load: {value:g} A is over the rig's {self.max_current_a:g} A")
        self._send(f"FUNC {MODES[mode]}")
        self._send(f"{MODES[mode]} {value:.4f}")

    def on(self):
        self._send("INP ON")

    def off(self):
        self._send("INP OFF")

    def measured(self):
        """The load's own meter, volts and amperes: a cross-check of the rig's sensor."""
        return float(self.inst.query("MEAS:VOLT?")), float(self.inst.query("MEAS:CURR?"))

    def close(self):
        try:
            self.off()
        finally:
            self.inst.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
