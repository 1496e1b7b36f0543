"""Renditions planning (pure: nothing runs): ladder.json checks, commands, concat lists."""
from __future__ import annotations

import copy
import json
from fractions import Fraction

import pytest

from pershot.errors import InputError
from pershot.media import SourceInfo
from pershot.renditions import (ShotEncode, check_ladder_doc, concat_list, load_ladder_json, plan_renditions, shot_args,
                                shot_format)

INFO = SourceInfo(path="/v.mp4", width=640, height=360, display_width=640, display_height=360,
                  display_aspect=Fraction(16, 9), rotation=0, fps=Fraction(24), frame_count=100, duration_s=100 / 24,
                  pix_fmt="yuv420p", bit_depth=8, is_vfr=False, codec="h264", content_hash="x")
ARGS = ["-y", "-f", "yuv4mpegpipe", "-i", "{input}", "-c:v", "libx264", "-preset", "fast", "-f", "h264", "{output}"]


def _doc() -> dict:
    def shot(i, a, b, h):
        return {"shot": i, "start_frame": a, "end_frame": b, "width": h * 16 // 9 // 2 * 2, "height": h,
                "encode": {"ffmpeg_args": list(ARGS), "output_ext": ".264"}}

    return {"schema": "pershot.ladder", "schema_version": 1,
            "source": {"path": "/v.mp4", "width": 640, "height": 360, "frames": 100},
            "rungs": [{"rung": 0, "shots": [shot(0, 0, 40, 180), shot(1, 40, 100, 180)]},
                      {"rung": 1, "shots": [shot(0, 0, 40, 360), shot(1, 40, 100, 270)]}]}


def test_plan_one_job_per_shot_with_every_rung() -> None:
    jobs = plan_renditions(_doc(), INFO, "/out")
    assert [(j.shot, j.start_frame, j.end_frame) for j in jobs] == [(0, 0, 40), (1, 40, 100)]
    assert [(e.rung, e.width, e.height) for e in jobs[1].encodes] == [(0, 320, 180), (1, 480, 270)]
    only = plan_renditions(_doc(), INFO, "/out", rungs=[1])
    assert all([e.rung for e in j.encodes] == [1] for j in only)


def test_shot_args_keep_the_encode_and_write_a_container() -> None:
    e = ShotEncode(rung=0, args=tuple(ARGS), width=320, height=180)
    assert shot_format(e) == ("mpegts", ".ts", "avc3")  # H.264: parameter sets in band
    a = shot_args(e, "/tmp/in.y4m", "/tmp/out dir/s.ts")
    assert a[:4] == ARGS[:4] and a[4] == "file:/tmp/in.y4m"
    assert a[-3:] == ["-f", "mpegts", "file:/tmp/out dir/s.ts"]
    assert a[5:-3] == ARGS[5:-3]  # the encoder and its options are untouched
    hevc = ShotEncode(rung=0, args=tuple(ARGS[:-2] + ["hevc", "{output}"]), width=320, height=180)
    av1 = ShotEncode(rung=0, args=tuple(ARGS[:-2] + ["obu", "{output}"]), width=320, height=180)
    assert shot_format(hevc) == ("mpegts", ".ts", "hev1") and shot_format(av1)[0] == "mp4"


def test_concat_list_escapes_quotes() -> None:
    text = concat_list(["/a/b.mp4", "/it's/c.mp4"])
    assert text == "file '/a/b.mp4'\nfile '/it'\\''s/c.mp4'\n"


def _broken(edit) -> dict:
    d = copy.deepcopy(_doc())
    edit(d)
    return d


@pytest.mark.parametrize("edit,msg", [
    (lambda d: d.update(schema="other"), "not a pershot ladder"),
    (lambda d: d.update(schema_version=99), "schema version"),
    (lambda d: d.update(rungs=[]), "no rungs"),
    (lambda d: d["rungs"][0].pop("rung"), "integer \"rung\""),
    (lambda d: d["rungs"][0]["shots"][0].pop("encode"), "no encode command"),
    (lambda d: d["rungs"][0]["shots"][0]["encode"]["ffmpeg_args"].remove("{input}"), "exactly one"),
    (lambda d: d["rungs"][0]["shots"][0]["encode"].update(ffmpeg_args=["-i", "{input}", "{output}"]),
     "output format"),
    (lambda d: d["rungs"][0]["shots"][1].update(end_frame=101), "outside"),
    (lambda d: d["rungs"][1]["shots"][1].update(start_frame=41), "differ from the same shot"),
    (lambda d: d["rungs"][0]["shots"][0].pop("width"), "width/height"),
    (lambda d: d["source"].update(frames=99), "not the same video"),
    (lambda d: d["source"].update(width=1280, height=720), "not the same video"),
])
def test_bad_ladders(edit, msg: str) -> None:
    with pytest.raises(InputError, match=msg) as ei:
        plan_renditions(_broken(edit), INFO, "/out")
    assert "\n" not in str(ei.value)


def test_load_ladder_json(tmp_path) -> None:
    p = tmp_path / "ladder.json"
    p.write_text(json.dumps(_doc()))
    check_ladder_doc(load_ladder_json(p))
    p.write_text("{not json")
    with pytest.raises(InputError, match="not a ladder.json"):
        load_ladder_json(p)
    with pytest.raises(InputError, match="no such ladder file"):
        load_ladder_json(tmp_path / "missing.json")


def test_shot_jobs_need_their_frames_at_every_size_and_a_full_disk_says_so(tmp_path, monkeypatch) -> None:
    import shutil

    from pershot.errors import ResourceError
    from pershot.media import check_temp_space, y4m_bytes
    from pershot.renditions import shot_temp_bytes

    jobs = plan_renditions(_doc(), INFO, "/out", work_dir=str(tmp_path))
    # shot 0: 40 frames at 320x180 and 640x360; shot 1: 60 frames at 320x180 and 480x270
    assert [shot_temp_bytes(j) for j in jobs] == [y4m_bytes(320, 180, 40) + y4m_bytes(640, 360, 40),
                                                  y4m_bytes(320, 180, 60) + y4m_bytes(480, 270, 60)]
    assert y4m_bytes(640, 360, 40) > 40 * 640 * 360 * 3 // 2
    needs = [(str(tmp_path), shot_temp_bytes(j)) for j in jobs]
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=max(n for _, n in needs)))
    check_temp_space(needs, 1, "encoding the renditions")  # one job at a time fits
    with pytest.raises(ResourceError, match=r"encoding the renditions needs about .* MB of temporary space"):
        check_temp_space(needs, 2, "encoding the renditions")
