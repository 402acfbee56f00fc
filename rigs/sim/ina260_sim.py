"""Register-level model of a TI INA260 (datasheet SBOS656C) for the simulated I2C bus.

`source.sense(now_us)` returns (bus_volts, current_amps): the voltage at VBUS
and the current through the integrated shunt, positive from IN+ to IN-.

The INA260 is an INA226 whose shunt (2 mOhm) is inside the package and whose
current scaling is fixed at the factory: 1.25 mA per count is exactly one
2.5 uV shunt-ADC count across 2 mOhm. So this model is SimINA226 (conversion
timing from CONFIG, modes, Mask/Enable, RST, noise, seeded errors) with the
INA260's register map (8.6):

- power-on/RST CONFIG 6127h (reserved bits 14..12 = 110), Die ID 2270h;
- Current register at 01h: the current code, 1.25 mA per count, clipped to
  -32768..32767 (the ADC saturates at 40.96 A; the chip is rated 15 A);
- Power = |Current| * Bus / 6400, truncated (10 mW per count = 6400 *
  1.25 mA * 1.25 mV), unsigned, OVF when it passes 0xFFFF;
- no Current register at 04h and no Calibration register at 05h: they read 0
  and ignore writes.

Errors (7.5 Electrical Characteristics, typical column): current sense offset
+-1.25 mA = 1 count, system current sense gain error 0.02 % (it includes the
integrated shunt), bus offset +-1.25 mV = 1 count, bus gain error 0.02 %.
These are the INA226's typical shunt and bus figures in counts, which
SimINA226 draws per seed, so the INA226 model's draws apply unchanged.

Alert: SimINA226's, where Mask/Enable bits 15 and 14 are OCL and UCL (8.6.5):
they compare the Current register, at 01h where the INA226 has its shunt
voltage, so the same code serves both.

Simplifications: those of SimINA226.
"""
import micropython

from ina_sim import clip, counts
from ina226_sim import SimINA226

_CALIBRATION = 0x05


class SimINA260(SimINA226):
    RESET = (0x6127, 0, 0, 0, 0, 0, 0, 0)
    IDS = {0xFE: 0x5449, 0xFF: 0x2270}
    _CURRENT = 1
    _POWER_DIV = 6400

    @micropython.native
    def __init__(self, clock, source, address=0x40, shunt_ohms=0.002, seed=1):
        """shunt_ohms: the integrated shunt as the ADC sees it (0.002 nominal)."""
        super().__init__(clock, source, address, shunt_ohms, seed)

    @micropython.native
    def _convert_current(self, amps):
        """Current register (01h): the shunt-ADC code is the current code; it cannot overflow."""
        current = clip(counts(amps, self._shunt_k, self._shunt_offset, self._noise(), self._shunt_sigma),
                       -32768, 32767)
        self._regs[1] = current & 0xFFFF
        return 0

    @micropython.native
    def _register(self, memaddr):
        if memaddr == 4 or memaddr == _CALIBRATION:
            return 0
        return super()._register(memaddr)  # reading Mask/Enable clears CVRF, as on the INA226

    @micropython.native
    def _write_register(self, memaddr, v):
        if memaddr != _CALIBRATION:  # the INA260 has none; the rest is the INA226's
            super()._write_register(memaddr, v)
