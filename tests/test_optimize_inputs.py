"""The optimizer's inputs: tables that are not plain probes, encoder names, NumPy scalars, missing scores,
generated rung spacing, the grid's encode settings in the commands, and the sparse rounds' fallback."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import pershot
from pershot import api
from pershot.cli import main
from pershot.errors import InfeasibleError, OptimizeError
from pershot.grid import load_grid
from pershot.ladder import LadderSpec
from pershot.synthetic import synthetic_probes


@pytest.fixture(scope="module")
def probes() -> pd.DataFrame:
    return synthetic_probes(4, presets=("ultrafast", "medium", "veryslow"), heights=(720, 360), crfs=(22, 30, 38),
                            encoder="x264")


def test_a_stray_rung_column_is_ignored_and_a_ladder_csv_refused(probes, tmp_path) -> None:
    base = pershot.optimize(probes, rungs=3, complexity=0.5)
    lad = pershot.optimize(probes.assign(rung=7, target_kbps=1.0), rungs=3, complexity=0.5)
    assert [r.bitrate_kbps for r in lad.rungs] == [r.bitrate_kbps for r in base.rungs]
    assert lad.table["rung"].tolist() == base.table["rung"].tolist()  # the ladder's own rung numbers
    pershot.write_ladder(base, tmp_path, plots=False, baselines=False)
    with pytest.raises(OptimizeError, match="ladder table"):  # ladder.csv given by mistake: one line, no traceback
        pershot.optimize(tmp_path / "ladder.csv", rungs=3, complexity=0.5)
    assert main(["optimize", str(tmp_path / "ladder.csv"), "-o", str(tmp_path / "o"), "-q"]) == 6


def test_encoder_names_and_numpy_scalars(probes) -> None:
    base = pershot.optimize(probes, rungs=3, complexity=0.5)
    for kw in ({"encoder": "libx264"}, {"complexity": np.float32(0.5)}, {"rungs": np.int64(3)}):
        lad = pershot.optimize(probes, **{"rungs": 3, "complexity": 0.5, **kw})
        assert lad.encoder == "x264" and [r.bitrate_kbps for r in lad.rungs] == [r.bitrate_kbps for r in base.rungs]
    with pytest.raises(OptimizeError, match="no probes for encoder"):
        pershot.optimize(probes, rungs=3, complexity=0.5, encoder="x265")


def test_a_missing_secondary_score_is_not_a_zero(probes) -> None:
    d = probes.copy()
    d.loc[d["shot"] == 0, "psnr_y"] = np.nan
    s = pershot.optimize(d, rungs=2, complexity=1).summary()
    full = pershot.optimize(probes, rungs=2, complexity=1).summary()
    assert s["psnr_y"].isna().all()  # a shot without the score: no rung figure, not a mean counting it as 0
    assert s["vmaf"].tolist() == pytest.approx(full["vmaf"].tolist())
    assert (full["psnr_y"] > 20).all()


def test_generated_rungs_keep_min_and_max_step(probes) -> None:
    top = float(pershot.optimize(probes, 1, complexity=1).rungs[0].target_kbps)
    cap = float(f"{top / 1.37:.4g}") + 0.0049  # a top that 3 significant digits would round off the steps
    lad = pershot.optimize(probes, {"count": 4, "min_step": 1.5, "max_step": 2.0, "max_kbps": cap}, complexity=1)
    t = [r.target_kbps for r in lad.rungs] + [d.spec.kbps for d in lad.dropped]
    t = sorted(t)
    assert len(t) == 4 and t[-1] <= cap
    assert all(1.5 * (1 - 1e-9) <= b / a <= 2.0 * (1 + 1e-9) for a, b in zip(t, t[1:])), t
    LadderSpec.from_kbps(t, min_step=1.5, max_step=2.0)  # the same targets, given explicitly, are no contradiction
    # a min_kbps above the title's best probe: no rung below it, an error that says why
    with pytest.raises(OptimizeError, match="above the best probes"):
        pershot.optimize(probes, {"count": 3, "min_kbps": 100 * top}, complexity=1)


def test_generated_rungs_exact_case() -> None:
    """The audit's case: count 4, steps 1.5-2, max_kbps 63.69 gave a top step of 2.0028."""
    from pershot.ladder import _auto_targets

    class Prep:
        metric = "vmaf"

    spec = LadderSpec(count=4, min_step=1.5, max_step=2.0, max_kbps=63.69)
    out = [r.kbps for r in _auto_targets(lambda psr, mh: (1.0, 1000.0, 99.0, 10.0), spec, Prep())]
    assert out[-1] == 63.69 and len(out) == 4
    assert all(b / a <= 2.0 * (1 + 1e-9) for a, b in zip(out, out[1:])), out


def test_optimize_carries_the_grids_keyint_and_threads(probes, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PERSHOT_CACHE", str(tmp_path / "empty-cache"))
    grid = tmp_path / "g.toml"
    grid.write_text('heights = [720, 360]\ncrf = [22, 30, 38]\nkeyint = 10\nthreads = 2\n'
                    '[encoders.x264]\npresets = ["ultrafast", "medium", "veryslow"]\n')

    def args_of(out):
        doc = json.loads((out / "ladder.json").read_text())
        return [s["encode"]["codec_args"] for r in doc["rungs"] for s in r["shots"]], doc["warnings"]

    # probes.csv that records them (as `pershot ladder` now writes it for such a grid)
    rec = api._with_encode_settings(probes, load_grid(grid))
    assert {"keyint", "threads"} <= set(rec.columns)
    rec.to_csv(tmp_path / "probes.csv", index=False)
    assert main(["optimize", str(tmp_path / "probes.csv"), "-o", str(tmp_path / "a"), "--rungs", "2",
                         "-c", "1", "--no-plots", "-q"]) == 0
    cmds, warns = args_of(tmp_path / "a")
    assert all("keyint=10" in " ".join(c) and c[c.index("-threads") + 1] == "2" for c in cmds)
    assert not any("keyint" in w for w in warns)
    # a table without them: --grid gives them; without --grid, a warning says what the commands assume
    probes.to_csv(tmp_path / "old.csv", index=False)
    assert main(["optimize", str(tmp_path / "old.csv"), "-o", str(tmp_path / "b"), "--rungs", "2",
                         "-c", "1", "--no-plots", "-q", "--grid", str(grid)]) == 0
    cmds, _ = args_of(tmp_path / "b")
    assert all("keyint=10" in " ".join(c) for c in cmds)
    assert main(["optimize", str(tmp_path / "old.csv"), "-o", str(tmp_path / "c"), "--rungs", "2",
                         "-c", "1", "--no-plots", "-q"]) == 0
    _, warns = args_of(tmp_path / "c")
    assert any("keyint and threads" in w for w in warns)
    # a grid that contradicts what the table records
    grid.write_text(grid.read_text().replace("keyint = 10", "keyint = 20"))
    assert main(["optimize", str(tmp_path / "probes.csv"), "-o", str(tmp_path / "d"), "--rungs", "2",
                         "-c", "1", "--no-plots", "-q", "--grid", str(grid)]) == 6


def test_sparse_rounds_fall_back_to_measured_points() -> None:
    """An intermediate optimization over measured + predicted points that is infeasible is not the answer:
    the round falls back to the measured points, and an error names their own smallest complexity."""
    from pershot.predict import skeleton
    from pershot.sparse import refine

    df = synthetic_probes(3, presets=("ultrafast", "veryfast", "fast", "medium", "veryslow"),
                          heights=(1080, 720, 540, 360), crfs=(18, 22, 26, 30, 34, 38), encoder="x264")
    df = df.assign(key=[f"k{i}" for i in range(len(df))])
    sk = skeleton(df)
    measured, todo = df[sk].reset_index(drop=True), df[~sk].reset_index(drop=True)
    assert len(todo)
    calls = []

    def opt(p, final):
        calls.append("predicted" in p.columns)
        if "predicted" in p.columns:  # as a wrong prediction can make it look
            raise InfeasibleError("infeasible: the smallest feasible value is 0.9", min_feasible=0.9)
        return pershot.optimize(p, rungs=2, complexity=1, exact=final)

    m, lad, rounds, converged = refine(measured, todo, lambda keys: df[df["key"].isin(set(keys))], opt)
    assert calls[0] and not all(calls) and lad.rungs
    assert set(m["key"]) <= set(df["key"])


def test_keyint_from_the_cache_is_not_fooled_by_a_shot_as_long_as_it(tmp_path, monkeypatch) -> None:
    """The cache keeps each encode's GOP: the grid's keyint, or the shot's length without one. A first shot
    48 frames long under keyint 48 looked like "no keyint" (one GOP per shot for the 200-frame shot too)."""
    import pandas as pd

    from pershot.cache import ProbeCache

    monkeypatch.setenv("PERSHOT_CACHE", str(tmp_path / "cache"))
    cache = ProbeCache()
    for key in ("aaaaaaaa", "bbbbbbbb"):
        cache.put(key, {"params": {"gop": 48, "threads": 1}})
    for order in (["aaaaaaaa", "bbbbbbbb"], ["bbbbbbbb", "aaaaaaaa"]):
        rows = {"aaaaaaaa": (0, 0, 48), "bbbbbbbb": (1, 48, 248)}
        df = pd.DataFrame([{"shot": rows[k][0], "start_frame": rows[k][1], "end_frame": rows[k][2], "key": k}
                           for k in order])
        got, note = api._encode_settings_of(df, None)
        assert note is None and set(got["keyint"]) == {48}, order
