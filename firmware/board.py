"""What a board offers the station code (station.py, load.py): the one
interface firmware/board_machine.py (a Pico or an ESP32) and
rigs/sim/simboard.py (the simulator) both implement, so the firmware runs
unchanged on either.

Written down here once; nothing imports it at run time (it would cost the
firmware's heap, and MicroPython has no abstract classes):
tests/test_board.py checks that both boards offer every name below, with
the same signatures.

Each module's boards() makes one board per channel of the rig; the boards
of a rig share the I2C bus, the clock and the wait for input. Files (the
calibration) are opened with open() by their name, board.flash + file name.
"""


class Board:
    """One channel's board. Besides the methods below, it has these attributes:"""

    ATTRIBUTES = (
        "name",  # the board's name, "<name>/chK" on channel K of several: IDENTITY tells the host
        "board_id",  # this board's own serial, the same on all its channels (IDENTITY, protocol 5): which board measured
        "flash",  # this channel's prefix to its file names: "" on channel 1, "chK-" on channel K
        "i2c",  # the sensors' bus: machine.I2C's scan, readfrom_mem_into, readfrom_mem, writeto_mem
        "serial_out",  # the stream to this channel's host: write(buf, n) (wire.Link writes frames to it)
        "has_short",  # the rig has a short-circuit switch across the output (short())
        "has_charger",  # the rig has a charging path: a relay switching a USB source to the unit's input (charger())
        "ticks_us",  # time.ticks_us, ticks_diff and ticks_add of the board's clock: ticks wrap at 2**30
        "ticks_diff",
        "ticks_add",
    )

    def kbd_intr(self, ch):
        """micropython.kbd_intr: the console byte that raises KeyboardInterrupt, -1 for none."""
        raise NotImplementedError

    def input_ready(self):
        """A byte from this channel's host is waiting."""
        raise NotImplementedError

    def read_byte(self):
        """The next byte from this channel's host (waits for it)."""
        raise NotImplementedError

    def any_input(self):
        """Input from the host of any channel is waiting."""
        raise NotImplementedError

    def idle(self, ms):
        """Wait up to ms for input from the host of any channel."""
        raise NotImplementedError

    def sleep_us(self, us):
        """time.sleep_us on the board's clock."""
        raise NotImplementedError

    def load_drive(self, duty_u16):
        """The MOSFET sink's drive ([load] kind "cc" or "dac"), 0..65535 of full scale."""
        raise NotImplementedError

    def load_relays(self, mask):
        """The resistor bank's relays ([load] kind "relays"): relay k closed while bit k of mask is set."""
        raise NotImplementedError

    def load_enable(self, on):
        """The external load's series switch ([load] kind "scpi"): connected (True) or cut off."""
        raise NotImplementedError

    def short(self, on):
        """The short-circuit switch closed (True) or open; nothing without one (has_short)."""
        raise NotImplementedError

    def alert_irq(self, handler):
        """Call handler(pin) when the sensor's ALERT pin ([sensor] alert_pin: open drain, active low)
        falls, as an interrupt (hard where the port has it: handler must not allocate); None: no
        longer. False if the rig wires no ALERT pin."""
        raise NotImplementedError

    def scale_pins(self):
        """(pd_sck, dout) of the rig's scale ([scale]: an HX711 on a load cell, firmware/hx711.py), each with
        value(v) / value(); None if the rig has no scale."""
        raise NotImplementedError

    def charger(self, on):
        """The charger's relay closed (True: the source feeds the unit's input) or open; nothing without one."""
        raise NotImplementedError

    def temperature_code(self, sensor, celsius):
        """The reading temperature_raw(sensor) gives at celsius: codes rise with temperature."""
        raise NotImplementedError

    def temperature_raw(self, sensor):
        """A temperature sensor's reading: 0 the load's heatsink, 1 the unit's case."""
        raise NotImplementedError

    def temperature_c(self, sensor):
        """temperature_raw(sensor) in degC, or None if the rig has no such sensor or its reading is outside
        what an NTC reads, -55 to 150 degC (open or shorted): what the device reports at HELLO (the
        conversion is here, never in the sampling loop)."""
        raise NotImplementedError
