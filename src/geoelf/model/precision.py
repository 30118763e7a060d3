"""The numeric precision of the ELF head on grids: bfloat16 where the CPU computes it natively."""

from __future__ import annotations

from geoelf.errors import GeoelfError

HEAD_PRECISIONS = ("auto", "bfloat16", "float32")
# The head in bfloat16, measured on dataset v1's validation split against float32
# (scripts/head_precision.py): pooled R² −3e-6, MAE +7e-6, the same frames with φ_3D within 0.02 of
# DFT, mean |Δφ_3D| between the two 0.0004 (at most 0.011, under the calibrated σ_φ); 6–11 % faster a
# frame. Only where the CPU has native bfloat16 (AVX512-BF16, AMX): elsewhere it is emulated and slower.
HEAD_PRECISION_VARIABLE = "GEOELF_HEAD_PRECISION"


def head_precision(asked: str | None = None) -> str:
    """The precision of the ELF head: ``asked``, else $GEOELF_HEAD_PRECISION, else "auto"; "auto" is
    bfloat16 where the CPU computes it natively, float32 elsewhere."""
    import os

    choice = asked or os.environ.get(HEAD_PRECISION_VARIABLE) or "auto"
    if choice not in HEAD_PRECISIONS:
        raise GeoelfError(f"head precision must be one of {', '.join(HEAD_PRECISIONS)}, not {choice!r}")
    if choice != "auto":
        return choice
    import torch

    try:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        native = False
    return "bfloat16" if native else "float32"
