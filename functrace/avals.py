"""Abstract values (shape + dtype), dtype promotion (NumPy 2 / NEP 50) and broadcasting."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from functrace.errors import DTypeError, ShapeError

_SHORT = {
    "float16": "f16", "float32": "f32", "float64": "f64",
    "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64",
    "bool": "bool", "complex64": "c64", "complex128": "c128",
}


# The concrete classes of NumPy dtype objects (np.dtype(np.float32) is a Float32DType instance).
_DTYPE_TYPES = frozenset(type(np.dtype(t)) for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
                                                     np.uint16, np.uint32, np.uint64, np.float16, np.float32,
                                                     np.float64, np.complex64, np.complex128))


class ShapedArray:
    """The abstract value of an array: its shape and dtype, nothing about its contents.

    ``weak_type`` marks the value of a Python scalar passed to a transform (``jit(f)(x, 2.0)``)
    and arithmetic on such values only. Like the Python scalar it stands for, a weak value
    takes the dtype of the array it meets (NEP 50: float32 array * weak float64 is float32);
    ``functrace.numpy``'s promotion reads it. It is a property of a traced value, not of the
    IR: promotion writes explicit conversions into the jaxpr, so equality and hashing ignore
    it (a loop carry started from ``0.0`` matches a float64 body output), and primitives'
    results are never weak.
    """

    __slots__ = ("shape", "dtype", "weak_type", "_hash")

    def __init__(self, shape: tuple[int, ...], dtype: Any, weak_type: bool = False):
        self.shape = shape if type(shape) is tuple and all(type(d) is int for d in shape) \
            else tuple(int(d) for d in shape)
        self.dtype = dtype if type(dtype) in _DTYPE_TYPES else canonical_dtype(dtype)
        self.weak_type = weak_type
        self._hash = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def str_short(self) -> str:
        return f"{_SHORT.get(self.dtype.name, self.dtype.name)}[{','.join(map(str, self.shape))}]"

    def update(self, shape=None, dtype=None) -> "ShapedArray":
        return ShapedArray(self.shape if shape is None else shape, self.dtype if dtype is None else dtype)

    def with_weak_type(self, weak_type: bool) -> "ShapedArray":
        return self if self.weak_type == weak_type else ShapedArray(self.shape, self.dtype, weak_type)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ShapedArray) and self.shape == other.shape and self.dtype == other.dtype

    def __hash__(self) -> int:
        h = self._hash
        if h is None:
            h = self._hash = hash((self.shape, self.dtype))
        return h

    def __repr__(self) -> str:
        return f"ShapedArray({self.str_short()})"


def canonical_dtype(dtype: Any) -> np.dtype:
    """``dtype`` as a NumPy dtype: anything ``np.dtype`` accepts, or a torch dtype.

    This is where every ``dtype=`` argument is read, so that ``fnp.zeros(3, dtype=x.dtype)``
    works for a ``torch.Tensor`` ``x`` as for a NumPy array. A torch dtype is read by its name
    (``torch.float32`` is NumPy's ``float32``), so the core never imports torch; one with no
    NumPy equivalent (``torch.bfloat16``) is a ``DTypeError``.
    """
    if type(dtype) in _DTYPE_TYPES:
        return dtype
    try:
        return np.dtype(dtype)
    except TypeError:
        t = type(dtype)
        if not (t.__module__ == "torch" and t.__name__ == "dtype"):
            raise
    name = str(dtype).rsplit(".", 1)[-1]  # "torch.float32" -> "float32"
    try:
        dt = np.dtype(name)
    except TypeError:
        dt = None
    if dt is None or type(dt) not in _DTYPE_TYPES:
        raise DTypeError(f"{dtype} has no NumPy equivalent; functrace supports bool, (unsigned) integer, "
                         "float16/32/64 and complex64/128 arrays")
    return dt


def is_float(dtype: Any) -> bool:
    """Floating or complex (the dtypes that carry derivatives)."""
    return canonical_dtype(dtype).kind in "fc"


def is_int(dtype: Any) -> bool:
    return canonical_dtype(dtype).kind in "iu"


def is_bool(dtype: Any) -> bool:
    return canonical_dtype(dtype).kind == "b"


# Non-NumPy array types (torch tensors) register how to read their abstract value.
_aval_handlers: dict[type, Callable[[Any], ShapedArray]] = {}


def register_aval_handler(cls: type, handler: Callable[[Any], ShapedArray]) -> None:
    _aval_handlers[cls] = handler


_PY_SCALAR_DTYPE = {bool: np.dtype(bool), int: np.dtype(np.int64), float: np.dtype(np.float64),
                    complex: np.dtype(np.complex128)}
_PY_SCALAR_AVAL = {t: ShapedArray((), dt, weak_type=True) for t, dt in _PY_SCALAR_DTYPE.items()}


# Abstract values are immutable, so one object serves every array of a given shape and dtype.
_aval_of_shape: dict[tuple, ShapedArray] = {}


def _shared_aval(shape: tuple, dtype: Any) -> ShapedArray:
    """The one abstract value (strong) of arrays of ``shape`` and ``dtype`` (the table is bounded)."""
    key = (shape, dtype)
    aval = _aval_of_shape.get(key)
    if aval is None:
        aval = ShapedArray(shape, dtype)
        if len(_aval_of_shape) < 10_000:
            _aval_of_shape[key] = aval
    return aval


def scalar_aval(dtype: np.dtype) -> ShapedArray:
    """The abstract value of a rank-0 array of ``dtype``, shared as ``concrete_aval`` shares them
    (a long program writes a literal on almost every line)."""
    return _shared_aval((), dtype)


def concrete_aval(x: Any) -> ShapedArray:
    """The abstract value of a concrete (non-traced) value; raises TypeError for non-arrays."""
    t = type(x)
    if t is np.ndarray or isinstance(x, np.generic):
        return _shared_aval(x.shape, x.dtype)
    if isinstance(x, np.ndarray):
        return ShapedArray(x.shape, x.dtype)
    if t in _PY_SCALAR_AVAL:  # weak: it adapts to the arrays it meets, as in eager code
        return _PY_SCALAR_AVAL[t]
    handler = _aval_handlers.get(t)
    if handler is not None:
        return handler(x)
    for cls, h in _aval_handlers.items():
        if isinstance(x, cls):
            return h(x)
    if t.__module__.split(".")[0] == "torch" and hasattr(x, "shape") and hasattr(x, "dtype"):
        # A torch tensor met before the torch backend was loaded (e.g. an input on the numpy
        # backend): read it by duck typing, so the core needs no torch import.
        try:
            return ShapedArray(tuple(x.shape), canonical_dtype(x.dtype))
        except DTypeError:
            raise TypeError(f"torch dtype {x.dtype} has no NumPy equivalent; convert the tensor first") from None
    raise TypeError(
        f"functrace cannot use a value of type {t.__name__} as an array: pass NumPy arrays, "
        "Python scalars, torch tensors, or pytrees (tuples, lists, dicts) of them"
    )


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy's broadcasting rule; incompatible shapes raise a ShapeError naming them."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(ndim):
        size = 1
        for s in shapes:
            d = s[i - ndim + len(s)] if i - ndim + len(s) >= 0 else 1
            if d != 1:
                if size not in (1, d):
                    raise ShapeError(
                        "shapes " + " and ".join(str(tuple(s)) for s in shapes)
                        + " cannot be broadcast together (NumPy broadcasting rules)"
                    )
                size = d
        out.append(size)
    return tuple(out)
