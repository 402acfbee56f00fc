"""The INA driver a rig file names. Only that driver is imported: every module
costs RAM on a Pico."""

CHIPS = {"INA226": "ina226", "INA219": "ina219", "INA228": "ina228", "INA260": "ina260", "INA3221": "ina3221"}


def make(i2c, cfg):
    """cfg: the rig's [sensor] table (chip, address, shunt_ohms, max_current_a,
    averages, conversion_us and, for the INA3221, channel and, where several
    test channels share the chip, chip_channels)."""
    chip = cfg["chip"]
    if chip not in CHIPS:
        raise ValueError("sensor chip %r is not supported: use one of %s" % (chip, ", ".join(CHIPS)))
    driver = getattr(__import__(CHIPS[chip]), chip)
    args = (i2c, cfg["address"], cfg["shunt_ohms"], cfg["max_current_a"], cfg["averages"], cfg["conversion_us"])
    if "channel" in cfg:  # an INA3221; chip_channels: all that the rig's test channels use
        return driver(*args, channel=cfg["channel"], enabled=cfg.get("chip_channels"))
    return driver(*args)
