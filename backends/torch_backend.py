"""The PyTorch backend: one implementation per primitive, on CUDA when available, else CPU.

The NumPy backend defines what each primitive means; this module reproduces those semantics
with torch operations. Where torch differs from NumPy (integer division, ``sign(nan)``,
reductions over an empty axis list, type promotion, ...) a small helper in the family's module
says why it is written the way it is. Every operand a primitive sees already has the dtype the abstract-eval
rule in ``functrace.primitives`` expects, so no implementation may promote or demote.

torch is optional: importing this module never fails, and ``make_backend`` raises a
``BackendError`` that says how to install torch when it is missing. ``FUNCTRACE_DEVICE=cpu``,
``cuda`` or ``cuda:N`` picks the device.

The implementations live in one module per family of ``functrace/ops`` (``torch_<family>.py``,
each with ``impls(device) -> dict``); this module holds the dtype conversions, the device choice,
the backend class and the list of tables ``make_backend`` registers.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from functrace import ops as P
from functrace.avals import ShapedArray, canonical_dtype, register_aval_handler
from functrace.backends.base import Backend
from functrace.errors import BackendError, DTypeError

try:  # torch is an optional dependency: only this module may import it.
    import torch
except ImportError:  # pragma: no cover - exercised by a test that hides torch
    torch = None  # type: ignore[assignment]

# The same two commands as the README's "PyTorch (optional)" (a test keeps them equal).
_INSTALL_HINT = ("the torch backend needs PyTorch, which is not installed. For the CPU-only build (a few hundred MB): "
                 "`pip install torch==2.13.0 --index-url \"$TORCH_CPU_INDEX\"`, with TORCH_CPU_INDEX set to PyTorch's "
                 "CPU wheel index (see the README); for CUDA on Linux "
                 "(several GB): `pip install torch==2.13.0` (PyPI's default build, which "
                 "`pip install functrace[torch]` also takes). 2.13.0 is the release functrace is tested with "
                 "(see the README). Or use FUNCTRACE_BACKEND=numpy")

# ---------------------------------------------------------------------------- dtypes
_NP_TO_TORCH: dict[np.dtype, Any] = {}
_TORCH_TO_NP: dict[Any, np.dtype] = {}
if torch is not None:
    for _np_name, _torch_name in [
        ("bool", "bool"), ("int8", "int8"), ("int16", "int16"), ("int32", "int32"),
        ("int64", "int64"), ("uint8", "uint8"), ("uint16", "uint16"), ("uint32", "uint32"),
        ("uint64", "uint64"), ("float16", "float16"), ("float32", "float32"),
        ("float64", "float64"), ("complex64", "complex64"), ("complex128", "complex128"),
    ]:
        if hasattr(torch, _torch_name):  # uint16/32/64 exist from torch 2.3 on
            _NP_TO_TORCH[np.dtype(_np_name)] = getattr(torch, _torch_name)
            _TORCH_TO_NP[getattr(torch, _torch_name)] = np.dtype(_np_name)


def torch_dtype(dtype: Any) -> Any:
    """The torch dtype for a NumPy dtype (anything ``np.dtype`` accepts, or a torch dtype)."""
    dt = canonical_dtype(dtype)
    if not dt.isnative:
        dt = dt.newbyteorder("=")
    try:
        return _NP_TO_TORCH[dt]
    except KeyError:
        raise DTypeError(f"the torch backend has no dtype matching NumPy's {dt.name}") from None


def numpy_dtype(dtype: Any) -> np.dtype:
    """The NumPy dtype for a torch dtype; torch-only dtypes (bfloat16, ...) are refused."""
    try:
        return _TORCH_TO_NP[dtype]
    except KeyError:
        raise DTypeError(
            f"functrace has no dtype matching torch's {dtype}; convert the tensor first "
            "(for example with .float())"
        ) from None


def _tensor_aval(x: Any) -> ShapedArray:
    """Abstract value of a torch tensor, so tracing accepts tensors as inputs."""
    return ShapedArray(tuple(x.shape), numpy_dtype(x.dtype))


def is_int(x: Any) -> bool:
    """Integer (not bool, float or complex) tensors."""
    return not x.dtype.is_floating_point and not x.dtype.is_complex and x.dtype != torch.bool


# ---------------------------------------------------------------------------- device
def pick_device() -> Any:
    """``FUNCTRACE_DEVICE`` (cpu, cuda, cuda:N), else CUDA when available, else CPU."""
    want = os.environ.get("FUNCTRACE_DEVICE", "").strip().lower()
    if not want:
        want = "cuda" if torch.cuda.is_available() else "cpu"
    if want == "cpu":
        return torch.device("cpu")
    if want == "cuda" or want.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise BackendError(f"FUNCTRACE_DEVICE={want} but torch finds no CUDA device "
                               "(torch.cuda.is_available() is False); use FUNCTRACE_DEVICE=cpu")
        try:
            dev = torch.device(want)
        except RuntimeError:
            raise BackendError(f"FUNCTRACE_DEVICE={want!r} is not a valid device") from None
        # An explicit index, so that comparing with a tensor's device is exact.
        return dev if dev.index is not None else torch.device("cuda", torch.cuda.current_device())
    raise BackendError(f"FUNCTRACE_DEVICE={want!r} is not supported; use cpu, cuda or cuda:N")


# ---------------------------------------------------------------------------- the backend
_SCALAR_CACHE_LIMIT = 4096


class TorchBackend(Backend):
    """Runs primitives with torch on one device; every array it produces lives there."""

    name = "torch"
    implicit_broadcast = frozenset({P.add_p, P.sub_p, P.mul_p, P.pow_p, P.atan2_p})

    def __init__(self, device: Any) -> None:
        super().__init__()
        self.array_types = (torch.Tensor,)
        self.device = device
        # New tensors of their own (see Backend.fresh_results): results a jit hands out uncopied.
        # Not the casts and integer powers, which may return their operand as it is.
        self.fresh_results = frozenset(p for p in P.all_primitives.values() if p.elementwise) - {
            P.stop_gradient_p, P.convert_element_type_p, P.integer_pow_p} | {
            P.dot_general_p, P.cumsum_p, P.concatenate_p, P.gather_p, P.scatter_add_p, P.argmax_p, P.argmin_p,
            P.reduce_sum_p, P.reduce_prod_p, P.reduce_max_p, P.reduce_min_p, P.reduce_and_p, P.reduce_or_p}
        # 0-d tensors for scalar literals, by (scalar type, bytes): a literal in the IR (``mul x 2.0``)
        # is copied to the device once, not at every operation. Like every array functrace
        # produces, they are never written to.
        self._scalars: dict[tuple[type, bytes], Any] = {}

    # -- conversion
    def is_native(self, x: Any) -> bool:
        """Tensors on this backend's device (others are moved by ``asarray``)."""
        return isinstance(x, torch.Tensor) and x.device == self.device

    def scalar(self, x: Any) -> Any:
        """A 0-d tensor on the device for a NumPy or Python scalar, cached by type and bytes
        (so 0.0 and -0.0, or float32 and float64 2.0, stay apart, and nan is found again)."""
        if not isinstance(x, np.generic):
            x = np.asarray(x)[()]  # Python scalars take NumPy's dtypes: int64, float64, bool
        key = (type(x), x.tobytes())
        t = self._scalars.get(key)
        if t is None:
            torch_dtype(x.dtype)  # a clear error for dtypes torch lacks
            if len(self._scalars) >= _SCALAR_CACHE_LIMIT:
                self._scalars.clear()
            t = torch.from_numpy(np.array(x)).to(self.device)
            self._scalars[key] = t
        return t

    def asarray(self, x: Any) -> Any:
        """NumPy arrays and scalars, Python scalars, lists and tensors -> a tensor on the device.

        The dtype is kept (float64 stays float64; Python scalars take NumPy's int64/float64/bool).
        """
        if isinstance(x, torch.Tensor):
            if x.device != self.device:
                x = x.to(self.device)
            return x
        if isinstance(x, (np.generic, bool, int, float, complex)):
            return self.scalar(x)
        arr = np.asarray(x)
        if arr.dtype == object:
            raise DTypeError(f"cannot make a torch tensor from {type(x).__name__} (it holds non-numeric objects)")
        tdt = torch_dtype(arr.dtype)
        if not arr.dtype.isnative:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        # torch refuses negative strides and warns on read-only arrays (broadcast views).
        if not (arr.flags.c_contiguous and arr.flags.writeable):
            arr = np.array(arr, order="C", copy=True)
        return torch.from_numpy(arr).to(device=self.device, dtype=tdt)

    def to_numpy(self, x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            return x.detach().cpu().numpy()
        return np.asarray(x)

    # -- implementations
    def register(self, prim: P.Primitive, impl: Callable[..., Any], unsigned: tuple | None = None) -> None:
        """``unsigned``: ``(adapter, k, types)`` (``torch_unsigned.adapted``), the implementation to
        call instead when operand ``k`` is uint16, uint32 or uint64."""
        super().register(prim, self._lifted(impl, unsigned))

    def _lifted(self, impl: Callable[..., Any], unsigned: tuple | None = None) -> Callable[..., Any]:
        """Operands may be scalar literals of the IR (np.float32(2.0), 3): make them 0-d tensors
        of their own dtype on the device (cached), so torch never promotes and never copies."""
        tensor, scalar = torch.Tensor, self.scalar

        if unsigned is None:
            def lifted(*args: Any, **params: Any) -> Any:
                for a in args:
                    if not isinstance(a, tensor):
                        return impl(*[b if isinstance(b, tensor) else scalar(b) for b in args], **params)
                return impl(*args, **params)
        else:
            adapter, k, types = unsigned

            def lifted(*args: Any, **params: Any) -> Any:
                for a in args:
                    if not isinstance(a, tensor):
                        args = tuple([b if isinstance(b, tensor) else scalar(b) for b in args])
                        break
                return (adapter if args[k].dtype in types else impl)(*args, **params)

        lifted.__name__ = getattr(impl, "__name__", "impl")
        lifted.__wrapped__ = impl  # type: ignore[attr-defined]
        return lifted



def make_backend() -> TorchBackend:
    """Create the torch backend on the device ``FUNCTRACE_DEVICE`` names (see ``pick_device``)."""
    if torch is None:
        raise BackendError(_INSTALL_HINT)
    # The family modules import torch: only now is it known to be installed.
    from functrace.backends import (
        torch_collectives,
        torch_complex_parts,
        torch_convolution,
        torch_cumulative,
        torch_debugging,
        torch_dynamic_slicing,
        torch_elementwise,
        torch_fft,
        torch_linalg,
        torch_linalg_decompositions,
        torch_random_bits,
        torch_reductions,
        torch_scatter,
        torch_sorting,
        torch_special,
        torch_special_series,
        torch_structural,
        torch_unsigned,
    )

    b = TorchBackend(pick_device())
    # One table per family (backends/torch_<family>.py): a new family adds one line.
    tables = (
        torch_elementwise.impls(b.device),
        torch_reductions.impls(b.device),
        torch_structural.impls(b.device),
        torch_linalg.impls(b.device),
        torch_convolution.impls(b.device),
        torch_sorting.impls(b.device),
        torch_scatter.impls(b.device),
        torch_dynamic_slicing.impls(b.device),
        torch_cumulative.impls(b.device),
        torch_random_bits.impls(b.device),
        torch_linalg_decompositions.impls(b.device),
        torch_complex_parts.impls(b.device),
        torch_fft.impls(b.device),
        torch_special.impls(b.device),
        torch_special_series.impls(b.device),
        torch_debugging.impls(b.device),
        torch_collectives.impls(b.device),
    )
    for table in tables:
        for prim, impl in table.items():
            b.register(prim, impl, torch_unsigned.adapted(prim, impl))  # uint16/32/64 run in int64
    # The registry adds the backend-neutral implementations (control flow) and then checks
    # that every primitive is covered.
    register_aval_handler(torch.Tensor, _tensor_aval)
    return b
