"""torch implementation of the debugging family (``functrace/ops/debugging.py``)."""

from __future__ import annotations

from typing import Any

from functrace.ops import debugging as DB


def impls(device: Any) -> dict:
    return {DB.debug_print_p: DB.host_print_impl(lambda t: t.detach().cpu().numpy())}
