"""The arithmetic of the two-point calibration."""
import pytest

from pbgrade.calibrate import CalibrationError, fit


def test_two_points_give_gain_and_offset():
    # the rig reads 1 % high with a 2 mA offset; the meter is right
    measured = (0.5 * 1.01 + 0.002, 2.5 * 1.01 + 0.002)
    gain, offset = fit(measured, (0.5, 2.5), "current", allow_offset=True)
    assert gain * measured[0] + offset == pytest.approx(0.5)
    assert gain * measured[1] + offset == pytest.approx(2.5)
    assert gain == pytest.approx(1 / 1.01)


def test_gain_only_when_the_points_share_a_voltage():
    gain, offset = fit((5.02, 5.03), (5.0, 5.01), "voltage", allow_offset=False)
    assert offset == 0.0 and gain == pytest.approx(10.01 / 10.05)


def test_a_reference_far_off_the_rig_is_refused():
    with pytest.raises(CalibrationError, match="differs from the rig's by 50%"):
        fit((1.0, 2.0), (1.5, 3.0), "current", allow_offset=True)
