"""The build docs: every real rig file shipped has its page, linked from the
README, with a wiring diagram that is well-formed SVG, and the page names
the pins, sensor and addresses the rig file says, so a rig file changed
without its page is caught."""
import re
import xml.etree.ElementTree as ET

import pytest

from conftest import ROOT
from pbgrade.rig import channels, load_rig

BUILD = ROOT / "docs" / "build"
REAL_RIGS = sorted(p.stem for p in (ROOT / "rigs").glob("*.toml") if load_rig(p.stem)["rig"]["board"] != "sim")
PIN_NAMES = {"rp2": "GP{}", "esp32": "GPIO{}"}  # how each board's pinout names a GPIO


def test_the_shipped_real_rigs_are_the_three_built():
    assert REAL_RIGS == ["esp32s3-ina228", "pico-3ch", "pico-ina226"]


@pytest.mark.parametrize("name", REAL_RIGS)
def test_each_real_rig_has_a_page_with_its_diagram_linked_from_the_readme(name):
    page = (BUILD / f"{name}.md").read_text()
    assert f"({name}.svg)" in page and f"rigs/{name}.toml" in page
    svg = ET.parse(BUILD / f"{name}.svg").getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg" and svg.get("viewBox")
    assert f"({name}.md)" in (BUILD / "README.md").read_text()
    assert f"docs/build/{name}.md" in (ROOT / "README.md").read_text()
    for heading in ("Bill of materials", "Power and heat", "Safety", "Calibration", "Bring-up checklist"):
        assert f"## {heading}" in page


@pytest.mark.parametrize("name", REAL_RIGS)
def test_the_page_names_the_rigs_pins_sensor_and_addresses(name):
    page = (BUILD / f"{name}.md").read_text()
    for channel in channels(load_rig(name)):
        pins = {v for k, v in channel["pins"].items() if k not in ("i2c_id", "load_pwm_hz")}
        pins |= {channel["load"]["short_pin"]} if "short_pin" in channel["load"] else set()
        pin = PIN_NAMES[channel["rig"]["board"]]
        for number in pins:
            assert re.search(rf"\b{pin.format(number)}\b", page), (name, number)
        assert channel["sensor"]["chip"] in page and f"{channel['sensor']['address']:#04x}" in page
