"""Board layer for MicroPython ports with machine.I2C and machine.PWM
(Raspberry Pi Pico / RP2040, ESP32): firmware/board.py's interface, which
rigs/sim/simboard.py implements for the simulator.

The rig's [load] kind says what the load is (firmware/load.py controls it):
a MOSFET constant-current sink whose setpoint is a PWM duty RC-filtered to a
voltage ("cc", pins.load_pwm) or a DAC output ("dac", pins.load_dac: the
ESP32's 8-bit DAC on GPIO25/26), full drive = load["max_current_a"]; a
resistor bank, one relay per resistor ("relays", pins.load_relays, bit k of
the mask = resistor k); or an external load the host sets over SCPI, which
the device switches in and out by a relay or MOSFET in series ("scpi",
pins.load_enable, high = connected). A rig
may have a second MOSFET across the output, after the shunt, for the
short-circuit test (load["short_pin"], high = shorted), and the sensor's ALERT
output on a pin ([sensor] alert_pin, open drain, pulled up here) whose falling
edge interrupts: the station times a protection's trip by it. A scale
([scale]: a load cell on an HX711, firmware/hx711.py) takes two pins,
PD_SCK (sck_pin, out) and DOUT (dout_pin, in).

A rig with several channels has one Board per channel (boards()): they share
the I2C bus (each channel's sensor at its own address) and the clock; channel
1 talks to its host over MicroPython's own USB-CDC interface, channel k over
the (k-1)th extra one (micropython-lib's usb-device-cdc, installed with
`mpremote mip install usb-device-cdc`), so each channel is a serial port of
its own on the host. Those extra interfaces are written in Python: unlike the
built-in one, they allocate a few small objects per frame written.

Temperatures (pins.ntc_load: the load's heatsink, pins.ntc_dut: the unit's
case) come from 10 kOhm B3950 NTCs to ground under 10 kOhm to 3V3, on ADC
pins; the station compares raw readings with thresholds worked out once. An
ESP32's ADC reads only up to about 1 V unless set to 11 dB attenuation, and
its raw codes are not linear: there the reading is read_uv() (calibrated by
the chip's eFuse), in microvolts of a 3.3 V full scale (a small int, so no
allocation per sample); an RP2040 reads read_u16() of its 3.3 V reference.
"""
import math
import select
import sys
import time
from binascii import hexlify

import machine
import micropython
from machine import ADC, I2C, PWM, Pin

_NTC_R0 = 10_000  # ohms at 25 C
_NTC_BETA = 3950
_NTC_FIXED = 10_000  # the divider's resistor to 3V3
_ESP32 = sys.platform == "esp32"  # ESP32 and ESP32-S3 alike
_NTC_FULL = 3_300_000 if _ESP32 else 65535  # a raw reading of the divider at 3V3: microvolts, or read_u16 codes


_CDC_TX_TIMEOUT_MS = 500  # as the built-in USB-CDC: a host that stops reading loses output, the board goes on


def boards(rigs):
    """One Board per channel of the rig (rigs: each channel's rig table)."""
    first = Board(rigs[0], len(rigs))
    serials = _extra_usb_serials(len(rigs) - 1)
    return [first] + [Board(rig, len(rigs), k, first, serials[k - 2]) for k, rig in enumerate(rigs[1:], 2)]


def _extra_usb_serials(n):
    """n more USB-CDC interfaces beside the built-in one: (input, output) each."""
    if not n:
        return []
    import usb.device  # micropython-lib usb-device-cdc: only a rig with several channels needs it
    from usb.device.cdc import CDCInterface

    cdcs = [CDCInterface(timeout=_CDC_TX_TIMEOUT_MS, txbuf=1024, rxbuf=256) for _ in range(n)]
    usb.device.get().init(*cdcs, builtin_driver=True)
    return [(cdc, _Writer(cdc)) for cdc in cdcs]


class _Writer:
    """write(buf, n), as the built-in console's stream has it, on a CDCInterface."""

    def __init__(self, cdc):
        self._cdc = cdc

    def write(self, buf, n):
        return self._cdc.write(buf if n == len(buf) else memoryview(buf)[:n])


class Board:
    def __init__(self, rig, channels=1, number=1, first=None, serial=None):
        pins = rig["pins"]
        name = rig["rig"]["board"]
        self.name = name if channels == 1 else "%s/ch%d" % (name, number)  # IDENTITY tells the host its channel
        self.board_id = hexlify(machine.unique_id()).decode()  # RP2040: the flash chip's 64-bit ID; ESP32: the MAC
        self.flash = "" if number == 1 else "ch%d-" % number  # each channel's calibration file apart
        kind = rig["load"]["kind"]
        self._pwm = None
        if kind == "cc":
            self._pwm = PWM(Pin(pins["load_pwm"]), freq=pins.get("load_pwm_hz", 20_000), duty_u16=0)
        self._dac = None
        if kind == "dac":
            self._dac = getattr(machine, "DAC")(Pin(pins["load_dac"]))  # ESP32 only: rp2 has no DAC
            self._dac.write(0)
        self._relays = [Pin(p, Pin.OUT, value=0) for p in pins.get("load_relays", ())]
        self._enable = Pin(pins["load_enable"], Pin.OUT, value=0) if kind == "scpi" else None
        self._ntc = [_ntc_adc(pins[name]) if name in pins else None for name in ("ntc_load", "ntc_dut")]
        self.has_short = "short_pin" in rig["load"]
        self._short = Pin(rig["load"]["short_pin"], Pin.OUT, value=0) if self.has_short else None
        alert = rig["sensor"].get("alert_pin")
        self._alert = None if alert is None else Pin(alert, Pin.IN, Pin.PULL_UP)  # open drain: pulled up
        self.has_charger = "charger" in rig
        self._charger = Pin(rig["charger"]["relay_pin"], Pin.OUT, value=0) if self.has_charger else None
        scale = rig.get("scale")
        self._scale = None if scale is None else (Pin(scale["sck_pin"], Pin.OUT, value=0),
                                                  Pin(scale["dout_pin"], Pin.IN))
        self.ticks_us = time.ticks_us
        self.ticks_diff = time.ticks_diff
        self.ticks_add = time.ticks_add
        self._in, self.serial_out = serial or (sys.stdin.buffer, sys.stdout.buffer)
        self._one = bytearray(1)
        self._poll = select.poll()  # this channel's input
        self._poll.register(serial[0] if serial else sys.stdin, select.POLLIN)
        if first is None:
            self.i2c = I2C(pins["i2c_id"], sda=Pin(pins["sda"]), scl=Pin(pins["scl"]), freq=400_000)
            self._any = select.poll()  # every channel's input: idle() waits on it
        else:
            self.i2c = first.i2c
            self._any = first._any
        self._any.register(serial[0] if serial else sys.stdin, select.POLLIN)

    def kbd_intr(self, ch):
        micropython.kbd_intr(ch)

    def input_ready(self):
        for _ in self._poll.ipoll(0):
            return True
        return False

    def read_byte(self):
        self._in.readinto(self._one)
        return self._one[0]

    def sleep_us(self, us):
        time.sleep_us(us)

    def any_input(self):
        for _ in self._any.ipoll(0):
            return True
        return False

    def idle(self, ms):
        for _ in self._any.ipoll(ms):
            return

    def load_drive(self, duty_u16):
        if self._pwm is not None:
            self._pwm.duty_u16(duty_u16)
        else:
            self._dac.write(duty_u16 >> 8)

    def load_relays(self, mask):
        relays = self._relays
        for k in range(len(relays)):
            relays[k].value(mask >> k & 1)

    def load_enable(self, on):
        self._enable.value(1 if on else 0)

    def temperature_code(self, sensor, celsius):
        r = _NTC_R0 * math.exp(_NTC_BETA * (1 / (celsius + 273.15) - 1 / 298.15))
        return _NTC_FULL - int(_NTC_FULL * r / (r + _NTC_FIXED))

    def temperature_raw(self, sensor):
        adc = self._ntc[sensor]
        return _NTC_FULL - (adc.read_uv() if _ESP32 else adc.read_u16())

    def temperature_c(self, sensor):
        adc = self._ntc[sensor]
        if adc is None:
            return None
        reading = adc.read_uv() if _ESP32 else adc.read_u16()  # the NTC's share of the divider
        if not 0 < reading < _NTC_FULL:
            return None
        r = _NTC_FIXED * reading / (_NTC_FULL - reading)
        celsius = 1 / (1 / 298.15 + math.log(r / _NTC_R0) / _NTC_BETA) - 273.15
        return celsius if -55 <= celsius <= 150 else None

    def alert_irq(self, handler):
        if self._alert is None:
            return False
        if handler is None:
            self._alert.irq(handler=None)
        else:  # hard on the rp2: run at the edge itself; the ESP32 port has only soft ones (micropython
            # issue 14330), run when the VM next looks: the trip time is then as late as that
            self._alert.irq(handler=handler, trigger=Pin.IRQ_FALLING, hard=not _ESP32)
        return True

    def short(self, on):
        if self._short is not None:
            self._short.value(1 if on else 0)


    def charger(self, on):
        if self._charger is not None:
            self._charger.value(1 if on else 0)

    def scale_pins(self):
        return self._scale


def _ntc_adc(pin):
    if _ESP32:  # the whole 0-3.3 V divider range needs 11 dB (ESP32: about 0.15-2.45 V linear, S3 up to ~3.1 V)
        return ADC(Pin(pin), atten=getattr(ADC, "ATTN_11DB"))
    return ADC(Pin(pin))
