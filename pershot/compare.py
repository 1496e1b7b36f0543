"""Ladders of one title side by side: Bjøntegaard deltas against the first, and what each costs to encode.

The question a transcoding team asks of two ladders (x264 against x265, complexity 0.1 against 1,
this week's grid against last week's): how many bits does the second save at equal quality, and
for how much more encode CPU? :func:`compare_ladders` answers it from ladder.json documents (or
:class:`~pershot.ladder.Ladder` objects): each ladder's rungs are its rate-quality curve, and every
ladder after the first gets its BD-rate against the first in each metric both record (VMAF, PSNR-Y,
SSIM, and XPSNR-Y where scored), its BD-VMAF (points at equal bitrate), and its encode CPU over the
first's. Pure: no I/O.

Each ladder's figures come from its probes, each shot encoded and scored on its own; ``pershot encode
--verify`` checks the renditions against them. A BD figure needs two rungs on each side whose qualities
overlap; where one cannot be computed, the row says why (``note``) and the figure is empty. Ladders of
different titles, or whose VMAF comes from different models, are not compared in that metric.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import pandas as pd

from .bdrate import bd_quality, bd_rate
from .errors import InputError, PershotError

__all__ = ["compare_ladders", "COMPARE_METRICS", "COMPARE_COLUMNS"]

#: rung field -> the name in the columns (``bd_rate_<name>``)
COMPARE_METRICS = {"vmaf": "vmaf", "psnr_y": "psnr_y", "ssim": "ssim", "xpsnr_y": "xpsnr_y"}
COMPARE_COLUMNS = ("ladder", "encoder", "rungs", "min_kbps", "max_kbps", "min_vmaf", "max_vmaf", "encode_cpu_s",
                   "cpu_vs_first", "complexity", "bd_rate_vmaf", "bd_rate_psnr_y", "bd_rate_ssim", "bd_rate_xpsnr_y",
                   "bd_vmaf", "note")


def _doc(x: Any) -> Mapping[str, Any]:
    if isinstance(x, Mapping):
        return x
    to_dict = getattr(x, "to_dict", None)
    if callable(to_dict):  # a Ladder
        return to_dict()
    raise InputError(f"not a ladder: {type(x).__name__} (give ladder.json documents or Ladder objects)")


def _curve(doc: Mapping[str, Any], field: str) -> tuple[list[float], list[float]]:
    rates, qs = [], []
    for r in doc.get("rungs") or []:
        rate, q = r.get("bitrate_kbps"), r.get(field)
        if isinstance(rate, (int, float)) and isinstance(q, (int, float)) and math.isfinite(rate) and math.isfinite(q):
            rates.append(float(rate))
            qs.append(float(q))
    return rates, qs


def _title(doc: Mapping[str, Any]) -> tuple[Any, ...]:
    """What identifies the title a ladder is of: its source path and shot spans (None where not recorded)."""
    src = doc.get("source") or {}
    spans = sorted({(s.get("start_frame"), s.get("end_frame")) for r in doc.get("rungs") or []
                    for s in r.get("shots") or []})
    return (src.get("path"), tuple(spans))


def compare_ladders(ladders: Sequence[Any], names: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per ladder (:data:`COMPARE_COLUMNS`), the first the reference: its deltas are 0 (or empty).

    ``bd_rate_<metric>``: the BD-rate against the first ladder, in percent (negative = fewer bits at
    equal quality); ``bd_vmaf``: the BD-VMAF, in VMAF points at equal bitrate; ``cpu_vs_first``: encode
    CPU over the first's (the sum over rungs and shots of the chosen probes' encode CPU); ``complexity``:
    the ladder's own complexity ratio (of its own anchor)."""
    docs = [_doc(x) for x in ladders]
    if len(docs) < 2:
        raise InputError("give two ladders or more to compare")
    names = list(names) if names is not None else [f"ladder {i + 1}" for i in range(len(docs))]
    if len(names) != len(docs):
        raise InputError("one name per ladder")
    ref = docs[0]
    titles = [_title(d) for d in docs]
    ref_cpu = float(sum(float(r.get("encode_cpu_s") or 0.0) for r in ref.get("rungs") or []))
    ref_curves = {field: _curve(ref, field) for field in COMPARE_METRICS}
    rows = []
    for i, (d, name) in enumerate(zip(docs, names)):
        notes: list[str] = []
        rungs = d.get("rungs") or []
        r_rates, r_vmaf = _curve(d, "vmaf")
        rates = [float(r["bitrate_kbps"]) for r in rungs if isinstance(r.get("bitrate_kbps"), (int, float))]
        cpu = float(sum(float(r.get("encode_cpu_s") or 0.0) for r in rungs))
        row: dict[str, Any] = {
            "ladder": name, "encoder": d.get("encoder"), "rungs": len(rungs),
            "min_kbps": min(rates) if rates else math.nan, "max_kbps": max(rates) if rates else math.nan,
            "min_vmaf": min(r_vmaf) if r_vmaf else math.nan, "max_vmaf": max(r_vmaf) if r_vmaf else math.nan,
            "encode_cpu_s": cpu, "cpu_vs_first": cpu / ref_cpu if ref_cpu > 0 else math.nan,
            "complexity": (d.get("complexity") or {}).get("achieved"),
        }
        (path, spans), (ref_path, ref_spans) = titles[i], titles[0]
        unsaid = i > 0 and (path is None or ref_path is None)  # a ladder from `pershot optimize` names no video
        same_title = i == 0 or (spans == ref_spans and (unsaid or path == ref_path))
        if not same_title:
            notes.append("another title or other shots than the first ladder's: not compared")
        elif unsaid:
            notes.append("one of the two does not say which video it is of (pershot optimize): compared by its "
                         "shots alone")
        models = {str(x.get("vmaf_model")) for x in (ref, d) if x.get("vmaf_model")}
        for field, col in COMPARE_METRICS.items():
            value: float | None = None
            if i == 0:
                value = 0.0 if len(_curve(d, field)[0]) >= 2 else None
            elif same_title and not (field == "vmaf" and len(models) > 1):
                a, b = ref_curves[field], _curve(d, field)
                if len(a[0]) >= 2 and len(b[0]) >= 2:
                    try:
                        value = 100.0 * bd_rate(a, b)
                    except PershotError as ex:
                        if field == "vmaf":
                            notes.append(f"BD-rate: {ex}")
                elif field == "vmaf":
                    notes.append("a BD-rate needs two rungs on each side")
            row[f"bd_rate_{col}"] = value if value is not None else math.nan
        if same_title:  # a rung left out of a curve is said, never silently dropped
            n_rated = len(rates) - sum(1 for x in rates if not math.isfinite(x))
            if n_rated < len(rungs):
                notes.append(f"{len(rungs) - n_rated} rung(s) without a numeric bitrate_kbps left out")
            for field in COMPARE_METRICS:
                kept = len(_curve(d, field)[0])
                if kept < n_rated and (kept > 0 or field == "vmaf"):
                    notes.append(f"{n_rated - kept} rung(s) without {field} left out of its BD-rate")
        if i > 0 and len(models) > 1:
            notes.append(f"VMAF scored by different models ({', '.join(sorted(models))}): not compared")
        bdq = math.nan
        if i == 0:
            bdq = 0.0 if len(r_vmaf) >= 2 else math.nan
        elif same_title and len(models) <= 1 and len(r_vmaf) >= 2 and len(ref_curves["vmaf"][0]) >= 2:
            try:
                bdq = bd_quality(ref_curves["vmaf"], (r_rates, r_vmaf))
            except PershotError:
                pass
        row["bd_vmaf"] = bdq
        row["note"] = "; ".join(notes)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))
