"""Each driver's current_code_max (IDENTITY, protocol 5: where a reading may have been clipped) is where the
register-accurate simulated chip's current code stops, driven far past the range: the current register's end,
or the shunt range's when that comes first (the INA219's PGA, the INA226 at a CAL under 2048, the INA3221's 13
bits; the INA228's register always ends first, its Current_LSB being the range over 2**19)."""
import pytest

from ina219 import INA219
from ina219_sim import SimINA219
from ina226 import INA226
from ina226_sim import SimINA226
from ina228 import INA228
from ina228_sim import SimINA228
from ina260 import INA260
from ina260_sim import SimINA260
from ina3221 import INA3221
from ina3221_sim import SimINA3221
from inafakes import Fixed, rigger, settle


@pytest.mark.parametrize("sim, driver, shunt_ohms, max_current_a, code_max", [
    # INA219: current = shunt x CAL / 4096 (equation 4), the shunt ending at 4000 x the PGA's divider
    (SimINA219, INA219, 0.1, 3.2, 32000),  # PGA /8, CAL 4096: 320 mV = 3.2 A at 100 uA
    (SimINA219, INA219, 0.1, 1.0, 32000),  # PGA /4, CAL 8192: 160 mV = 1.6 A at 50 uA (the register: 1.64 A)
    (SimINA219, INA219, 0.1, 0.35, 20000),  # PGA /1, CAL 20480: 40 mV = 0.4 A at 20 uA (the register: 0.66 A)
    (SimINA219, INA219, 0.1, 0.3, 32767),  # PGA /1, CAL 40960: the register ends first, 0.328 A at 10 uA
    # INA226: current = shunt x CAL / 2048 (equation 3), the shunt ending at 7FFFh, 81.92 mV
    (SimINA226, INA226, 0.01, 3.2, 32767),  # CAL 5120: the register ends first, 3.28 A at 100 uA
    (SimINA226, INA226, 0.1, 0.8, 16383),  # CAL 1024: the shunt's 81.92 mV = 0.819 A at 50 uA
    # INA228: Current_LSB = max / 2**19 (rounded up by SHUNT_CAL), so the 20-bit register ends first
    (SimINA228, INA228, 0.01, 3.2, 524287),  # ADCRANGE 1 (40.96 mV = 4.1 A)
    (SimINA228, INA228, 0.05, 3.2, 524287),  # ADCRANGE 0 (163.84 mV = 3.3 A)
    (SimINA260, INA260, 0.002, 15.0, 32767),  # +-40.96 A at 1.25 mA
    (SimINA3221, INA3221, 0.1, 1.5, 4095),  # the shunt's 13 bits: 163.8 mV over 0.1 ohm
], ids=["ina219-pga8", "ina219-pga4", "ina219-pga1", "ina219-register", "ina226-register", "ina226-shunt",
        "ina228-adcrange1", "ina228-adcrange0", "ina260", "ina3221"])
def test_the_code_where_the_chip_clips(sim, driver, shunt_ohms, max_current_a, code_max):
    source = Fixed(5.0, 0.0)
    clock, bus, ina = rigger(sim, driver)(source, shunt_ohms=shunt_ohms, max_current_a=max_current_a)
    source.amps = 100 * max_current_a
    settle(clock, ina)
    settle(clock, ina)
    assert ina.current_raw() == ina.current_code_max == code_max
    source.amps = 0.5 * ina.current_code_max * ina.current_lsb_a  # inside the range: read as it is
    settle(clock, ina)
    settle(clock, ina)
    assert abs(ina.current_raw() - ina.current_code_max / 2) < 0.01 * ina.current_code_max
