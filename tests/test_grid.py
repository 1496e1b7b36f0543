"""Grid TOML loading and validation (pershot.grid)."""
from __future__ import annotations

from pathlib import Path

import pytest

from pershot import grid
from pershot.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def test_bundled_grids() -> None:
    d = grid.load_grid(REPO / "presets" / "grid-default.toml")
    x = d.encoder("x264")
    assert x.presets == ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
    assert len(d.heights) >= 4 and len(x.crf) >= 6
    assert grid.load_grid() == d and grid.load_grid("default") == d
    s = grid.load_grid("sample")
    assert s.encoder("x264").presets[0] == "ultrafast" and s.encoder("x264").presets[-1] == "veryslow"
    assert s.metric.n_subsample >= 1
    t = grid.load_grid("test")
    assert t.size() == 4
    v = grid.load_grid("variants").encoder("x264")  # the default grid plus variants between its presets
    assert v.presets == x.presets and len(v.variants) == 6 and v.heights == x.heights and v.crf == x.crf
    assert all(var.preset != "veryslow" for var in v.variants)
    h = grid.load_grid("hdr10")  # HDR10 ladders: x265 at 10 bits, presets of one set of parameter sets, up to 4K
    assert h.bit_depths == (10,) and [e.encoder for e in h.encoders] == ["x265"]
    assert h.encoder("x265").presets == ("veryfast", "faster", "fast", "medium", "slow") and max(h.heights) == 2160


def test_presets_sorted_fastest_first_and_ranked() -> None:
    g = grid.parse_grid({"heights": [360], "crf": [30],
                         "encoders": {"libx264": {"presets": ["veryslow", "ultrafast", "medium"]},
                                      "svtav1": {"presets": ["4", "12"], "crf": [35]}}})
    x = g.encoder("x264")
    assert x.presets == ("ultrafast", "medium", "veryslow")
    assert [x.preset_rank(p) for p in x.presets] == [0, 1, 2]
    assert g.encoder("svtav1").presets == ("12", "4")
    assert g.size() == 3 + 2
    assert sorted({(e.encoder, p, m, v, h) for e, p, m, v, h in g.points()})[0][0] == "svtav1"


def test_per_encoder_overrides_and_qp() -> None:
    g = grid.parse_grid({"heights": [720, 360], "crf": [20, 30], "qp": [25],
                         "metrics": {"n_subsample": 3, "scale": "lanczos"},
                         "encoders": {"x265": {"presets": ["fast"], "heights": [240], "crf": [28],
                                               "params": {"aq-mode": 3, "no-sao": True}}}})
    e = g.encoder("x265")
    assert e.heights == (240,) and e.crf == (28.0,) and e.qp == (25.0,)
    assert e.params == (("aq-mode", "3"), ("no-sao", "1"))
    assert e.rc_points() == [("crf", 28.0), ("qp", 25.0)]
    assert g.metric.n_subsample == 3 and g.metric.scale_flags == "lanczos"


@pytest.mark.parametrize("doc,msg", [
    ({"heights": [360], "crf": [30], "encoders": {"vp9": {"presets": ["good"]}}}, "unknown encoder"),
    ({"heights": [360], "crf": [30], "encoders": {"x264": {"presets": ["warp"]}}}, "unknown x264 preset"),
    ({"heights": [360], "crf": [30], "encoders": {"x264": {"presets": []}}}, "non-empty"),
    ({"heights": [360], "crf": [99], "encoders": {"x264": {"presets": ["fast"]}}}, "out of range"),
    ({"heights": [360], "encoders": {"x264": {"presets": ["fast"]}}}, "no crf or qp"),
    ({"crf": [30], "encoders": {"x264": {"presets": ["fast"]}}}, "no heights"),
    ({"heights": ["720p"], "crf": [30], "encoders": {"x264": {"presets": ["fast"]}}}, "integers"),
    ({"heights": [360], "crf": [30], "encoders": {}}, "at least one"),
    ({"heights": [360], "crf": [30], "encoder": {"x264": {"presets": ["fast"]}}}, "unknown key"),
    ({"heights": [360], "crf": [30], "metrics": {"n_subsample": 0}, "encoders": {"x264": {"presets": ["fast"]}}}, "n_subsample"),
    ({"heights": [360], "crf": [30, 30], "encoders": {"x264": {"presets": ["fast"]}}}, "duplicate"),
    ({"heights": [360], "crf": [30], "encoders": {"svtav1": {"presets": ["8"], "crf": [30.5]}}}, "integers"),
    ({"heights": [360], "crf": [30], "encoders": {"x264": {"presets": ["fast"], "params": {"a": "b:c"}}}}, "may not"),
])
def test_malformed_grids(doc: dict, msg: str) -> None:
    with pytest.raises(ConfigError, match=msg) as ei:
        grid.parse_grid(doc)
    assert "\n" not in str(ei.value)


def test_malformed_toml_and_missing_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("heights = [360\ncrf = 30\n")
    with pytest.raises(ConfigError, match="malformed grid TOML"):
        grid.load_grid(bad)
    with pytest.raises(ConfigError, match="grid not found"):
        grid.load_grid(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="grid not found"):
        grid.load_grid("no-such-bundled-grid")
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError):
        grid.load_grid(binary)


def test_variants_are_configurations_between_presets() -> None:
    g = grid.parse_grid({"heights": [360, 180], "crf": [25, 35],
                         "encoders": {"x264": {"presets": ["veryslow", "ultrafast"], "params": {"aq-strength": 0.6, "psy": 0},
                                               "variants": {"medium+umh": {"preset": "medium",
                                                                           "params": {"me": "umh", "psy": 1}},
                                                            "ultrafast+cabac": {"preset": "ultrafast",
                                                                                "params": {"cabac": True}}}}}})
    x = g.encoder("x264")
    # fastest first; a variant's options are merged over the encoder's, the variant's win
    assert x.configs() == [
        ("ultrafast", "ultrafast", (("aq-strength", "0.6"), ("psy", "0"))),
        ("veryslow", "veryslow", (("aq-strength", "0.6"), ("psy", "0"))),
        ("ultrafast+cabac", "ultrafast", (("aq-strength", "0.6"), ("psy", "0"), ("cabac", "1"))),
        ("medium+umh", "medium", (("aq-strength", "0.6"), ("me", "umh"), ("psy", "1"))),
    ]
    # ranks follow the presets in use (a variant with the preset it builds on)
    assert [x.preset_rank(n) for n, _, _ in x.configs()] == [0, 2, 0, 1]
    assert g.size() == 4 * 2 * 2
    assert {p for _, p, _, _, _ in g.points()} == {"ultrafast", "veryslow", "ultrafast+cabac", "medium+umh"}


@pytest.mark.parametrize("variants,msg", [
    ({"fast+x": {"preset": "warp", "params": {"ref": 2}}}, "must be a x264 preset"),
    ({"fast+x": {"params": {"ref": 2}}}, "must be a x264 preset"),
    ({"medium": {"preset": "fast", "params": {"ref": 2}}}, "name of a x264 preset"),
    ({"fast x": {"preset": "fast", "params": {"ref": 2}}}, "variant name"),
    ({"fast+x": {"preset": "fast"}}, "at least one option"),
    ({"fast+x": {"preset": "fast", "params": {"ref": "2:3"}}}, "may not"),
    ({"fast+x": {"preset": "fast", "params": {"ref": 2}, "crf": [20]}}, "unknown key"),
    ({"fast+x": "fast"}, "must be a table"),
    (["fast"], "must be a table"),
])
def test_malformed_variants(variants, msg: str) -> None:
    with pytest.raises(ConfigError, match=msg) as ei:
        grid.parse_grid({"heights": [360], "crf": [30], "encoders": {"x264": {"presets": ["fast"], "variants": variants}}})
    assert "\n" not in str(ei.value)


@pytest.mark.parametrize("top,metrics", [(2, None), (None, 4), (3, 2)])
def test_encode_threads_and_scoring_threads_are_apart(top, metrics) -> None:
    """The grid's `threads` (each encode's, which encode_cpu_s and the probe keys depend on) and `[metrics]
    threads` (scoring's) are two settings: one once overwrote the other (found by a review of the probes)."""
    doc = {"heights": [144], "crf": [30], "encoders": {"x264": {"presets": ["ultrafast"]}}}
    if top is not None:
        doc["threads"] = top
    if metrics is not None:
        doc["metrics"] = {"threads": metrics}
    g = grid.parse_grid(doc)
    assert (g.threads, g.metric.threads) == (top or 1, metrics or 1)
