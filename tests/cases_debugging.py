"""The debugging family in the derivative table: ``debug_print`` has no results, so nothing to
differentiate; tests/test_debug.py checks that it prints once under jvp, grad and linearize."""

from functrace import ops as P

CASES: list = []
ELSEWHERE = {P.all_primitives["debug_print"]: "tests/test_debug.py::test_prints_runtime_values_once_per_call"}
