"""Hand-written NumPy with hand-derived derivatives: the floor for functrace's NumPy backend.

Each function here is what a careful programmer writes without any autodiff: the forward pass
keeps exactly the intermediates the backward pass needs, and the backward pass is the chain rule
worked out on paper. They double as the reference every framework's result is checked against.
"""

from __future__ import annotations

import numpy as np

# ---------------------------------------------------------------------------- MLP
Params = tuple[np.ndarray, ...]  # (w1, b1, w2, b2, w3, b3)


def mlp_value_and_grad(params: Params, x: np.ndarray, onehot: np.ndarray) -> tuple[np.ndarray, Params]:
    """Mean softmax cross-entropy of a tanh MLP, and its gradient with respect to the parameters.

    Forward: h1 = tanh(x W1 + b1), h2 = tanh(h1 W2 + b2), z = h2 W3 + b3,
    loss = -mean_i sum_k y_ik log softmax(z_i)_k.
    Backward: dz = (softmax(z) - y) / B; dW3 = h2ᵀ dz; da2 = (dz W3ᵀ)(1 - h2²); dW2 = h1ᵀ da2;
    da1 = (da2 W2ᵀ)(1 - h1²); dW1 = xᵀ da1; each db is the column sum of its da.
    """
    w1, b1, w2, b2, w3, b3 = params
    batch = x.shape[0]
    h1 = np.tanh(x @ w1 + b1)
    h2 = np.tanh(h1 @ w2 + b2)
    z = h2 @ w3 + b3
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    loss = -np.sum(onehot * (shifted - np.log(s))) / batch
    dz = (e / s - onehot) / batch
    dw3 = h2.T @ dz
    db3 = dz.sum(axis=0)
    da2 = (dz @ w3.T) * (1 - h2 * h2)
    dw2 = h1.T @ da2
    db2 = da2.sum(axis=0)
    da1 = (da2 @ w2.T) * (1 - h1 * h1)
    dw1 = x.T @ da1
    db1 = da1.sum(axis=0)
    return np.asarray(loss, dtype=x.dtype), (dw1, db1, dw2, db2, dw3, db3)


# ---------------------------------------------------------------------------- elementwise chain
CHAIN_SCALE = 1.5
CHAIN_SHIFT = 0.25


def chain_grad(x: np.ndarray, n_ops: int) -> np.ndarray:
    """Gradient of sum(chain(x)), where the chain repeats the four ops sin, ·1.5, tanh, +0.25.

    Only sin's input (for cos) and tanh's output (for 1 - t²) are kept; ·1.5 contributes the
    constant 1.5 and +0.25 contributes 1.
    """
    sin_in, tanh_out = [], []
    for _ in range(n_ops // 4):
        sin_in.append(x)
        t = np.tanh(np.sin(x) * CHAIN_SCALE)
        tanh_out.append(t)
        x = t + CHAIN_SHIFT
    g = np.ones_like(x)
    for xi, t in zip(reversed(sin_in), reversed(tanh_out), strict=True):
        g = g * (1 - t * t)
        g = g * CHAIN_SCALE
        g = g * np.cos(xi)
    return g


# ---------------------------------------------------------------------------- n-th derivative of tanh
def tanh_derivative_poly(n: int) -> np.ndarray:
    """Coefficients (highest power first, for ``np.polyval``) of P_n with tanh⁽ⁿ⁾(x) = P_n(tanh x).

    P_0(t) = t and, since dt/dx = 1 - t², P_{k+1}(t) = P_k'(t) (1 - t²).
    """
    p = np.array([1.0, 0.0])
    for _ in range(n):
        p = np.polymul(np.polyder(p), np.array([-1.0, 0.0, 1.0]))
    return p


def tanh_derivative(x: float, coeffs: np.ndarray) -> np.ndarray:
    """tanh⁽ⁿ⁾(x) from the coefficients ``tanh_derivative_poly(n)``."""
    return np.polyval(coeffs, np.tanh(x))


# ---------------------------------------------------------------------------- Rosenbrock
def rosenbrock_hessian(x: np.ndarray) -> np.ndarray:
    """Analytic Hessian of f(x) = Σ_{i<n-1} 100 (x_{i+1} - x_i²)² + (1 - x_i)², tridiagonal.

    ∂²f/∂x_i² = 1200 x_i² - 400 x_{i+1} + 2 (terms with i < n-1) + 200 (terms with i > 0);
    ∂²f/∂x_i∂x_{i+1} = -400 x_i.
    """
    n = x.shape[0]
    diag = np.zeros(n, dtype=x.dtype)
    diag[:-1] = 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    diag[1:] += 200
    off = -400 * x[:-1]
    h = np.diag(diag)
    idx = np.arange(n - 1)
    h[idx, idx + 1] = off
    h[idx + 1, idx] = off
    return h
