"""Helpers shared by the NumPy backend's family tables."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np


def quiet(f: Callable[..., Any]) -> Callable[..., Any]:
    """NumPy warns on log(0), 0/0, ...; functrace returns inf/nan silently, as JAX and torch do."""

    def g(*args, **kw):
        with np.errstate(all="ignore"):
            return f(*args, **kw)

    g.raw = f  # for code that silences warnings around many operations at once
    return g
