"""Shot detection and the shots.csv format (pershot.shots)."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import core_clips
from pershot import media, shots
from pershot.errors import ConfigError, InputError


# ---------------------------------------------------------------- pure


def test_enforce_lengths_examples() -> None:
    assert shots.enforce_lengths([10, 20], 30, 5, None) == [0, 10, 20, 30]
    assert shots.enforce_lengths([], 30, 5, None) == [0, 30]
    assert shots.enforce_lengths([2, 10], 30, 5, None) == [0, 10, 30]  # 0-2 too short: the cut at 2 goes
    assert shots.enforce_lengths([10, 27], 30, 5, None) == [0, 10, 30]  # last shot too short: joins
    assert shots.enforce_lengths([0, 30, 45, -3], 30, 1, None) == [0, 30]
    assert shots.enforce_lengths([], 25, 1, 10) == [0, 9, 17, 25]  # 3 equal parts: 9, 8, 8
    assert shots.enforce_lengths([], 20, 1, 10) == [0, 10, 20]


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 600), cuts=st.lists(st.integers(-5, 620), max_size=30), min_f=st.integers(1, 40),
       max_f=st.one_of(st.none(), st.integers(1, 200)))
def test_enforce_lengths_covers_every_frame_once(n: int, cuts: list[int], min_f: int, max_f: int | None) -> None:
    b = shots.enforce_lengths(cuts, n, min_f, max_f)
    assert b[0] == 0 and b[-1] == n
    assert all(x < y for x, y in zip(b, b[1:]))
    if max_f:
        assert all(y - x <= max_f for x, y in zip(b, b[1:]))
    times = [i / 25 for i in range(n + 1)]
    s = shots.shots_from_boundaries(b, times)
    shots.check_cover(s, n)
    assert sum(x.frames for x in s) == n
    assert sum(x.duration_s for x in s) == pytest.approx(n / 25)


def test_check_cover_rejects_gaps() -> None:
    s = [shots.Shot(0, 0, 10, 0, 1), shots.Shot(1, 11, 30, 1.1, 3)]
    with pytest.raises(InputError):
        shots.check_cover(s, 30)


def test_shot_properties_and_csv_round_trip(tmp_path: Path) -> None:
    s = [shots.Shot(0, 0, 10, 0.0, 1.0), shots.Shot(1, 10, 30, 1.0, 3.0)]
    assert s[1].frames == 20 and s[1].duration_s == pytest.approx(2.0)
    dest = tmp_path / "o" / "shots.csv"
    shots.write_shots_csv(s, dest)
    assert dest.read_text().splitlines()[0] == "shot,start_frame,end_frame,frames,start_s,end_s,duration_s"
    assert shots.read_shots_csv(dest) == s
    assert [p.name for p in dest.parent.iterdir()] == ["shots.csv"]  # no temp file left
    bad = tmp_path / "bad.csv"
    bad.write_text("shot,start_frame\n0,zero\n")
    with pytest.raises(InputError, match="malformed"):
        shots.read_shots_csv(bad)


# ---------------------------------------------------------------- real clips


def test_counter_shots_are_frame_exact(media_dir: Path) -> None:
    info = media.probe_source(media_dir / "counter.mp4")
    for det in ("adaptive", "content"):
        s = shots.detect_shots(info, detector=det)
        assert [(x.start_frame, x.end_frame) for x in s] == [(0, 10), (10, 20), (20, 30)]
        assert sum(x.frames for x in s) == 30
        assert [x.start_s for x in s] == [0.0, 1.0, 2.0] and s[-1].end_s == 3.0


def test_sample_clip_cuts(media_dir: Path) -> None:
    sample = Path(__file__).resolve().parent.parent / "examples" / "sample.mp4"
    s = shots.detect_shots(sample)
    assert [x.start_frame for x in s] == [0, 30, 180]
    assert s[-1].end_frame == 240


def test_max_shot_splits_and_min_shot_merges(media_dir: Path) -> None:
    info = media.probe_source(media_dir / "counter.mp4")
    s = shots.detect_shots(info, detector="none", max_shot_s=1.4)
    assert [(x.start_frame, x.end_frame) for x in s] == [(0, 10), (10, 20), (20, 30)]
    s = shots.detect_shots(info, detector="content", max_shot_s=0.5)
    assert all(x.frames == 5 for x in s) and len(s) == 6
    # 1.5 s minimum: the 10-frame shots cannot stand alone; each short one joins its predecessor
    s = shots.detect_shots(info, detector="content", min_shot_s=1.5, max_shot_s=None)
    assert [(x.start_frame, x.end_frame) for x in s] == [(0, 30)]


def test_delayed_start_and_vfr_keep_every_frame(media_dir: Path, tmp_path: Path) -> None:
    ds = shots.detect_shots(media_dir / "delayed_start.mp4")
    assert [(x.start_frame, x.end_frame, x.start_s) for x in ds] == [(0, 24, 0.0)]
    assert ds[0].end_s == pytest.approx(0.96)

    vfr = core_clips.vfr_clip(media_dir, tmp_path)
    info = media.probe_source(vfr)
    s = shots.detect_shots(info, detector="content", min_shot_s=0.2)
    assert [x.start_frame for x in s] == [0, 10]  # the cut at source frame 30
    assert s[-1].end_frame == info.frame_count == 40
    assert s[1].start_s == pytest.approx(10 / 30, abs=1e-3)
    assert s[-1].end_s == pytest.approx(info.duration_s)


def test_fades_threshold_detector(media_dir: Path) -> None:
    s = shots.detect_shots(media_dir / "fades.mp4", detector="threshold")
    assert [x.start_frame for x in s] == [0, 84, 167]


def test_bad_arguments(media_dir: Path) -> None:
    with pytest.raises(ConfigError, match="unknown shot detector"):
        shots.detect_shots(media_dir / "counter.mp4", detector="magic")
    with pytest.raises(InputError):
        shots.detect_shots(media_dir / "counter.mp4", min_shot_s=-1)
    with pytest.raises(InputError):
        shots.detect_shots(media_dir / "counter.mp4", min_shot_s=5, max_shot_s=2)
