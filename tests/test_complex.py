"""Complex numbers with JAX's conventions: values against NumPy, derivatives against numbers JAX
0.10.2 gave (jax_enable_x64), the ``holomorphic`` option, and the errors JAX raises."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import host

import functrace as ft
import functrace.numpy as fnp
from functrace import lax

Z = np.array([1 + 2j, -3 + 0j, 0j, -0.5 - 1.5j, 2.5j])

# ---------------------------------------------------------------------------- values
FUNCS = [
    ("real", fnp.real, np.real), ("imag", fnp.imag, np.imag), ("conj", fnp.conj, np.conj),
    ("conjugate", fnp.conjugate, np.conjugate), ("angle", fnp.angle, np.angle),
    ("angle_deg", lambda z: fnp.angle(z, deg=True), lambda z: np.angle(z, deg=True)),
    ("iscomplex", fnp.iscomplex, np.iscomplex), ("isreal", fnp.isreal, np.isreal),
    ("abs", fnp.abs, np.abs), ("sign", fnp.sign, np.sign), ("negative", fnp.negative, np.negative),
    ("exp", fnp.exp, np.exp), ("log", lambda z: fnp.log(z + 4), lambda z: np.log(z + 4)),
    ("sqrt", fnp.sqrt, np.sqrt), ("sin", fnp.sin, np.sin), ("cos", fnp.cos, np.cos),
    ("tanh", fnp.tanh, np.tanh), ("arcsinh", fnp.arcsinh, np.arcsinh), ("expm1", fnp.expm1, np.expm1),
    ("square", fnp.square, np.square), ("power3", lambda z: z ** 3, lambda z: z ** 3),
    ("mul_real", lambda z: z * 2.5, lambda z: z * 2.5), ("div", lambda z: z / (1 - 2j), lambda z: z / (1 - 2j)),
    ("sum", fnp.sum, np.sum), ("prod", lambda z: fnp.prod(z + 1), lambda z: np.prod(z + 1)),
    ("matmul", lambda z: fnp.matmul(fnp.outer(z, z), z), lambda z: np.outer(z, z) @ z),
    ("norm", fnp.linalg.norm, np.linalg.norm),
]


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128], ids=lambda d: d.__name__)
@pytest.mark.parametrize("name,f,ref", FUNCS, ids=[r[0] for r in FUNCS])
def test_values_against_numpy(name, f, ref, dtype):
    z = Z.astype(dtype)
    want = ref(z)
    for g in (f, ft.jit(f)):
        got = host(g(z))
        assert got.dtype == np.asarray(want).dtype, (name, got.dtype, np.asarray(want).dtype)
        np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.complex64 else 1e-12, atol=1e-6)


@pytest.mark.parametrize("f,ref", [(fnp.real, np.real), (fnp.imag, np.imag), (fnp.conj, np.conj),
                                   (fnp.angle, np.angle), (fnp.iscomplex, np.iscomplex),
                                   (fnp.isreal, np.isreal)])
def test_real_inputs(f, ref):
    x = np.array([1.5, -2.0, 0.0], np.float32)
    got = host(f(x))
    np.testing.assert_array_equal(got, ref(x))
    assert got.dtype == np.asarray(ref(x)).dtype


def test_iscomplexobj_and_real_if_close():
    assert fnp.iscomplexobj(Z) and not fnp.iscomplexobj(np.ones(2))
    assert ft.jit(lambda z: fnp.zeros(2) + fnp.iscomplexobj(z))(Z).shape == (2,)
    np.testing.assert_array_equal(host(fnp.real_if_close(np.array([1 + 1e-20j, 2.0]))), [1.0, 2.0])
    assert host(fnp.real_if_close(np.array([1 + 1e-3j]))).dtype == np.complex128
    with pytest.raises(ft.errors.ConcretizationError, match="functrace.numpy.real"):
        ft.jit(fnp.real_if_close)(Z)


def test_abs_is_real_typed_and_lax_parts():
    assert host(fnp.abs(Z.astype(np.complex64))).dtype == np.float32
    assert host(lax.complex(np.float32(1), np.float32(2))).dtype == np.complex64
    assert host(lax.real(np.complex128(3 - 4j))) == 3.0
    with pytest.raises(ft.errors.DTypeError, match="complex"):
        ft.jit(lax.real)(np.float32(1))
    with pytest.raises(ft.errors.DTypeError, match="complex64"):
        ft.jit(lax.lt)(np.complex64(1), np.complex64(2))


def test_tracer_methods():
    out = ft.jit(lambda z: z.real + z.imag + z.conj().real + np.conj(z).imag)(Z)
    np.testing.assert_allclose(host(out), Z.real + Z.imag + Z.real - Z.imag)


def test_norm_of_complex_is_real():
    assert host(fnp.linalg.norm(np.array([3 + 4j]))) == 5.0
    assert host(fnp.linalg.norm(np.array([3 + 4j]))).dtype == np.float64


# ---------------------------------------------------------------------------- derivatives (JAX 0.10.2)
def test_issue_examples():
    _, t = ft.jvp(fnp.abs, (1.1 + 1.2j,), (1 + 0j,))
    np.testing.assert_allclose(host(t), 0.67572463, rtol=1e-7)
    _, t = ft.jvp(lambda x: x * (1 + 0.2j), (1.0,), (1.0,))
    np.testing.assert_allclose(host(t), 1 + 0.2j)


@pytest.mark.parametrize("f,z,want", [
    (lambda z: fnp.abs(z) ** 2, 3 + 4j, 6 - 8j),
    (lambda z: fnp.real(z * z) + fnp.imag(fnp.sin(z)), 0.3 - 0.7j, 0.824176812337543 - 2.599108751098743j),
    (lambda z: fnp.abs(fnp.exp(z) * z), 0.3 - 0.7j, 1.5597572750063353 + 1.240716014209585j),
    (lambda z: fnp.angle(z), 0.3 - 0.7j, 1.206896551724138 - 0.5172413793103449j),
    (lambda z: fnp.abs(z), 0j, 0j),
], ids=["abs2", "real_imag", "abs_exp", "angle", "abs_at_0"])
def test_grad_of_real_function_of_complex(f, z, want):
    for g in (ft.grad(f), ft.jit(ft.grad(f))):
        np.testing.assert_allclose(host(g(z)), want, rtol=1e-12, atol=1e-15)


def test_grad_of_real_input_through_complex():
    np.testing.assert_allclose(host(ft.grad(lambda x: fnp.real(x * (1 + 2j)) ** 2)(1.5)), 3.0)


def test_holomorphic():
    g = ft.grad(lambda z: fnp.log(z) ** 2, holomorphic=True)(0.3 - 0.7j)
    np.testing.assert_allclose(host(g), 2.5324969035883393 - 1.863537495025963j, rtol=1e-12)
    z = np.array([1 + 1j, 2j, -0.5])
    want = np.diag(np.cos(z))
    np.testing.assert_allclose(host(ft.jacfwd(fnp.sin, holomorphic=True)(z)), want, rtol=1e-12)
    np.testing.assert_allclose(host(ft.jacrev(fnp.sin, holomorphic=True)(z)), want, rtol=1e-12)
    np.testing.assert_allclose(host(ft.hessian(lambda v: fnp.sum(v ** 3), holomorphic=True)(z)), np.diag(6 * z))
    np.testing.assert_allclose(host(ft.vmap(ft.grad(lambda z: z ** 3, holomorphic=True))(z)), 3 * z ** 2)


@pytest.mark.parametrize("call", [
    lambda: ft.grad(lambda z: z * z)(1 + 1j),
    lambda: ft.grad(lambda x: x * (1 + 1j))(1.0),
    lambda: ft.value_and_grad(lambda z: fnp.sin(z))(1j),
    lambda: ft.grad(lambda z: z * z, holomorphic=True)(1.0),
    lambda: ft.grad(lambda z: fnp.abs(z), holomorphic=True)(1j),
    lambda: ft.jacrev(lambda z: z * 2)(np.array([1j])),
    lambda: ft.jacfwd(lambda z: fnp.abs(z))(np.array([1j])),
], ids=["complex_out", "real_in_complex_out", "value_and_grad", "holo_real_in", "holo_real_out",
        "jacrev_complex_out", "jacfwd_complex_in"])
def test_errors_as_jax(call):
    with pytest.raises(TypeError, match="holomorphic|real-valued"):
        call()


def test_vjp_of_complex_output_is_allowed():
    out, f_vjp = ft.vjp(lambda z: z * z, 1 + 1j)
    np.testing.assert_allclose(host(f_vjp(1 + 0j)[0]), 2 + 2j)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128], ids=lambda d: d.__name__)
@pytest.mark.parametrize("f", [
    lambda z: fnp.abs(fnp.sin(z) * z), lambda z: fnp.angle(z * 1j + 0.1), lambda z: fnp.real(fnp.exp(z) / (z + 3)),
    lambda z: fnp.linalg.norm(z), lambda z: fnp.imag(fnp.sqrt(z + 4) * fnp.conj(z)),
], ids=["abs_sin", "angle", "real_exp", "norm", "imag_sqrt_conj"])
def test_check_grads_composites(f, dtype):
    z = np.array([1 + 0.5j, -0.7 + 1.2j, 0.3 - 0.4j], dtype)
    tol = dict(rtol=2e-3, eps=1e-3) if dtype == np.complex64 else dict(rtol=1e-6, eps=1e-5)
    ft.test_util.check_grads(f, (z,), order=2, modes=("fwd", "rev"), **tol)


C = np.array([[1 + 0.2j, -0.5j], [2.0 + 0j, 0.3 - 1j]])


@pytest.mark.parametrize("f", [
    lambda x: x * (1 + 0.2j), lambda x: x + 1j, lambda x: 1j - x, lambda x: fnp.dot(x, C), lambda x: fnp.outer(x, C[0]),
    lambda x: fnp.matmul(C, x), lambda x: fnp.tensordot(x, C, axes=1), lambda x: fnp.einsum("i,ij->j", x, C),
], ids=["mul", "add", "sub", "dot", "outer", "matmul", "tensordot", "einsum"])
def test_real_input_derivative_kept_when_result_is_complex(f):
    x, t = np.array([0.7, -1.3]), np.array([1.0, 0.5])
    _, got = ft.jvp(f, (x,), (t,))

    def lin(v):  # f is affine in x: its linear part, on the host
        return host(f(v)) - host(f(np.zeros(2)))

    np.testing.assert_allclose(host(got), lin(t), rtol=1e-12)
    # reverse mode: the cotangent of a real input is the real part (JAX's transpose of real -> complex)
    ct = np.ones(lin(x).shape, complex) * (0.3 - 0.8j)
    _, f_vjp = ft.vjp(f, x)
    want = [np.real(np.sum(ct * lin(e))) for e in np.eye(2)]
    np.testing.assert_allclose(host(f_vjp(ct)[0]), want, rtol=1e-12)
    assert host(f_vjp(ct)[0]).dtype == np.float64
