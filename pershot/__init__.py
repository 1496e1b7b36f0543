"""pershot: per-shot rate-distortion-complexity video encoding optimizer."""
from __future__ import annotations

__version__ = "0.1.0"
