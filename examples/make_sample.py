#!/usr/bin/env python3
"""Rebuild examples/sample.mp4 from PySceneDetect's testvideo.mp4.

Frames 0-239 of testvideo.mp4 (1280x720, 29.97 fps; cuts at frames 30 and
180), scaled to 640x360 (bicubic), H.264 CRF 18 veryslow, no audio, with
``+faststart``. Usage::

    python examples/make_sample.py [path/to/testvideo.mp4]

The default source is ``../shared/media/testvideo.mp4`` beside the checkout.
testvideo.mp4 is (c) 2013 Brandon Castellano, BSD 3-Clause (see README.md here).
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from pershot import ffmpeg  # noqa: E402
from pershot.atomic import atomic_path  # noqa: E402

FRAMES = 240
HEIGHT = 360


def main(argv: list[str]) -> int:
    src = Path(argv[1]) if len(argv) > 1 else HERE.parent.parent / "shared" / "media" / "testvideo.mp4"
    if not src.is_file():
        print(f"make_sample: source not found: {src}", file=sys.stderr)
        return 2
    dest = HERE / "sample.mp4"
    with atomic_path(dest) as tmp:
        ffmpeg.run([
            "-y", "-v", "error", "-i", f"file:{src}",
            "-vf", f"trim=start_frame=0:end_frame={FRAMES},setpts=PTS-STARTPTS,scale=-2:{HEIGHT}:flags=bicubic",
            "-an", "-sn", "-dn", "-map_metadata", "-1",
            "-c:v", "libx264", "-preset", "veryslow", "-crf", "18", "-pix_fmt", "yuv420p",
            "-movflags", "+faststart", "-f", "mp4", f"file:{tmp}",
        ], what="making the sample clip failed")
    print(f"{dest} ({dest.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
