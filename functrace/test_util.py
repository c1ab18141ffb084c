"""``functrace.test_util``: re-exports ``check_grads`` (implemented in transforms.test_util)."""

from functrace.transforms.test_util import check_grads, check_jvp, check_vjp  # noqa: F401

__all__ = ["check_grads", "check_jvp", "check_vjp"]
