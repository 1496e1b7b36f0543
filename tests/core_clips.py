"""Small clips for the core-pipeline tests, made at test time from ../shared/media.

Plain functions (no fixtures) so each test module builds what it needs in its
own temporary folder; every clip is <= 360p and <= 3 s.
"""
from __future__ import annotations

from pathlib import Path

from conftest import cut
from pershot import ffmpeg


def counter_small(media_dir: Path, dst_dir: Path) -> Path:
    """counter.mp4 (30 frames, 10 fps, cuts at 10 and 20) at 180p."""
    return cut(media_dir / "counter.mp4", dst_dir / "counter180.mp4", height=180)


def two_shots(media_dir: Path, dst_dir: Path, height: int = 270, gop: int = 12) -> Path:
    """testvideo.mp4 frames 150-209 (a cut at source frame 180 -> frame 30 here), keyframe every ``gop``."""
    return cut(media_dir / "testvideo.mp4", dst_dir / f"two_shots{height}.mp4", start_frame=150, frames=60,
               height=height, extra=["-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0", "-bf", "2"])


def vfr_clip(media_dir: Path, dst_dir: Path) -> Path:
    """40 frames of testvideo.mp4 (frames 20-59: a cut at source frame 30 -> frame 10 here), 180p,
    variable frame rate (15 frames at 1/30 s, then 25 at 2/30 s) and a 0.5 s start offset."""
    dst = dst_dir / "vfr.mp4"
    ffmpeg.run([
        "-y", "-v", "error", "-i", str(media_dir / "testvideo.mp4"),
        "-vf", "trim=start_frame=20:end_frame=60,scale=-2:180,setpts='(N+if(gte(N,15),N-15,0))/30/TB'",
        "-fps_mode", "passthrough", "-enc_time_base", "1/30000", "-an",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-g", "8", "-pix_fmt", "yuv420p",
        "-output_ts_offset", "0.5", str(dst),
    ])
    return dst


def rotated(src: Path, dst: Path, degrees: int) -> Path:
    """``src`` with a display-matrix rotation (counter-clockwise degrees), stream copied."""
    ffmpeg.run(["-y", "-v", "error", "-display_rotation", str(degrees), "-i", str(src), "-c", "copy", str(dst)])
    return dst


def with_sar(src: Path, dst: Path, sar: str = "4/3") -> Path:
    ffmpeg.run(["-y", "-v", "error", "-i", str(src), "-vf", f"setsar={sar}", "-c:v", "libx264", "-preset",
                "ultrafast", "-crf", "18", str(dst)])
    return dst


def audio_only(dst: Path) -> Path:
    ffmpeg.run(["-y", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", str(dst)])
    return dst


def truncated(src: Path, dst: Path) -> Path:
    """A faststart MP4 (index first) cut in half: opens, but half its frames are gone."""
    full = dst.with_name(dst.stem + "_full.mp4")
    ffmpeg.run(["-y", "-v", "error", "-i", str(src), "-c", "copy", "-movflags", "+faststart", str(full)])
    data = full.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    full.unlink()
    return dst


def edit_list(src: Path, dst: Path, start_s: float = 0.5) -> Path:
    """``src`` stream-copied from ``start_s``: the MP4 keeps the GOP's leading packets, hidden by an edit list."""
    ffmpeg.run(["-y", "-v", "error", "-ss", f"{start_s}", "-i", str(src), "-c", "copy", str(dst)])
    return dst


def interlaced_clip(media_dir: Path, dst: Path, start_frame: int = 200) -> Path:
    """60 frames of testvideo.mp4 from ``start_frame`` (from 200: a fade up to a photograph) at 320x180,
    woven into 30 interlaced frames, top field first."""
    ffmpeg.run(["-y", "-v", "error", "-i", str(media_dir / "testvideo.mp4"), "-vf",
                f"trim=start_frame={start_frame}:end_frame={start_frame + 60},setpts=PTS-STARTPTS,scale=320:180,"
                "interlace=scan=tff",
                "-c:v", "libx264", "-flags", "+ildct+ilme", "-x264-params", "tff=1", "-crf", "14", str(dst)],
               what="making an interlaced clip failed")
    return dst
