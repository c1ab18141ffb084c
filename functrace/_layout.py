"""Where ``functrace.transforms`` and ``functrace.backends`` come from.

The repository keeps ``transforms/`` and ``backends/`` beside ``functrace/`` (DESIGN.md); an
install maps them into the package (``[tool.setuptools.package-dir]`` in pyproject.toml), so
nothing called ``transforms`` or ``backends`` lands in site-packages. Run from a source tree
(a checkout on ``sys.path``, or an editable install), the two folders are found beside the
package by the finder below, and only under their ``functrace.`` names.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_SIBLINGS = ("transforms", "backends")


class _SiblingFinder(importlib.abc.MetaPathFinder):
    """Resolve ``functrace.transforms`` / ``functrace.backends`` to the folders beside the package."""

    def find_spec(self, fullname, path=None, target=None):
        prefix, _, name = fullname.rpartition(".")
        if prefix != __package__ or name not in _SIBLINGS:
            return None
        folder = os.path.join(os.path.dirname(_HERE), name)
        return importlib.util.spec_from_file_location(
            fullname, os.path.join(folder, "__init__.py"), submodule_search_locations=[folder])


def install() -> None:
    """Add the finder when this is a source tree (an installed package holds the folders itself)."""
    inside = all(os.path.isdir(os.path.join(_HERE, n)) for n in _SIBLINGS)
    beside = all(os.path.isfile(os.path.join(os.path.dirname(_HERE), n, "__init__.py")) for n in _SIBLINGS)
    if not inside and beside and not any(isinstance(f, _SiblingFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _SiblingFinder())


install()
