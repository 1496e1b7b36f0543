"""Bjøntegaard deltas against published reference values and exact identities."""
from __future__ import annotations

import numpy as np
import pytest

from pershot.bdrate import bd_quality, bd_rate
from pershot.errors import InputError

# Reference values: the two JCT-VC examples of JCTVC-E137 (F. Bossen's BD-rate
# sheet with piecewise cubic interpolation, the method of the JCT-VC common
# test conditions), as reproduced in Netflix's VMAF repository,
# python/test/bd_rate_calculator_test.py (BDrateCalculatorJCTVCTest):
# expected -0.00465215420752807 and -0.018779823450567612, checked there to
# 4 decimal places.  Points are (bitrate kbps, PSNR dB).
JCTVC = [
    (
        [(108048.8736, 43.6471), (61279.976, 40.3953), (33905.6656, 37.247), (18883.6928, 34.2911)],
        [(108061.2784, 43.6768), (61299.9936, 40.4232), (33928.7472, 37.2761), (18910.912, 34.3147)],
        -0.00465215420752807,
    ),
    (
        [(40433.8848, 37.5761), (7622.7456, 35.3756), (2394.488, 33.8977), (1017.6184, 32.0603)],
        [(40370.12, 37.5982), (7587.0024, 35.4025), (2390.0944, 33.9194), (1017.0984, 32.0822)],
        -0.018779823450567612,
    ),
]


@pytest.mark.parametrize("anchor,test,expected", JCTVC)
def test_bd_rate_matches_jctvc_reference(anchor, test, expected):
    assert bd_rate(anchor, test) == pytest.approx(expected, abs=5e-5)
    # our pchip integration reproduces the reference far beyond its 4 places
    assert bd_rate(anchor, test) == pytest.approx(expected, abs=1e-9)


def test_identical_curves_give_zero():
    a = [(1000, 80.0), (2000, 88.0), (4000, 93.0), (8000, 96.0)]
    assert bd_rate(a, a) == pytest.approx(0.0, abs=1e-12)
    assert bd_quality(a, a) == pytest.approx(0.0, abs=1e-12)


def test_constant_rate_factor_and_quality_shift_are_exact():
    r = np.array([500.0, 1100.0, 2300.0, 5000.0, 9000.0])
    q = np.array([70.0, 80.0, 87.0, 92.0, 95.0])
    # the same qualities at 20% less rate everywhere: BD-rate is exactly -20%
    assert bd_rate((r, q), (0.8 * r, q)) == pytest.approx(-0.2, abs=1e-12)
    # the same rates with +1.5 quality everywhere: BD-quality is exactly +1.5
    assert bd_quality((r, q), (r, q + 1.5)) == pytest.approx(1.5, abs=1e-12)


def test_swapping_anchor_and_test_inverts_the_ratio():
    a, b, _ = JCTVC[1]
    x, y = bd_rate(a, b), bd_rate(b, a)
    assert (1 + x) * (1 + y) == pytest.approx(1.0, abs=1e-12)
    assert bd_quality(a, b) == pytest.approx(-bd_quality(b, a), abs=1e-12)


def test_better_curve_has_negative_bd_rate_and_positive_bd_quality():
    a, b, _ = JCTVC[0]  # b has higher PSNR at about the same rates
    assert bd_rate(a, b) < 0
    assert bd_quality(a, b) > 0


def test_order_of_points_does_not_matter():
    a, b, expected = JCTVC[0]
    assert bd_rate(list(reversed(a)), b[::2] + b[1::2]) == pytest.approx(expected, abs=1e-9)


def test_dataframe_input():
    import pandas as pd

    a, b, expected = JCTVC[1]
    da = pd.DataFrame(a, columns=["bitrate_kbps", "psnr_y"])
    db = pd.DataFrame(b, columns=["bitrate_kbps", "psnr_y"])
    assert bd_rate(da, db, quality="psnr_y") == pytest.approx(expected, abs=1e-9)


def test_errors():
    a = [(1000, 80.0), (2000, 88.0)]
    with pytest.raises(InputError, match="overlap"):
        bd_rate(a, [(1000, 90.0), (2000, 95.0)])
    with pytest.raises(InputError, match="two points"):
        bd_rate(a, [(1000, 85.0)])
    with pytest.raises(InputError, match="positive"):
        bd_rate(a, [(0, 81.0), (2000, 87.0)])


def test_two_points_as_tuples_are_points_not_rates_and_qualities() -> None:
    """((r0, q0), (r1, q1)) is two points, as the same list is; two rates and two qualities are given as lists."""
    a, b = ((100, 80), (200, 88)), ((80, 80), (160, 88))
    assert bd_rate(a, b) == pytest.approx(-0.2)
    assert bd_rate(list(a), list(b)) == pytest.approx(-0.2)
    assert bd_rate(([100, 200], [80, 88]), ([80, 160], [80, 88])) == pytest.approx(-0.2)
    assert bd_rate((np.array([100, 200]), np.array([80, 88])), ([80, 160], [80, 88])) == pytest.approx(-0.2)
    with pytest.raises(InputError, match="pairs of numbers"):
        bd_rate({"rate": [100, 200], "q": [80, 88]}, b)
