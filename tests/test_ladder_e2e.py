"""A small real ladder end to end: a 3 s, 240p cut of testvideo.mp4 with two shots, a tiny grid."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import cut
from pershot import api
from pershot.cli import main

# 3 presets spanning ultrafast..veryslow x 2 heights x 3 CRFs = 18 probes per shot
GRID = {"name": "e2e", "heights": [240, 144], "crf": [22, 30, 38],
        "encoders": {"x264": {"presets": ["ultrafast", "medium", "veryslow"]}}}


@pytest.fixture(scope="module")
def clip(media_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("e2e")
    # testvideo.mp4 frames 150-239: a cut at source frame 180 -> frame 30 here; 90 frames (3.0 s)
    return cut(media_dir / "testvideo.mp4", d / "two_shots.mp4", start_frame=150, frames=90, height=240)


@pytest.fixture(scope="module")
def run(clip: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("ladder_out")
    lad = api.ladder(clip, 0.5, rungs=3, grid=GRID, out_dir=out, jobs=2)
    return lad, out


def test_outputs_and_ladder_properties(run):
    lad, out = run
    for name in ("shots.csv", "probes.csv", "ladder.json", "ladder.csv", "summary.csv", "hulls.csv",
                 "plots/ladder_rd.png", "plots/quality_vs_complexity.png"):
        assert (out / name).is_file(), name
    shots = pd.read_csv(out / "shots.csv")
    assert list(zip(shots.start_frame, shots.end_frame)) == [(0, 30), (30, 90)]
    probes = pd.read_csv(out / "probes.csv")
    assert len(probes) == 2 * 18
    # budget, strictly rising rungs, one resolution per rung
    assert lad.cpu_s <= 0.5 * lad.anchor_cpu_s * (1 + 1e-9)
    rates = [r.bitrate_kbps for r in lad.rungs]
    quals = [r.quality for r in lad.rungs]
    assert len(lad.rungs) >= 2
    assert all(b > a for a, b in zip(rates, rates[1:])) and all(b > a for a, b in zip(quals, quals[1:]))
    table = pd.read_csv(out / "ladder.csv")
    assert (table.groupby("rung")["height"].nunique() == 1).all()
    # every rung covers every frame exactly once: the shots' ranges, in order
    for _, g in table.groupby("rung"):
        g = g.sort_values("start_frame")
        assert g.start_frame.iloc[0] == 0 and g.end_frame.iloc[-1] == 90
        assert (g.start_frame.iloc[1:].to_numpy() == g.end_frame.iloc[:-1].to_numpy()).all()
    # each chosen point is a real probe (same size, quality, CPU)
    key = ["shot", "preset", "height", "crf"]
    m = table.merge(probes, on=key, suffixes=("", "_probe"))
    assert len(m) == len(table)
    assert (m.size_bytes == m.size_bytes_probe).all() and (m.vmaf - m.vmaf_probe).abs().max() < 1e-3
    doc = json.loads((out / "ladder.json").read_text())
    assert doc["source"]["frames"] == 90 and doc["complexity"]["achieved"] <= 0.5
    enc = doc["rungs"][0]["shots"][0]["encode"]
    assert enc["ffmpeg_encoder"] == "libx264" and "-x264-params" in enc["codec_args"]


def test_reoptimizing_from_probes_csv_gives_the_same_ladder(run, tmp_path, capsys):
    lad, out = run
    assert main(["optimize", str(out / "probes.csv"), "--complexity", "0.5", "--rungs", "3", "-o", str(tmp_path),
                 "--no-plots", "-q"]) == 0
    a = pd.read_csv(out / "ladder.csv")
    b = pd.read_csv(tmp_path / "ladder.csv")
    cols = ["rung", "shot", "preset", "width", "height", "crf", "size_bytes"]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    assert str(tmp_path / "ladder.json") in capsys.readouterr().err


def test_cli_ladder_uses_the_probe_cache(clip, tmp_path, capsys):
    grid = tmp_path / "grid.toml"
    grid.write_text('name = "e2e"\nheights = [240, 144]\ncrf = [22, 30, 38]\n'
                    '[encoders.x264]\npresets = ["ultrafast", "medium", "veryslow"]\n')
    out = tmp_path / "out"
    args = ["ladder", str(clip), "--complexity", "0.3", "--grid", str(grid), "--rungs", "2", "-o", str(out),
            "-q", "-j", "2", "--no-plots", "--encode"]
    assert main(args) == 0  # the module fixture's probes are cached: no probe encode here
    probes = pd.read_csv(out / "probes.csv")
    assert probes["cached"].all()
    err = capsys.readouterr().err
    assert str(out / "ladder.json") in err and str(out / "probes.csv") in err
    # --encode: the renditions, one per rung, beside the ladder
    rend = pd.read_csv(out / "renditions" / "renditions.csv")
    assert len(rend) == len(json.loads((out / "ladder.json").read_text())["rungs"]) == 2
    assert all(len(_decoded(Path(p))) == 90 for p in rend.path)
    # an infeasible budget fails with exit code 7 before writing a ladder
    out2 = tmp_path / "out2"
    assert main(["ladder", str(clip), "--complexity", "0.0001", "--grid", str(grid), "-o", str(out2), "-q"]) == 7
    assert not (out2 / "ladder.json").exists()


def _decoded(path: Path) -> list[tuple[int, int, int]]:
    import av

    with av.open(str(path)) as c:
        return [(f.width, f.height, f.pts) for f in c.decode(video=0)]


def test_encode_renditions_from_ladder_json(run, clip, tmp_path, capsys):
    lad, out = run
    dst = tmp_path / "rend"
    assert main(["encode", str(out / "ladder.json"), "-o", str(dst), "-j", "2"]) == 0
    table = pd.read_csv(dst / "renditions.csv")
    assert table.rung.tolist() == [r.index for r in lad.rungs]
    for r, row in zip(lad.rungs, table.itertuples()):
        frames = _decoded(Path(row.path))
        # every frame of the source, at the rung's size, in display order
        assert len(frames) == row.frames == 90
        assert {(w, h) for w, h, _ in frames} == {(r.width, r.height)}
        assert all(a[2] < b[2] for a, b in zip(frames, frames[1:]))
        assert len({b[2] - a[2] for a, b in zip(frames, frames[1:])}) == 1  # evenly spaced, no gap at the cut
        # the same encodes as the probes: the ladder's bitrate (MP4 stores the same NAL units, length-prefixed)
        assert row.bitrate_kbps == pytest.approx(r.bitrate_kbps, rel=0.01)
        assert b"x264 - core" not in Path(row.path).read_bytes()  # no x264 settings SEI, as in the probes
    # nothing temporary left behind
    assert sorted(p.name for p in dst.iterdir()) == sorted([Path(p).name for p in table.path] + ["renditions.csv"])


def test_encode_renditions_mixed_resolution_rung_and_errors(run, clip, tmp_path):
    from pershot.errors import InputError

    lad, out = run
    doc = json.loads((out / "ladder.json").read_text())
    rung = doc["rungs"][-1]
    other = 144 if rung["shots"][0]["height"] != 144 else 240
    rung["shots"][0].update(height=other, width=other * 16 // 9 // 2 * 2)  # the first shot at another size
    res = api.encode_renditions(doc, tmp_path / "mixed", source=clip, rungs=[rung["rung"]], jobs=1)
    assert len(res) == 1 and res[0].container == "mpegts" and res[0].path.endswith("_mixed.ts")
    frames = _decoded(Path(res[0].path))
    assert len(frames) == 90 and len({(w, h) for w, h, _ in frames}) == 2
    assert [(w, h) for w, h, _ in frames[:30]] == [(rung["shots"][0]["width"], other)] * 30
    with pytest.raises(InputError, match="no rung 99"):
        api.encode_renditions(doc, tmp_path / "x", source=clip, rungs=[99])
    short = cut(clip, tmp_path / "short.mp4", start_frame=0, frames=60, height=240)
    with pytest.raises(InputError, match="not the same video"):
        api.encode_renditions(doc, tmp_path / "x", source=short)
    assert not (tmp_path / "x").exists()  # a refused ladder leaves no folder behind


def _luma(path: Path, size: tuple[int, int] | None = None) -> list:
    import av

    with av.open(str(path)) as c:
        return [f.reformat(*(size or (f.width, f.height)), format="gray").to_ndarray().astype(float)
                for f in c.decode(video=0)]


@pytest.mark.parametrize("encoder", ["x264", "x265"])
def test_renditions_join_shots_encoded_with_different_presets(run, clip, tmp_path, encoder):
    """Shots at presets that signal different parameter sets (x264 ultrafast: CAVLC) must still decode right."""
    from fractions import Fraction

    import numpy as np

    from pershot import encoders
    from pershot.report import _placeholder

    lad, out = run
    doc = json.loads((out / "ladder.json").read_text())
    rung = doc["rungs"][-1]
    rung["shots"] = rung["shots"][:2]
    spec = encoders.get(encoder)
    for s, preset in zip(rung["shots"], ("ultrafast", "veryslow" if encoder == "x264" else "medium")):
        p = encoders.EncodeParams(encoder=encoder, preset=preset, rc_mode="crf", value=26, width=s["width"],
                                  height=s["height"], fps=Fraction(30000, 1001), frames=s["end_frame"] - s["start_frame"])
        s["encode"] = {"ffmpeg_args": [_placeholder(a) for a in encoders.encode_args(spec, p, "INPUT.y4m",
                                                                                     "OUTPUT" + spec.ext)]}
    doc["rungs"] = [rung]
    res = api.encode_renditions(doc, tmp_path / encoder, source=clip, jobs=2)
    got = _luma(Path(res[0].path))
    src = _luma(clip, (rung["shots"][0]["width"], rung["shots"][0]["height"]))
    assert len(got) == len(src) == 90
    for s in rung["shots"]:  # each shot decodes to a picture close to the source's (PSNR), not garbage
        a, b = s["start_frame"], s["end_frame"]
        mse = np.mean([np.mean((x - y) ** 2) for x, y in zip(got[a:b], src[a:b])])
        assert 10 * np.log10(255 ** 2 / mse) > 30, (encoder, s["shot"])


def test_interrupted_renditions_resume_without_encoding_again(run, clip, tmp_path, monkeypatch):
    from pershot import ffmpeg
    from pershot.executors import SerialExecutor
    from pershot.renditions import WORK_DIR

    lad, out = run
    dst = tmp_path / "rend"
    real = ffmpeg.run
    calls = {"encode": 0, "join": 0}

    def counting(args, **kw):
        kind = "join" if "concat" in args else "encode" if "-c:v" in args else "other"
        calls[kind] = calls.get(kind, 0) + 1
        if kind == "join" and stop["now"]:
            raise KeyboardInterrupt  # Ctrl-C once the shots are encoded, while joining the first rung
        return real(args, **kw)

    stop = {"now": True}
    monkeypatch.setattr(ffmpeg, "run", counting)
    with pytest.raises(KeyboardInterrupt):
        api.encode_renditions(out / "ladder.json", dst, executor=SerialExecutor())
    n_encodes = calls["encode"]
    assert n_encodes == 2 * len(lad.rungs)  # two shots per rung
    assert not list(dst.glob("rung*.mp4")) and not list(dst.glob(".*.tmp*"))  # nothing half-written
    assert len(list((dst / WORK_DIR).glob("*.ts"))) == n_encodes
    stop["now"] = False
    res = api.encode_renditions(out / "ladder.json", dst, executor=SerialExecutor())
    assert calls["encode"] == n_encodes  # the second run encoded nothing
    assert len(res) == len(lad.rungs) and all(len(_decoded(Path(r.path))) == 90 for r in res)
    assert not (dst / WORK_DIR).exists()  # removed once every rung is joined
