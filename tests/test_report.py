"""Reports (ladder.json / ladder.csv / summary.csv / hulls.csv / plots) and the `pershot optimize` command."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pershot import api
from pershot.cli import main
from pershot.ladder import LADDER_SCHEMA_VERSION, optimize_ladder
from pershot.report import hulls_frame, write_ladder
from pershot.synthetic import synthetic_probes

LADDER_CSV = ["rung", "target_kbps", "shot", "start_frame", "end_frame", "encoder", "preset", "width", "height",
              "crf", "bitrate_kbps", "vmaf", "psnr_y", "encode_cpu_s"]
SUMMARY_CSV = ["rung", "status", "bitrate_kbps", "vmaf", "psnr_y", "encode_cpu_s", "complexity_ratio",
               "ladder_complexity_ratio", "budget_binds", "reason"]


@pytest.fixture(scope="module")
def probes():
    return synthetic_probes(4, presets=["ultrafast", "fast", "medium", "veryslow"], heights=(720, 540, 360),
                            crfs=(20, 26, 32, 38), seed=6, encoder="x264")


def test_write_ladder_outputs(tmp_path, probes):
    lad = optimize_ladder(probes, [150, 300, 600, 1200, 50_000], 0.2)
    written = write_ladder(lad, tmp_path, plots=True)
    for name in ("ladder.json", "ladder.csv", "summary.csv", "hulls.csv", "plots/ladder_rd.png",
                 "plots/quality_vs_complexity.png"):
        assert (tmp_path / name).is_file() and (tmp_path / name).stat().st_size > 0, name
    assert len(list((tmp_path / "plots").glob("shot_*.png"))) == 4
    assert not list(tmp_path.rglob("*.tmp*")), "temporary files left behind"
    assert set(written) >= {"ladder.json", "ladder.csv", "summary.csv", "hulls.csv"}

    table = pd.read_csv(tmp_path / "ladder.csv")
    assert set(LADDER_CSV) <= set(table.columns)
    assert len(table) == 4 * len(lad.rungs)
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert set(SUMMARY_CSV) <= set(summary.columns)
    ok = summary[summary["status"] == "ok"]
    assert list(ok["rung"]) == list(range(len(lad.rungs)))
    assert (summary["status"] == "dropped").sum() == 1  # 50 Mbps is above the best probe
    assert "above the best" in summary.loc[summary["status"] == "dropped", "reason"].iloc[0]
    # duration-weighted figures in summary.csv match ladder.csv
    for _, row in ok.iterrows():
        sub = table[table["rung"] == row["rung"]]
        d = sub["duration_s"]
        assert (sub["bitrate_kbps"] * d).sum() / d.sum() == pytest.approx(row["bitrate_kbps"], rel=1e-4)
        assert (sub["vmaf"] * d).sum() / d.sum() == pytest.approx(row["vmaf"], rel=1e-4)

    doc = json.loads((tmp_path / "ladder.json").read_text())
    assert doc["schema"] == "pershot.ladder" and doc["schema_version"] == LADDER_SCHEMA_VERSION
    assert doc["complexity"]["requested"] == 0.2 and doc["complexity"]["achieved"] <= 0.2
    assert len(doc["rungs"]) == len(lad.rungs) and doc["dropped"][0]["target_kbps"] == 50_000
    shot = doc["rungs"][0]["shots"][0]
    for k in ("shot", "start_frame", "end_frame", "encoder", "preset", "width", "height", "rc_mode", "crf"):
        assert k in shot
    enc = shot["encode"]
    assert enc["ffmpeg_encoder"] == "libx264"
    assert enc["codec_args"][:2] == ["-preset", shot["preset"]]
    args = enc["ffmpeg_args"]
    assert "{input}" in args and args[-1] == "{output}"
    assert args[args.index("-frames:v") + 1] == str(shot["end_frame"] - shot["start_frame"])


def test_hulls_frame_is_monotone(probes):
    lad = optimize_ladder(probes, 3, 0.5)
    h = hulls_frame(lad.prepared)
    assert set(h["hull"]) == {"all", "720p", "540p", "360p"}
    for (_shot, _name), g in h.groupby(["shot", "hull"]):
        g = g.sort_values("vertex")
        assert np.all(np.diff(g["bitrate_kbps"]) > 0) and np.all(np.diff(g["quality"]) > 0)
        assert np.all(np.diff(g["slope"].to_numpy()[1:]) < 0)


def test_cli_optimize(tmp_path, probes, capsys):
    p = tmp_path / "probes.csv"
    probes.to_csv(p, index=False)
    out = tmp_path / "out"
    # the rungs' mean quality as the objective, so that the summary's sum of VMAF is what both runs maximize
    assert main(["optimize", str(p), "--complexity", "0.2", "--rungs", "3", "-o", str(out), "--no-plots",
                 "--objective", "mean"]) == 0
    cap = capsys.readouterr()
    assert "complexity" in cap.out and str(out / "ladder.json") in cap.err
    assert (out / "ladder.json").is_file() and not (out / "plots").exists()
    exact = json.loads((out / "ladder.json").read_text())["stats"]["exact_finish"]
    assert exact != "not run"
    q_exact = pd.read_csv(out / "summary.csv")["vmaf"].sum()
    # --no-exact: the Lagrangian and greedy ladder alone, never better than with the finish
    assert main(["optimize", str(p), "--complexity", "0.2", "--rungs", "3", "-o", str(out), "--no-plots",
                 "--objective", "mean", "--no-exact"]) == 0
    capsys.readouterr()
    assert json.loads((out / "ladder.json").read_text())["stats"]["exact_finish"] == "not run"
    assert pd.read_csv(out / "summary.csv")["vmaf"].sum() <= q_exact + 1e-6
    # infeasible budget: exit code 7 and one line naming the smallest feasible value
    assert main(["optimize", str(p), "--complexity", "0.001", "-o", str(out)]) == 7
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "smallest feasible value is" in err[0]
    # bad input
    assert main(["optimize", str(tmp_path / "nope.csv"), "-o", str(out)]) == 2
    assert main(["optimize", str(p), "--ladder", "nope", "-o", str(out)]) == 4
    probes.drop(columns=["encode_cpu_s"]).to_csv(tmp_path / "bad.csv", index=False)
    assert main(["optimize", str(tmp_path / "bad.csv"), "-o", str(out)]) == 6
    for bad in ("0", "1.5", "nan", "x"):
        with pytest.raises(SystemExit) as ei:
            main(["optimize", str(p), "--complexity", bad])
        assert ei.value.code == 2


def test_api_optimize_options(tmp_path, probes):
    lad = api.optimize(probes, "hls", 0.5)
    assert all(r.height <= (r.spec.max_height or 10**9) for r in lad.rungs)
    lad = api.optimize(probes, complexity=0.5, rungs=4, per_shot_resolution=True, metric="psnr")
    assert lad.metric == "psnr" and lad.per_shot_resolution
    with pytest.raises(Exception, match="not both"):
        api.optimize(probes, "default", rungs=3)


def _with_variants(probes: pd.DataFrame) -> pd.DataFrame:
    """Probes plus two grid variants: one slower and better than the slowest preset, one between presets."""
    plain = probes.assign(encoder_preset=probes["preset"], params="aq-strength=0.6")
    slow = plain[plain["preset"] == "veryslow"].assign(preset="veryslow+ref16", params="aq-strength=0.6:ref=16")
    slow = slow.assign(encode_cpu_s=slow["encode_cpu_s"] * 2.0, bitrate_kbps=slow["bitrate_kbps"] * 0.95)
    fast = plain[plain["preset"] == "ultrafast"].assign(preset="ultrafast+cabac", params="aq-strength=0.6:cabac=1")
    fast = fast.assign(encode_cpu_s=fast["encode_cpu_s"] * 1.1, bitrate_kbps=fast["bitrate_kbps"] * 0.85)
    return pd.concat([plain, slow, fast], ignore_index=True)


def test_variants_order_anchor_and_commands(tmp_path, probes):
    from pershot.ladder import prepare

    df = _with_variants(probes)
    prep = prepare(df)
    assert prep.presets == ("ultrafast", "ultrafast+cabac", "fast", "medium", "veryslow", "veryslow+ref16")
    assert prep.anchor_preset == "veryslow" and prep.variants == {"ultrafast+cabac", "veryslow+ref16"}
    targets = [150, 300, 600, 1200]
    lad = optimize_ladder(df, targets, 1.0)
    # the anchor is every shot at the slowest plain preset, not at the slower variant
    ref = optimize_ladder(df[df["preset"] == df["encoder_preset"]], targets, 1.0)
    assert lad.anchor_preset == "veryslow"
    assert lad.anchor_cpu_s == pytest.approx(ref.anchor_cpu_s, rel=1e-12)
    # the better variants are used, and each row's command carries what its probe was encoded with
    assert set(lad.table["preset"]) & prep.variants
    doc = json.loads((write_ladder(lad, tmp_path, plots=False)["ladder.json"]).read_text())
    n = 0
    for rung in doc["rungs"]:
        for s in rung["shots"]:
            args = s["encode"]["ffmpeg_args"]
            assert args[args.index("-preset") + 1] == s["encoder_preset"]
            opts = args[args.index("-x264-params") + 1].split(":")
            assert "aq-strength=0.6" in opts
            assert all(kv in opts for kv in s["params"].split(":"))
            if s["preset"] == "veryslow+ref16":
                assert s["encoder_preset"] == "veryslow" and "ref=16" in opts
                n += 1
    assert n > 0
    # through CSV (empty options read back as NaN) the ladder is the same
    p = tmp_path / "probes.csv"
    df.assign(params=np.where(df["preset"] == "fast", "", df["params"])).to_csv(p, index=False)
    back = optimize_ladder(pd.read_csv(p), targets, 1.0)
    assert back.anchor_preset == "veryslow" and set(back.table["params"].map(type)) == {str}


def test_baselines_are_plain_presets(tmp_path, probes):
    from pershot.baselines import pick_preset
    from pershot.ladder import prepare

    df = _with_variants(probes[probes["preset"] != "medium"])  # no medium: the middle plain preset is picked
    more = df[df["preset"] == "ultrafast+cabac"].assign(preset="ultrafast+cabac2", params="cabac=1:ref=2")
    prep = prepare(pd.concat([df[df["preset"] != "veryslow+ref16"], more], ignore_index=True))
    assert prep.presets == ("ultrafast", "ultrafast+cabac", "ultrafast+cabac2", "fast", "veryslow")
    # the middle of all five would be a variant; the baseline is the middle plain preset
    assert pick_preset(prep) == "fast" and pick_preset(prep, "ultrafast+cabac2") == "ultrafast+cabac2"


def test_versus_fixed_is_the_bd_rate_against_the_hand_built_fixed_ladder(tmp_path, probes, capsys):
    import pershot
    from pershot.baselines import versus_fixed
    from pershot.bdrate import bd_rate

    assert pershot.versus_fixed is versus_fixed  # the public API's name for it

    lad = optimize_ladder(probes, 5, 1.0)
    vs = versus_fixed(lad)
    # the fixed ladder built by hand: per (height, CRF) at medium, duration-weighted over the shots,
    # and per rung the best quality within the pershot rung's bitrate
    med = probes[probes["preset"] == "medium"]
    cfg = []
    for _key, g in med.groupby(["height", "crf"]):
        d = g["duration_s"]
        cfg.append(((g["bitrate_kbps"] * d).sum() / d.sum(), (g["vmaf"] * d).sum() / d.sum(), g["encode_cpu_s"].sum()))
    fixed = [max((c for c in cfg if c[0] <= r.bitrate_kbps * (1 + 1e-9)), key=lambda c: c[1], default=None)
             for r in lad.rungs]
    fixed = [f for f in fixed if f is not None]
    want = bd_rate(([f[0] for f in fixed], [f[1] for f in fixed]),
                   ([r.bitrate_kbps for r in lad.rungs], [r.quality for r in lad.rungs]))
    assert vs["preset"] == "medium" and vs["rungs"] == len(fixed) and vs["note"] == ""
    assert vs["bd_rate"] == pytest.approx(want, abs=1e-9)
    assert vs["bd_rate"] < 0  # every shot its own CRF, resolution and preset beats one CRF for all
    assert vs["complexity_ratio"] == pytest.approx(sum(f[2] for f in fixed) / lad.anchor_cpu_s)
    # in ladder.json, and printed by the CLI
    write_ladder(lad, tmp_path / "w", plots=False)
    assert json.loads((tmp_path / "w" / "ladder.json").read_text())["versus_fixed"] == pytest.approx(vs)
    p = tmp_path / "probes.csv"
    probes.to_csv(p, index=False)
    assert main(["optimize", str(p), "--complexity", "1", "--rungs", "5", "-o", str(tmp_path / "o"),
                 "--no-plots"]) == 0
    assert f"BD-rate {100 * vs['bd_rate']:+.1f}% (vmaf)" in capsys.readouterr().out
    # one rung: no BD-rate, and a reason; no medium probed: the middle preset
    one = versus_fixed(optimize_ladder(probes, [400], 1.0))
    assert one["bd_rate"] is None and "two rungs" in one["note"]
    no_med = probes[probes["preset"] != "medium"]
    assert versus_fixed(optimize_ladder(no_med, 4, 1.0))["preset"] == "fast"
