"""Sparse probing: the skeleton, the predictions, the verification rounds, and a real run end to end."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pershot.ladder import optimize_ladder
from pershot.predict import POINT, predict, skeleton
from pershot.sparse import refine
from pershot.synthetic import synthetic_probes

PRESETS = ["ultrafast", "veryfast", "medium", "slow", "veryslow"]


def _full(seed=1, shots=4):
    df = synthetic_probes(shots, presets=PRESETS, heights=(720, 540, 360), crfs=(18, 22, 26, 30, 34, 38, 42),
                          seed=seed)
    df["key"] = [f"k{i}" for i in range(len(df))]
    return df


def test_skeleton_is_the_reference_preset_plus_calibration_points():
    df = _full()
    m = skeleton(df, calib_crfs=3)
    sk = df[m]
    # the reference: the middle plain preset by speed (medium of five), every height and CRF
    assert set(sk.loc[sk["preset"] == "medium", ["height", "crf"]].itertuples(index=False)) == \
        set(df.loc[df["preset"] == "medium", ["height", "crf"]].itertuples(index=False))
    other = sk[sk["preset"] != "medium"]
    assert set(other["height"]) == {360, 720}  # the lowest and highest heights
    assert set(other["crf"]) == {18, 30, 42}  # lowest, middle, highest
    per_shot = len(df[df["shot"] == 0])
    assert m[df["shot"] == 0].sum() == 3 * 7 + 4 * 2 * 3 and per_shot == 5 * 3 * 7
    assert skeleton(df, calib_crfs=2)[df["shot"] == 0].sum() == 3 * 7 + 4 * 2 * 2
    one = skeleton(df, calib_heights=1)
    assert set(df.loc[one & (df["preset"] != "medium"), "height"]) == {540}  # the middle height
    assert one[df["shot"] == 0].sum() == 3 * 7 + 4 * 3


def test_predictions_are_exact_when_a_preset_is_a_fixed_transform_of_the_reference():
    """A configuration whose bitrate and CPU are the reference's times a factor that is linear in CRF (in
    logs) and whose scores are the reference's plus a linear offset is predicted exactly, at every height."""
    df = _full()
    ref = df[df["preset"] == "medium"].set_index(["shot", "width", "height", "crf"])
    rows = []
    for i, p in enumerate(PRESETS):
        r = ref.copy()
        a = 0.1 * (i - 2)
        r["preset"], r["preset_rank"] = p, i
        r["bitrate_kbps"] *= np.exp(a + 0.01 * a * r.index.get_level_values("crf"))
        r["encode_cpu_s"] *= np.exp(-3 * a)
        r["vmaf"] = (r["vmaf"] + 2 * a - 0.02 * a * r.index.get_level_values("crf")).clip(0, 100)
        r["psnr_y"] += a
        r["ssim"] = (r["ssim"] + 0.001 * a).clip(0, 1)
        rows.append(r.reset_index())
    full = pd.concat(rows, ignore_index=True)
    full["key"] = [f"k{i}" for i in range(len(full))]
    m = skeleton(full)
    pred = predict(full[m], full[~m])
    assert len(pred) == (~m).sum() and pred["predicted"].all()
    got = full[~m].merge(pred, on=POINT, suffixes=("", "_p"))
    inside = (got["vmaf"] > 0.5) & (got["vmaf"] < 99.5)  # clipping is not linear
    for c in ("bitrate_kbps", "encode_cpu_s", "psnr_y"):
        np.testing.assert_allclose(got[c + "_p"], got[c], rtol=1e-9)
    np.testing.assert_allclose(got.loc[inside, "vmaf_p"], got.loc[inside, "vmaf"], atol=1e-9)
    assert (pred["vmaf"].between(0, 100)).all() and (pred["ssim"] <= 1).all()
    assert (pred["size_bytes"] == np.round(pred["bitrate_kbps"] * 125 * pred["duration_s"])).all()


def test_points_without_a_reference_are_not_predicted():
    df = _full()
    m = skeleton(df)
    meas = df[m]
    lost = (meas["preset"] == "medium") & (meas["height"] == 360) & (meas["crf"] == 26)
    pred = predict(meas[~lost], df[~m])
    miss = df[~m & (df["height"] == 360) & (df["crf"] == 26)]
    assert len(miss) and not set(map(tuple, miss[POINT].itertuples(index=False))) & \
        set(map(tuple, pred[POINT].itertuples(index=False)))
    assert len(pred) == (~m).sum() - len(miss)


@pytest.mark.parametrize("c", [1.0, 0.2])
def test_refine_ends_on_measured_points_and_is_reproducible(c):
    df = _full(seed=5, shots=5)
    by_key = df.set_index("key", drop=False)
    m = skeleton(df)
    asked = []

    def measure(keys):
        assert not set(keys) & set(df.loc[m, "key"])  # never measures a point twice
        asked.extend(keys)
        return by_key.loc[keys].reset_index(drop=True)

    def opt(probes, final):
        if final:
            assert "predicted" not in probes or not probes["predicted"].any()
        return optimize_ladder(probes, 4, c, exact=final)

    todo = df.loc[~m, POINT + ["preset_rank", "start_frame", "end_frame", "frames", "duration_s", "key"]]
    measured, lad, rounds, converged = refine(df[m], todo, measure, opt)
    assert converged and rounds >= 1 and len(set(asked)) == len(asked)
    assert len(measured) == m.sum() + len(asked) < len(df)
    # every chosen point (ladder and anchor) is a measured probe with its measured figures
    keys = set(measured["key"])
    for tab in (lad.table, lad.anchor_table):
        got = tab[POINT + ["bitrate_kbps", "vmaf"]].merge(df[POINT + ["key", "bitrate_kbps", "vmaf"]], on=POINT,
                                                          suffixes=("", "_true"))
        assert len(got) == len(tab) and got["key"].isin(keys).all()
        np.testing.assert_allclose(got["bitrate_kbps"], got["bitrate_kbps_true"])
    assert lad.cpu_s <= c * lad.anchor_cpu_s * (1 + 1e-9)
    again = optimize_ladder(measured, 4, c)
    pd.testing.assert_frame_equal(again.table, lad.table)
    # close to the full grid's ladder: within 1.5 VMAF on average over the rungs it shares
    full = optimize_ladder(df, 4, c)
    assert np.mean([r.quality for r in lad.rungs]) >= np.mean([r.quality for r in full.rungs]) - 1.5


def test_config_steps_order_configurations_by_speed_with_variants_beside_their_preset():
    from pershot.sparse import _config_steps

    df = pd.DataFrame({"encoder": "x264", "rc_mode": "crf",
                       "preset": ["veryslow", "medium", "ultrafast", "medium+umh8", "ultrafast+cabac"],
                       "preset_rank": [8, 5, 0, 5, 0]})
    steps = _config_steps(df.iloc[:3], df.iloc[3:])
    assert steps[("x264", "crf", "ultrafast")] == ("ultrafast+cabac",)
    assert steps[("x264", "crf", "ultrafast+cabac")] == ("ultrafast", "medium")
    assert steps[("x264", "crf", "medium+umh8")] == ("medium", "veryslow")
    assert steps[("x264", "crf", "veryslow")] == ("medium+umh8",)


def test_refine_measures_the_neighbours_of_every_chosen_point():
    """After the last round, every point of the ladder has its CRF steps and its next faster and slower
    preset (same resolution and CRF) measured: the final choice rests on its local neighbourhood."""
    df = _full(seed=3, shots=4)
    by_key = df.set_index("key", drop=False)
    m = skeleton(df)
    todo = df.loc[~m, POINT + ["preset_rank", "start_frame", "end_frame", "frames", "duration_s", "key"]]
    measured, lad, _, converged = refine(df[m], todo, lambda k: by_key.loc[k].reset_index(drop=True),
                                         lambda p, final: optimize_ladder(p, 4, 0.2, exact=final))
    assert converged
    have = set(map(tuple, measured[POINT].itertuples(index=False)))
    crfs = sorted(df["crf"].unique())
    for k in map(tuple, lad.table[POINT].itertuples(index=False)):
        i, j = PRESETS.index(k[3]), crfs.index(k[6])
        for p in PRESETS[max(i - 1, 0):i + 2]:
            assert (*k[:3], p, *k[4:]) in have
        for c in crfs[max(j - 1, 0):j + 2]:
            assert (*k[:6], c) in have
    # without neighbours the rounds measure fewer points
    fewer, _, _, _ = refine(df[m], todo, lambda k: by_key.loc[k].reset_index(drop=True),
                            lambda p, final: optimize_ladder(p, 4, 0.2, exact=final), neighbours=False)
    assert len(fewer) < len(measured)


def test_refine_gives_up_after_max_rounds_on_measured_points():
    df = _full(seed=2, shots=3)
    by_key = df.set_index("key", drop=False)
    m = skeleton(df)
    todo = df.loc[~m, POINT + ["preset_rank", "start_frame", "end_frame", "frames", "duration_s", "key"]]
    measured, lad, rounds, converged = refine(df[m], todo, lambda k: by_key.loc[k].reset_index(drop=True),
                                              lambda p, final: optimize_ladder(p, 3, 1.0, exact=final), max_rounds=0)
    assert rounds == 0 and len(measured) == m.sum()
    assert not converged or len(measured) == m.sum()
    assert lad.table.merge(measured[POINT], on=POINT).shape[0] == len(lad.table)


# --------------------------------------------------------------------------- a real run


def test_sparse_ladder_end_to_end(media_dir: Path, tmp_path: Path, capsys):
    from conftest import cut
    from pershot.cli import main

    clip = cut(media_dir / "testvideo.mp4", tmp_path / "two_shots.mp4", start_frame=150, frames=90, height=240)
    out = tmp_path / "out"
    grid = tmp_path / "grid.toml"
    grid.write_text('name = "sparse-e2e"\nheights = [240, 144]\ncrf = [22, 28, 34, 40]\n'
                    '[encoders.x264]\npresets = ["ultrafast", "veryfast", "medium", "veryslow"]\n')
    cache = tmp_path / "cache"
    # the dry run plans the skeleton: per shot 2 heights x 4 CRFs at the reference (medium, the upper middle
    # of four presets) + 3 other presets x 3 CRFs at the two calibration heights = 26 of 32
    capsys.readouterr()
    assert main(["ladder", str(clip), "--sparse", "--dry-run", "--grid", str(grid), "--cache", str(cache), "-q"]) == 0
    said = capsys.readouterr().out
    assert "plan (--sparse): 2 shots, 52 probes (0 in the cache, 52 to run" in said and "the grid's 64" in said
    assert not (cache.exists() and any(p.is_file() for p in cache.rglob("*")))  # a dry run writes nothing
    # a grid with two encoders: the skeleton is the ladder's encoder's only (x264 unless --encoder says)
    grid2 = tmp_path / "grid2.toml"
    grid2.write_text(grid.read_text() + '[encoders.x265]\npresets = ["ultrafast", "medium"]\n')
    # an encoder the grid lacks: the same one-line error as a full grid's run, before any probe
    assert main(["ladder", str(clip), "--sparse", "--grid", str(grid), "--encoder", "x265", "--cache", str(cache),
                 "-q", "-o", str(tmp_path / "none")]) not in (0, 1)
    assert "no probes for encoder 'x265'" in capsys.readouterr().err
    for enc, n in ((None, 52), ("x265", 2 * (2 * 4 + 2 * 3))):
        assert main(["ladder", str(clip), "--sparse", "--dry-run", "--grid", str(grid2), "--cache", str(cache), "-q"]
                    + (["--encoder", enc] if enc else [])) == 0
        assert f"plan (--sparse): 2 shots, {n} probes" in capsys.readouterr().out
    assert main(["ladder", str(clip), "--sparse", "--grid", str(grid), "--rungs", "3", "-c", "0.5", "-o", str(out),
                 "--cache", str(cache), "-q", "--no-plots", "-j", "2"]) == 0
    probes = pd.read_csv(out / "probes.csv")
    full = 2 * 4 * 2 * 4
    assert len(probes) < full and probes.groupby("shot").size().min() >= 2 * 4 + 3 * 2
    table = pd.read_csv(out / "ladder.csv")
    key = ["shot", "preset", "height", "crf"]
    m = table.merge(probes, on=key, suffixes=("", "_probe"))
    assert len(m) == len(table) and (m.size_bytes == m.size_bytes_probe).all()
    doc = json.loads((out / "ladder.json").read_text())
    assert doc["stats"]["sparse"]["measured"] == len(probes) and doc["stats"]["sparse"]["grid_points"] == full
    # the written probes reproduce the ladder
    assert main(["optimize", str(out / "probes.csv"), "--rungs", "3", "-c", "0.5", "-o", str(tmp_path / "again"),
                 "-q", "--no-plots"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "again" / "ladder.csv"), table)
    # a second run measures nothing new: everything comes from the cache
    assert main(["ladder", str(clip), "--sparse", "--grid", str(grid), "--rungs", "3", "-c", "0.5", "-o",
                 str(tmp_path / "out2"), "--cache", str(cache), "-q", "--no-plots", "-j", "2"]) == 0
    p2 = pd.read_csv(tmp_path / "out2" / "probes.csv")
    assert p2["cached"].all()
