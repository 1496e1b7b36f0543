"""The public Python API: thin functions that chain the pure core stages.

No printing here: progress is reported through optional callbacks so the CLI
(or a notebook) decides how to show it.
"""
from __future__ import annotations

# ---------------------------------------------------------------- core pipeline: probe_source / detect_shots / probe

# ---------------------------------------------------------------- optimizer: optimize / ladder
