"""`pershot doctor / shots / probe` through pershot.cli.main: outputs, exit codes, bad input."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import core_clips
from pershot.cli import main
from pershot.errors import ConfigError, InputError, MediaError, MissingDependencyError, ResourceError


@pytest.fixture(scope="module")
def clips(media_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli")
    small = core_clips.counter_small(media_dir, d)
    odd = d / "-odd name 'with' \"quotes\".mp4"
    shutil.copy(small, odd)
    return {
        "small": small,
        "odd": odd,
        "text": _write(d / "notes.mp4", "definitely not a video\n" * 40),
        "audio": core_clips.audio_only(d / "tone.m4a"),
        "truncated": core_clips.truncated(small, d / "truncated.mp4"),
        "bad_toml": _write(d / "bad.toml", "heights = [90\n"),
        "bad_enc": _write(d / "vp9.toml", 'heights = [90]\ncrf = [30]\n[encoders.vp9]\npresets = ["good"]\n'),
        "tiny": _write(d / "tiny.toml", 'heights = [90]\ncrf = [30, 40]\n[encoders.x264]\npresets = ["ultrafast"]\n'),
    }


def _write(p: Path, text: str) -> Path:
    p.write_text(text)
    return p


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("pershot: error: ") and "Traceback" not in err
    return lines[0]


def test_doctor(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "ffmpeg" in out and "libx264" in out and "libvmaf" in out and "x264 " in out
    assert "torch" in out and "compressai" in out


def test_doctor_fails_without_ffmpeg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pershot import ffmpeg

    try:
        rc = main(["doctor", "--ffmpeg", str(tmp_path / "no-ffmpeg")])
    finally:
        ffmpeg.set_ffmpeg(None)
        import os

        os.environ.pop("PERSHOT_FFMPEG", None)
    assert rc == MissingDependencyError.exit_code
    _one_error_line(capsys.readouterr().err)


def test_shots_writes_csv(clips: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["shots", str(clips["small"]), "-o", str(out), "-q"]) == 0
    df = pd.read_csv(out / "shots.csv")
    assert df.start_frame.tolist() == [0, 10, 20] and df.end_frame.tolist() == [10, 20, 30]
    assert df.frames.sum() == 30 and list(df.columns)[:6] == ["shot", "start_frame", "end_frame", "frames",
                                                               "start_s", "end_s"]
    assert sorted(p.name for p in out.iterdir()) == ["shots.csv"]
    assert main(["shots", str(clips["small"]), "-o", str(out), "--detector", "none", "--max-shot", "1.0", "-q"]) == 0
    assert pd.read_csv(out / "shots.csv").frames.tolist() == [10, 10, 10]


def test_odd_file_names(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out 'dir'"
    assert main(["shots", "-o", str(out), "-q", "--", str(clips["odd"])]) == 0
    assert len(pd.read_csv(out / "shots.csv")) == 3
    assert main(["probe", "-o", str(out), "--grid", str(clips["tiny"]), "--no-cache", "-j", "1", "-q", "--",
                 str(clips["odd"])]) == 0
    assert len(pd.read_csv(out / "probes.csv")) == 3 * 2


def test_probe_writes_both_csvs_and_uses_the_cache(clips: dict[str, Path], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    args = ["probe", str(clips["small"]), "--grid", str(clips["tiny"]), "-o", str(out), "--cache", str(cache), "-j", "2"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "6 probes over 3 shots (0 from cache)" in err
    assert "probes" in err and "%" in err  # the tqdm bar, on stderr
    df = pd.read_csv(out / "probes.csv")
    assert len(df) == 6 and (df.height == 90).all() and (df.width == 160).all()
    assert len(pd.read_csv(out / "shots.csv")) == 3
    assert main(args + ["-q"]) == 0
    cap = capsys.readouterr()
    assert cap.err == "" and cap.out == ""  # --quiet
    assert pd.read_csv(out / "probes.csv").cached.all()
    # --shots: reuse a shots.csv
    (out / "probes.csv").unlink()
    assert main(args + ["-q", "--shots", str(out / "shots.csv")]) == 0
    assert len(pd.read_csv(out / "probes.csv")) == 6


@pytest.mark.parametrize("case,cmd,code", [
    ("missing", "shots", InputError.exit_code),
    ("missing", "probe", InputError.exit_code),
    ("text", "shots", MediaError.exit_code),
    ("audio", "probe", MediaError.exit_code),
    ("truncated", "probe", MediaError.exit_code),
    ("bad_toml", "probe", ConfigError.exit_code),
    ("bad_enc", "probe", ConfigError.exit_code),
    ("no_grid", "probe", ConfigError.exit_code),
])
def test_bad_input_one_line_distinct_code_nothing_written(clips: dict[str, Path], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str], case: str, cmd: str,
                                                          code: int) -> None:
    out = tmp_path / "out"
    src = {"missing": tmp_path / "nope.mp4"}.get(case, clips.get(case, clips["small"]))
    argv = [cmd, str(src), "-o", str(out), "--detector", "none"]
    if cmd == "probe":
        grid = {"bad_toml": clips["bad_toml"], "bad_enc": clips["bad_enc"], "no_grid": tmp_path / "nogrid.toml"}
        argv += ["--grid", str(grid.get(case, clips["tiny"])), "--no-cache", "-j", "1"]
    assert main(argv) == code
    line = _one_error_line(capsys.readouterr().err)
    assert len(line) < 400
    assert not out.exists() or not any(out.iterdir())  # nothing (half-)written


def test_exit_codes_are_distinct() -> None:
    codes = [InputError.exit_code, MediaError.exit_code, ConfigError.exit_code, MissingDependencyError.exit_code,
             ResourceError.exit_code]
    assert len(set(codes)) == len(codes) and 0 not in codes


def test_too_little_temporary_space_is_one_line_before_any_encode(clips: dict[str, Path], tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import os

    from pershot.grid import load_grid
    from pershot.media import TMP_ENV, probe_source
    from pershot.shots import Shot

    probe = importlib.import_module("pershot.probe")  # the module (``pershot.probe`` is also the API function)
    jobs_dir = tmp_path / "tmp"
    jobs_dir.mkdir()
    monkeypatch.setenv(TMP_ENV, str(jobs_dir))
    grid = _write(tmp_path / "two.toml",
                  'heights = [144, 90]\ncrf = [30, 40]\n[encoders.x264]\npresets = ["ultrafast"]\n')
    info = probe_source(clips["small"])
    whole = Shot(index=0, start_frame=0, end_frame=info.frame_count, start_s=0.0, end_s=info.duration_s)
    plan = probe.plan_probes(info, [whole], load_grid(grid), None)
    assert len(plan.jobs) == 2  # one per resolution
    need = [probe.job_temp_bytes(j) for j in plan.jobs]
    # the reference alone, as raw 4:2:0 frames, is a lower bound
    assert min(need) >= info.frame_count * info.display_width * info.display_height * 3 // 2
    real = shutil.disk_usage
    free = {"bytes": sum(sorted(need, reverse=True)[:2]) - 1}  # one byte short of two jobs at once

    def fake(path):
        return real(path)._replace(free=free["bytes"]) if os.path.samefile(path, jobs_dir) else real(path)

    monkeypatch.setattr(shutil, "disk_usage", fake)
    out = tmp_path / "out"
    encodes = []
    monkeypatch.setattr(probe, "run_job", lambda job: encodes.append(job) or [])
    argv = ["probe", str(clips["small"]), "-o", str(out), "--detector", "none", "--grid", str(grid), "--no-cache", "-q"]
    assert main(argv + ["-j", "2"]) == ResourceError.exit_code
    line = _one_error_line(capsys.readouterr().err)
    assert str(jobs_dir) in line and "PERSHOT_TMPDIR" in line and "-j" in line
    assert not encodes and not (out / "probes.csv").exists()
    assert not out.exists() or {p.name for p in out.iterdir()} <= {"shots.csv"}  # the shots, finished, and no temp
    # one job at a time fits
    probe.check_job_space(plan.jobs, 1)
    with pytest.raises(ResourceError):
        probe.check_job_space(plan.jobs, 2)


def test_an_output_folder_that_cannot_be_one_is_one_line_before_any_work(clips: dict[str, Path], tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A file where the folder should be, or above it, was a traceback (FileExistsError, NotADirectoryError),
    after the probes for `ladder`; it is exit 2 before any work, and nothing is written."""
    a_file = _write(tmp_path / "a_file", "x")
    for out in (a_file, a_file / "sub"):
        assert main(["shots", str(clips["small"]), "-o", str(out), "-q"]) == 2
        assert "the output folder" in _one_error_line(capsys.readouterr().err)
        assert main(["ladder", str(clips["small"]), "-o", str(out), "--grid", str(clips["tiny"]), "-q"]) == 2
        assert "is a file" in _one_error_line(capsys.readouterr().err)
    assert a_file.read_text() == "x" and not list(tmp_path.glob("*.tmp*"))


@pytest.mark.parametrize("opts", [["--min-shot", "nan"], ["--min-shot", "inf"], ["--max-shot", "nan"],
                                  ["--threshold", "nan"], ["--threshold", "-5"],
                                  ["--detector", "threshold", "--threshold", "inf"]])
def test_shot_options_that_are_not_numbers_of_seconds(clips: dict[str, Path], tmp_path: Path, opts: list[str],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """NaN was a traceback (int(nan)), and a NaN or negative threshold a silently wrong split."""
    assert main(["shots", str(clips["small"]), "-o", str(tmp_path / "o"), *opts]) == 2
    assert opts[-2] in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "o").exists()


def test_max_shot_inf_never_splits(clips: dict[str, Path], tmp_path: Path) -> None:
    assert main(["shots", str(clips["small"]), "-o", str(tmp_path / "a"), "--max-shot", "inf", "-q"]) == 0
    assert main(["shots", str(clips["small"]), "-o", str(tmp_path / "b"), "--max-shot", "0", "-q"]) == 0
    assert (tmp_path / "a" / "shots.csv").read_text() == (tmp_path / "b" / "shots.csv").read_text()


def test_a_file_named_like_an_option_gets_a_hint(clips: dict[str, Path], tmp_path: Path, monkeypatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copy(clips["small"], tmp_path / "-clip.mp4")
    with pytest.raises(SystemExit) as ei:
        main(["info", "-clip.mp4"])
    assert ei.value.code == 2 and "pershot info [options] -- -clip.mp4" in capsys.readouterr().err
    with pytest.raises(SystemExit) as ei:  # an unrecognized argument: the root parser's error names the command
        main(["shots", str(clips["small"]), "-clip.mp4"])
    assert ei.value.code == 2 and "pershot shots [options] -- -clip.mp4" in capsys.readouterr().err
    assert main(["info", "--", "-clip.mp4"]) == 0


def test_a_dry_run_writes_nothing_so_needs_no_output_folder(clips: dict[str, Path], tmp_path: Path, monkeypatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "out", "a file where the default output folder would be")
    assert main(["probe", str(clips["small"]), "--grid", str(clips["tiny"]), "--dry-run", "-j", "1"]) == 0
    assert main(["probe", str(clips["small"]), "--grid", str(clips["tiny"]), "-q"]) == 2
    assert "the output folder out is a file" in capsys.readouterr().err


def test_a_grid_error_says_where_once(clips: dict[str, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    grid = _write(tmp_path / "g.toml", 'heights = [90]\ncrf = [30]\n[metrics]\nn_subsample = 0\n'
                                       '[encoders.x264]\npresets = ["ultrafast"]\n')
    assert main(["probe", str(clips["small"]), "-o", str(tmp_path / "o"), "--grid", str(grid)]) == 4
    line = _one_error_line(capsys.readouterr().err)
    assert line.count("g.toml") == 1 and "n_subsample" in line


# ---------------------------------------------------------------- optimizer flows on a tiny grid


def _tiny_grid(tmp_path: Path, extra: str = "", encoders: str = '[encoders.x264]\npresets = ["ultrafast", "veryfast"]\n'
               ) -> Path:
    return _write(tmp_path / "g.toml", f'heights = [90]\ncrf = [30, 40]\n{extra}{encoders}')


def test_optimize_writes_the_commands_the_ladder_wrote(clips: dict[str, Path], tmp_path: Path) -> None:
    """A grid keyint (and threads) is in probes.csv, so `pershot optimize` gives the same encode commands."""
    import json

    grid = _tiny_grid(tmp_path, "keyint = 4\n")
    out = tmp_path / "lad"
    assert main(["ladder", str(clips["small"]), "--grid", str(grid), "--rungs", "2", "-c", "1", "-o", str(out),
                 "--no-plots", "-q", "--cache", str(tmp_path / "c")]) == 0
    probes = pd.read_csv(out / "probes.csv")
    assert (probes["keyint"] == 4).all() and (probes["threads"] == 1).all()
    assert main(["optimize", str(out / "probes.csv"), "--rungs", "2", "-c", "1", "-o", str(tmp_path / "opt"),
                 "--no-plots", "-q"]) == 0

    def cmds(d: Path) -> list:
        doc = json.loads((d / "ladder.json").read_text())
        return [s["encode"]["ffmpeg_args"] for r in doc["rungs"] for s in r["shots"]]

    assert cmds(out) and cmds(tmp_path / "opt") == cmds(out)
    assert all("keyint=4" in " ".join(c) for c in cmds(out))


def test_ladder_arguments_fail_before_any_probe(clips: dict[str, Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import pershot
    from pershot.errors import OptimizeError

    grid, cache = _tiny_grid(tmp_path), tmp_path / "cache"
    capsys.readouterr()
    assert main(["ladder", str(clips["small"]), "--grid", str(grid), "--encoder", "x265", "-o", str(tmp_path / "o"),
                 "-q", "--cache", str(cache)]) == 6
    assert "no probes for encoder 'x265'" in _one_error_line(capsys.readouterr().err)
    with pytest.raises(OptimizeError, match="complexity"):
        pershot.ladder(clips["small"], 2, rungs=2, grid=grid, cache=cache)
    assert not (cache.exists() and any(p.is_file() for p in cache.rglob("*")))  # nothing was probed


def test_dry_run_reads_encoder_as_the_run_does(clips: dict[str, Path], tmp_path: Path, media_dir: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import cut

    grid = _tiny_grid(tmp_path, encoders='[encoders.x264]\npresets = ["ultrafast"]\n'
                                         '[encoders.x265]\npresets = ["ultrafast"]\n')
    for enc in ("libx264", "x264,x265", "x264, libx265"):
        capsys.readouterr()
        assert main(["ladder", str(clips["small"]), "--grid", str(grid), "--dry-run", "--encoder", enc, "-q"]) == 0
        assert "plan: " in capsys.readouterr().out
    assert main(["ladder", str(clips["small"]), "--grid", str(grid), "--dry-run", "--sparse", "--encoder",
                 "x264,x265", "-q"]) == 0
    out = capsys.readouterr().out
    assert "== x264" in out and "== x265" in out
    one = cut(media_dir / "counter.mp4", tmp_path / "one.mp4", frames=1, height=90)
    assert main(["ladder", str(one), "--grid", str(grid), "--dry-run", "-q"]) == 0  # a one-frame source
    assert "calibrated on 1 and 1 frames" in capsys.readouterr().out


def test_a_failed_sparse_ladder_keeps_its_probes(clips: dict[str, Path], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """One preset: the anchor is the ladder, so complexity 0.5 is infeasible; what was measured is written."""
    grid = _tiny_grid(tmp_path, encoders='[encoders.x264]\npresets = ["ultrafast"]\n')
    out = tmp_path / "o"
    capsys.readouterr()
    assert main(["ladder", str(clips["small"]), "--grid", str(grid), "--sparse", "--rungs", "2", "-c", "0.5",
                 "-o", str(out), "-q", "--no-plots"]) == 7
    line = _one_error_line(capsys.readouterr().err)
    assert "smallest feasible value is" in line and "points measured" in line
    probes = pd.read_csv(out / "probes.csv")
    assert len(probes) and (probes["preset"] == "ultrafast").all()
