"""`pbgrade station --web` in headless Chromium on the simulated rig: serials typed into two tiles' fields
start those channels' units, both tiles run and end with the verdicts the catalogue pins; the panel is on
the loopback unless given a token, and then refuses every request without it."""
import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from conftest import ROOT
from test_station import EXPECTED, LABEL  # the catalogue's eol verdicts: honest-10000 PASS, sagging-output FAIL
from conftest import wait_for
from web_browser import browser  # noqa: F401 (a fixture)
from pbgrade import cli, i18n
from pbgrade.web.server import WebError, listening_socket

UNITS = list(EXPECTED)  # the simulated operator plugs them in this order


class Station:
    """`pbgrade station --web` in a child process, on a free port: its page's address once it serves."""

    def __init__(self, tmp_path, *args):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pbgrade.cli", "station", "--web", "--channels", "2", "--sim-duts",
             ",".join(UNITS), "--label", str(LABEL), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=dict(os.environ, PBGRADE_DATA=str(tmp_path / "data")))
        self.log = []
        for line in self.proc.stderr:
            self.log.append(line)
            found = re.search(r"operator panel on (http://\S+)", line)
            if found:
                self.url = found[1]
                return
        pytest.fail(f"the station never served its panel: {''.join(self.log)}")

    def stop(self):
        """SIGTERM ends the shift: the tally on stdout, the exit code the station's."""
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, out, "".join(self.log) + err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def station(tmp_path, request):
    made = []

    def start(*args):
        made.append(Station(tmp_path, *args))
        return made[-1]
    yield start
    for s in made:
        s.kill()


def tile_text(browser, number, part):
    return browser.find_element("css selector", f"#ch{number} .{part}").text


def test_two_serials_typed_into_the_tiles_run_and_end_with_the_catalogue_verdicts(browser, station, tmp_path):
    panel = station("--bind", "127.0.0.1:0", "--speed", "10")  # ~5 s a unit: time to look at the tiles running
    browser.get(panel.url)
    wait_for(lambda: len(browser.find_elements("css selector", "section.tile.free")) == 2, "two free tiles")
    # every tile the page is shown, kept: the units run in seconds, faster than a look can catch them
    browser.execute_script("const show = window.show; window.seen = [];"
                           "window.show = (t) => { window.seen.push(t); show(t); };")
    browser.save_screenshot(str(tmp_path / "panel-waiting.png"))
    for number, serial in ((1, "WEB-0001"), (2, "WEB-0002")):
        field = browser.find_element("css selector", f"#ch{number} input.scan")
        field.send_keys(serial + "\n")
        # the next unit is plugged in only once this one's channel took its serial: ch1 gets UNITS[0]
        wait_for(lambda: tile_text(browser, number, "serial") == serial, f"ch{number} to take {serial}")
    wait_for(lambda: tile_text(browser, 1, "step").startswith("step 4/4"), "ch1's discharge, on its tile")
    browser.save_screenshot(str(tmp_path / "panel-testing.png"))
    wait_for(lambda: all(tile_text(browser, n, "verdict") for n in (1, 2)), "both verdicts")
    browser.save_screenshot(str(tmp_path / "panel-verdicts.png"))

    seen = browser.execute_script("return window.seen")
    for number, unit in zip((1, 2), UNITS):
        assert tile_text(browser, number, "verdict") == EXPECTED[unit]
        band = browser.find_element("css selector", f"#ch{number} .band")
        assert band.get_attribute("class").split() == ["band", "pass" if EXPECTED[unit] == "PASS" else "fail"]
        assert tile_text(browser, number, "reason")  # the first reason under the word
        tiles = [t for t in seen if t["channel"] == number]
        states = [t["state"] for t in tiles]
        assert {"plug in", "started", "testing", "remove"} <= set(states), states
        readings = [t["readings"] for t in tiles if t["readings"]]
        assert {r["n"] for r in readings} == {1, 2, 3, 4} and {r["steps"] for r in readings} == {4}  # eol: 4 steps
        assert any(r["i"] > 2.0 for r in readings)  # the discharge at the rated 2.1 A was shown live
        assert all(r["v"] is not None and r["test_left"] for r in readings)  # each shown with a reading
    assert browser.find_element("id", "yield").text.endswith("2 units tested, 1 passed, 1 failed")

    code, out, err = panel.stop()
    assert code == 1, err  # a unit failed, as the station says without --web
    assert "2 units tested, 1 passed, 1 failed" in out
    records = [json.loads(p.read_text()) for p in (tmp_path / "data" / "runs").glob("*/record.json")]
    assert sorted((r["label"]["serial"], r["grade"]) for r in records) == [("WEB-0001", "PASS"), ("WEB-0002", "FAIL")]


def test_a_busy_channel_refuses_a_second_serial_and_the_scan_must_be_the_pages_json(station):
    panel = station("--bind", "127.0.0.1:0")

    def post(body, content_type="application/json", origin=None):
        request = urllib.request.Request(panel.url + "scan", data=body.encode(), method="POST",
                                         headers={"Content-Type": content_type, **({"Origin": origin} if origin else {})})
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status, json.load(reply)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    assert post('{"channel": 1, "serial": "X-1"}')[0] == 200
    status, reply = post('{"channel": 1, "serial": "X-2"}')  # X-1 is waiting or in test there
    assert (status, reply["error"]) == (409, "ch1 is not free: wait until it asks for a serial number")
    assert post("channel=2&serial=X-3", "application/x-www-form-urlencoded")[0] == 403  # a form from any site
    assert post('{"channel": 2, "serial": "X-3"}', origin="http://elsewhere.example")[0] == 403
    assert post('{"channel": 9, "serial": "X-3"}')[0] == 400


def get(url, headers=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as reply:
            return reply.status, reply.read(200).decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_with_a_token_every_request_needs_it(station, browser):
    panel = station("--bind", "127.0.0.1:0", "--token", "s3cret-token")
    assert panel.url.endswith("/?token=s3cret-token")
    bare = panel.url.split("?")[0]
    for path in ("", "events", "scan"):
        status, body = get(bare + path)
        assert status == 401 and body.startswith("pbgrade: this page needs its token"), (path, status, body)
    assert get(bare + "?token=wrong")[0] == 401
    assert get(bare, {"Authorization": "Bearer s3cret-token"})[0] == 200
    browser.get(panel.url)  # the page carries its token on to its stream
    wait_for(lambda: len(browser.find_elements("css selector", "section.tile.free")) == 2, "the tiles, with the token")


def test_the_panel_is_on_the_loopback_unless_given_a_token(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PBGRADE_DATA", str(tmp_path))
    default = cli._parser().parse_args(["station", "--web", "--label", "x"]).bind
    assert default.startswith("127.0.0.1:")
    for loopback in ("127.0.0.1:0", "localhost:0", "[::1]:0"):
        listening_socket(loopback, None).close()
    with pytest.raises(WebError, match="reachable from the network: give --token"):
        listening_socket("0.0.0.0:0", None)
    listening_socket("0.0.0.0:0", "a-token").close()
    assert cli.main(["station", "--web", "--bind", "0.0.0.0:0", "--label", str(LABEL)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pbgrade: --bind 0.0.0.0:0: that is reachable from the network") and err.count("\n") == 1
    assert cli.main(["station", "--web", "--bind", "8080", "--label", str(LABEL)]) == 2
    assert "give HOST:PORT" in capsys.readouterr().err


def test_the_page_speaks_the_stations_language(station, browser, tmp_path):
    panel = station("--bind", "127.0.0.1:0", "--lang", "zh-CN")
    browser.get(panel.url)
    wait_for(lambda: len(browser.find_elements("css selector", "section.tile.free")) == 2, "two free tiles")
    browser.save_screenshot(str(tmp_path / "panel-zh.png"))
    chinese = i18n.catalogue("zh-CN").gettext
    assert browser.title == chinese("pbgrade station") != "pbgrade station"
    assert tile_text(browser, 1, "says") == chinese("scan a serial number") != "scan a serial number"
    assert browser.find_element("css selector", "#ch1 input").get_attribute("placeholder") == chinese("serial number")
