"""Label files: what the maker promises, and one-line complaints when it is typed in wrong."""
import pytest

from pbgrade.label import Label, LabelError, load_label

GOOD = {
    "cell_capacity_mah": "10000",
    "cell_voltage_v": "3.7",
    "rated_capacity_mah": "6000",
    "rated_output_v": "5",
    "rated_output_a": "2.1",
}
REQUIRED = list(GOOD)


def write_label(tmp_path, fields, extra=""):
    path = tmp_path / "label.toml"
    path.write_text("[label]\n" + "".join(f"{key} = {value}\n" for key, value in fields.items()) + extra)
    return path


def label_error(path) -> str:
    with pytest.raises(LabelError) as caught:
        load_label(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


def test_full_label_loads(tmp_path):
    path = write_label(tmp_path, GOOD | {"model": '"PB-10"', "manufacturer": '"Acme"', "serial": '"0042"',
                                         "declared_efficiency": "0.9"})
    label = load_label(path)
    assert label == Label(10000, 3.7, 6000, 5, 2.1, "PB-10", "Acme", "0042", 0.9)
    assert label.rated_energy_wh == pytest.approx(37.0)
    assert label.as_dict()["rated_energy_wh"] == pytest.approx(37.0)


def test_optional_fields_default_to_none(tmp_path):
    label = load_label(write_label(tmp_path, GOOD))
    assert (label.model, label.serial, label.declared_efficiency) == (None, None, None)


@pytest.mark.parametrize("field", REQUIRED)
def test_missing_field_is_named(tmp_path, field):
    message = label_error(write_label(tmp_path, {k: v for k, v in GOOD.items() if k != field}))
    assert f"[label] {field} is missing" in message and f"{field} = " in message


@pytest.mark.parametrize("field", REQUIRED + ["declared_efficiency"])
def test_text_instead_of_number_is_named(tmp_path, field):
    message = label_error(write_label(tmp_path, GOOD | {field: '"5V"'}))
    assert f"[label] {field} must be a number" in message


@pytest.mark.parametrize("field, value, plausible", [
    ("cell_capacity_mah", "10", "100–500,000 mAh"),
    ("cell_voltage_v", "37", "1–5 V"),
    ("rated_capacity_mah", "-6000", "100–500,000 mAh"),
    ("rated_output_v", "0", "3–60 V"),
    ("rated_output_a", "21", "0.05–10 A"),
    ("declared_efficiency", "85", "0–1"),
    ("declared_efficiency", "0", "0–1"),
])
def test_implausible_number_is_named(tmp_path, field, value, plausible):
    message = label_error(write_label(tmp_path, GOOD | {field: value}))
    assert f"[label] {field} = {value} is outside the plausible {plausible}" in message


@pytest.mark.parametrize("field", ["model", "manufacturer", "serial"])
def test_text_field_must_be_text(tmp_path, field):
    message = label_error(write_label(tmp_path, GOOD | {field: "42"}))
    assert f"[label] {field} must be text" in message


def test_boolean_is_not_a_number(tmp_path):
    message = label_error(write_label(tmp_path, GOOD | {"rated_output_a": "true"}))
    assert "rated_output_a must be a number" in message


def test_unknown_field_is_a_typo(tmp_path):
    message = label_error(write_label(tmp_path, GOOD | {"rated_ouput_a": "2.1"}))
    assert "[label] rated_ouput_a is not a known field" in message and "rated_output_a" in message


def test_unknown_table_is_refused(tmp_path):
    message = label_error(write_label(tmp_path, GOOD, extra="[lable]\nx = 1\n"))
    assert "lable is not a known field" in message


def test_missing_label_table(tmp_path):
    path = tmp_path / "label.toml"
    path.write_text("cell_voltage_v = 3.7\n")
    assert "cell_voltage_v is not a known field" in label_error(path)
    path.write_text("")
    assert "[label] table is missing" in label_error(path)


def test_rated_output_energy_above_cell_energy_is_refused(tmp_path):
    # 10000 mAh at 5 V = 50 Wh > 37 Wh in the cells: the cell capacity was copied as rated capacity
    message = label_error(write_label(tmp_path, GOOD | {"rated_capacity_mah": "10000"}))
    assert "rated_capacity_mah" in message and "50.0 Wh" in message and "37.0 Wh" in message


def test_malformed_toml_gives_the_line(tmp_path):
    path = tmp_path / "label.toml"
    path.write_text("[label]\ncell_capacity_mah = 10000\ncell_voltage_v 3.7\n")
    message = label_error(path)
    assert "not valid TOML" in message and "line 3" in message


def test_missing_file(tmp_path):
    assert "cannot be read" in label_error(tmp_path / "nope.toml")
