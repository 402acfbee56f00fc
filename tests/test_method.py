"""Method files: the built-in ones load; a bad one is refused in one line
that names the file, the line and the fix."""
import pytest

from pbgrade.method import MethodError, builtin_methods, load_method

FULL = load_method("full").path


def test_builtin_methods_load():
    assert builtin_methods() == ["discharge", "eol", "full", "quick"]
    full = load_method("full")
    assert [s.type for s in full.steps] == ["no_load", "rest", "load_regulation", "over_current", "discharge"]
    assert full.profile == "gbt35590" and load_method("quick").verdict == "screen"
    assert load_method("quick").steps[-1].settings["seconds"] == 120


def edited(tmp_path, old, new):
    text = open(FULL).read()
    assert old in text
    path = tmp_path / "method.toml"
    path.write_text(text.replace(old, new, 1))
    return path, path.read_text().splitlines()


@pytest.mark.parametrize("old, new, words, line_of", [
    ("seconds = 600", "secs = 600", ["secs is not a known field"], "secs = 600"),
    ("seconds = 600", "seconds = -5", ["seconds = -5 is outside"], "seconds = -5"),
    ("seconds = 600", 'seconds = "ten minutes"', ["seconds must be a number"], 'seconds = "ten minutes"'),
    ('type = "rest"', 'type = "nap"', ["type = 'nap' is not a step type"], 'type = "nap"'),
    ('verdict = "grade"', 'verdict = "vibes"', ["verdict = 'vibes' is not a verdict kind"], 'verdict = "vibes"'),
    ('[[step]]\ntype = "discharge"\ncurrent_fraction = 1.0', '', ['no [[step]] with type = "discharge"'], None),
])
def test_bad_method_is_refused_naming_the_line(tmp_path, old, new, words, line_of):
    path, lines = edited(tmp_path, old, new)
    with pytest.raises(MethodError) as caught:
        load_method(path)
    message = str(caught.value)
    assert "\n" not in message
    for w in words:
        assert w in message
    if line_of:
        assert f"method.toml:{lines.index(line_of) + 1}:" in message


def test_unknown_method_lists_the_builtins():
    with pytest.raises(MethodError, match="use one of discharge, eol, full, quick"):
        load_method("nosuch")
