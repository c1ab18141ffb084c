"""Reading jaxpr text back: ``parse_jaxpr(str(closed))`` rebuilds the program, ``save``/``load`` store it.

The grammar is the printer's (``functrace.pretty``)::

    jaxpr   := "{" "lambda" const* ";" binder* "." "let" NEWLINE eqn* "in" "(" atoms ")" "}"
    const   := binder ["=" (value | REF)]        # REF: c0, c1, ... -- a large constant by name
    binder  := NAME ":" TYPE                     # TYPE: f32[2,3], bool[], i64[5], ...
    eqn     := binder* "=" PRIM ["[" NAME "=" param ("," ...)* "]"] atom* NEWLINE
    atom    := NAME | literal [":" TYPE]         # a literal's dtype: see pretty.implied_literal_dtype
    param   := jaxpr | "(" ... ")" | "[" ... "]" | number | True | False | None | 'string' | DTYPE

Variable names are scoped per jaxpr (a sub-jaxpr in a param starts again at ``a``). What the text
does not hold cannot come back: the source lines of equations, weak types, the pytree structure of
inputs and outputs (a parsed program takes and returns flat lists), and the Python callables of
custom derivative rules (``custom_jvp_call``, ``custom_vjp_call``, ``custom_lin``), which are refused
with an error naming the primitive.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from functrace.avals import _SHORT, ShapedArray
from functrace.errors import FunctraceError
from functrace.ir import ClosedJaxpr, Jaxpr, JaxprEqn, Literal, Var

_DTYPE_OF_SHORT = {short: np.dtype(name) for name, short in _SHORT.items()}

# Primitives whose params hold Python callables: their text names the callable but cannot restore it.
_CALLABLE_PARAMS = {"custom_jvp_call": "jvp", "custom_vjp_call": "fwd/bwd", "custom_lin": "bwd"}


class JaxprParseError(FunctraceError, ValueError):
    """The text is not a jaxpr this parser can read back (the message names the line and column)."""


_TOKEN = re.compile(r"""
    (?P<nl>\n)
  | (?P<ws>[ \t\r]+)
  | (?P<complex>\([^()\s,]*j\))
  | (?P<num>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![A-Za-z_])|-?inf(?![A-Za-z_0-9])|-?nan(?![A-Za-z_0-9]))
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[{}()\[\],:;.=])
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)


class _Tok:
    __slots__ = ("kind", "text", "pos")

    def __init__(self, kind: str, text: str, pos: int):
        self.kind, self.text, self.pos = kind, text, pos

    def __repr__(self) -> str:
        return f"{self.kind}:{self.text!r}"


def _tokenize(text: str) -> list[_Tok]:
    toks, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m.lastgroup != "ws":
            toks.append(_Tok(m.lastgroup, m.group(), pos))
        pos = m.end()
    toks.append(_Tok("eof", "", len(text)))
    return toks


def _where(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {col}"


def _literal_kind(text: str) -> str:
    if text in ("True", "False"):
        return "b"
    if text.endswith("j)"):
        return "c"
    if any(c in text for c in ".eEn"):  # 1.0, 1e-07, inf, nan
        return "f"
    return "i"


def _scalar(text: str, dtype: np.dtype) -> Any:
    if dtype.kind == "b":
        return np.bool_(text == "True")
    return dtype.type(complex(text) if dtype.kind == "c" else text)


class _Parser:
    def __init__(self, text: str, consts: dict | None):
        from functrace.primitives import all_primitives

        self.text = text
        self.toks = _tokenize(text)
        self.i = 0
        self.consts = consts or {}
        self.prims = all_primitives

    # ------------------------------------------------------------------ tokens
    def peek(self, skip_nl: bool = False, ahead: int = 0) -> _Tok:
        i = self.i
        while True:
            while skip_nl and self.toks[i].kind == "nl":
                i += 1
            if ahead == 0:
                return self.toks[i]
            ahead -= 1
            i += 1

    def next(self, skip_nl: bool = False) -> _Tok:
        if skip_nl:
            self.skip_nl()
        t = self.toks[self.i]
        self.i += 1
        return t

    def skip_nl(self) -> None:
        while self.toks[self.i].kind == "nl":
            self.i += 1

    def error(self, msg: str, tok: _Tok | None = None) -> JaxprParseError:
        tok = tok or self.toks[self.i]
        return JaxprParseError(f"jaxpr text, {_where(self.text, tok.pos)}: {msg}")

    def expect(self, text: str, skip_nl: bool = True) -> _Tok:
        t = self.next(skip_nl)
        if t.text != text or t.kind in ("str", "eof") and text:
            raise self.error(f"expected {text!r}, found {t.text or 'the end of the text'!r}", t)
        return t

    def at(self, text: str, skip_nl: bool = True) -> bool:
        t = self.peek(skip_nl)
        return t.text == text and t.kind in ("punct", "name")

    # ------------------------------------------------------------------ types and atoms
    def aval(self) -> ShapedArray:
        t = self.next()
        if t.kind != "name":
            raise self.error(f"expected a type such as f32[3], found {t.text!r}", t)
        dtype = _DTYPE_OF_SHORT.get(t.text)
        if dtype is None:
            try:
                dtype = np.dtype(t.text)
            except TypeError:
                raise self.error(f"unknown dtype {t.text!r}", t) from None
        self.expect("[")
        dims = []
        while not self.at("]"):
            d = self.next()
            if d.kind != "num" or not d.text.isdigit():
                raise self.error(f"expected a dimension, found {d.text!r}", d)
            dims.append(int(d.text))
            if not self.at("]"):
                self.expect(",")
        self.expect("]")
        return ShapedArray(tuple(dims), dtype)

    def is_literal(self, t: _Tok) -> bool:
        return t.kind in ("num", "complex") or (t.kind == "name" and t.text in ("True", "False"))

    def atom(self, scope: dict, operands_so_far: list | None) -> Any:
        """A variable, or a literal (kept as its text and dtype-resolved by ``resolve_literals``)."""
        t = self.next()
        if self.is_literal(t):
            aval = None
            if self.at(":", skip_nl=False):
                self.next()
                aval = self.aval()
            return _PendingLiteral(t, aval)
        if t.kind != "name":
            raise self.error(f"expected a variable or a literal, found {t.text!r}", t)
        if t.text not in scope:
            raise self.error(f"variable {t.text!r} is used before it is defined", t)
        return scope[t.text]

    def resolve_literals(self, atoms: list, operands: list) -> list:
        from functrace.pretty import implied_literal_dtype

        out = []
        for x in atoms:
            if isinstance(x, _PendingLiteral):
                kind = _literal_kind(x.tok.text)
                aval = x.aval or ShapedArray((), implied_literal_dtype(kind, operands))
                if aval.shape != ():
                    raise self.error("a literal is a scalar; its type must have shape []", x.tok)
                try:
                    val = _scalar(x.tok.text, aval.dtype)
                except (ValueError, TypeError):
                    raise self.error(f"{x.tok.text!r} is not a {aval.dtype.name} value", x.tok) from None
                x = Literal(val, aval)
            out.append(x)
        return out

    # ------------------------------------------------------------------ values
    def value(self) -> Any:
        """A param value or a constant's value: Python literals, tuples, lists, dtypes, jaxprs."""
        t = self.peek(skip_nl=True)
        if t.text == "{" and t.kind == "punct":
            return self.jaxpr()
        self.next(skip_nl=True)
        if t.kind == "num":
            return _number(t.text)
        if t.kind == "complex":
            return complex(t.text.strip("()"))
        if t.kind == "str":
            return ast.literal_eval(t.text)
        if t.kind == "punct" and t.text in "([":
            close = ")" if t.text == "(" else "]"
            items, trailing = [], False
            while not self.at(close):
                items.append(self.value())
                trailing = False
                if not self.at(close):
                    self.expect(",")
                    trailing = True
            self.expect(close)
            if close == "]":
                return items
            if len(items) == 1 and not trailing:
                return items[0]  # a parenthesised value, not a tuple
            return tuple(items)
        if t.kind == "name":
            if t.text in ("True", "False", "None"):
                return {"True": True, "False": False, "None": None}[t.text]
            try:
                return np.dtype(t.text)
            except TypeError:
                raise self.error(f"cannot read {t.text!r} as a value: it is not a number, a dtype or a jaxpr "
                                 "(a Python object the printer named cannot be rebuilt from text)", t) from None
        raise self.error(f"expected a value, found {t.text!r}", t)

    def params(self, prim_tok: _Tok) -> dict:
        params: dict[str, Any] = {}
        self.expect("[", skip_nl=False)
        while not self.at("]"):
            k = self.next(skip_nl=True)
            if k.kind != "name":
                raise self.error(f"expected a parameter name, found {k.text!r}", k)
            self.expect("=")
            params[k.text] = self.value()
            if not self.at("]"):
                self.expect(",")
        self.expect("]")
        return params

    def const_value(self, aval: ShapedArray, name_tok: _Tok) -> np.ndarray:
        t = self.peek(skip_nl=True)
        if t.kind == "name" and re.fullmatch(r"c\d+", t.text):
            self.next(skip_nl=True)
            if t.text not in self.consts:
                raise self.error(f"constant {t.text!r} is stored outside the text: pass it in "
                                 f"parse_jaxpr(text, consts={{{t.text!r}: array}}) or read the program with "
                                 "functrace.ir.load(path)", t)
            arr = np.asarray(self.consts[t.text])
        elif self.at("[") and self.peek(True, 1).text == "]" and aval.size == 0:
            self.next(skip_nl=True)
            self.next(skip_nl=True)
            arr = np.zeros(aval.shape, aval.dtype)  # an empty constant prints as [] whatever its shape
        else:
            start = self.i
            raw = self._raw_array()
            try:
                arr = np.array(_map_nested(raw, lambda s: _scalar(s, aval.dtype)), dtype=aval.dtype)
            except (ValueError, TypeError):
                raise self.error(f"cannot read the value of constant {name_tok.text!r} as {aval.str_short()}",
                                 self.toks[start]) from None
        if arr.shape != aval.shape or arr.dtype != aval.dtype:
            raise self.error(f"constant {name_tok.text!r} is declared {aval.str_short()} but its value is "
                             f"{ShapedArray(arr.shape, arr.dtype).str_short()}", name_tok)
        return arr

    def _raw_array(self) -> Any:
        """Nested lists of scalar texts (the printer's form of a small constant)."""
        t = self.next(skip_nl=True)
        if t.text == "[" and t.kind == "punct":
            items = []
            while not self.at("]"):
                items.append(self._raw_array())
                if not self.at("]"):
                    self.expect(",")
            self.expect("]")
            return items
        if self.is_literal(t):
            return t.text
        raise self.error(f"expected a constant's value, found {t.text!r}", t)

    # ------------------------------------------------------------------ jaxprs
    def jaxpr(self) -> ClosedJaxpr:
        self.expect("{")
        self.expect("lambda")
        scope: dict[str, Var] = {}

        def bind_var() -> tuple[Var, _Tok]:
            t = self.next(skip_nl=True)
            if t.kind != "name":
                raise self.error(f"expected a variable name, found {t.text!r}", t)
            self.expect(":")
            v = Var(self.aval())
            if t.text in scope:
                raise self.error(f"variable {t.text!r} is defined twice", t)
            scope[t.text] = v
            return v, t

        constvars, consts, missing = [], [], False
        while not self.at(";"):
            v, t = bind_var()
            constvars.append(v)
            if self.at("=", skip_nl=False):
                self.next()
                consts.append(self.const_value(v.aval, t))
            else:
                missing = True
        self.expect(";")
        invars = []
        while not self.at("."):
            invars.append(bind_var()[0])
        self.expect(".")
        self.expect("let")
        eqns = []
        while True:
            self.skip_nl()
            t = self.peek()
            if t.text == "in" and t.kind == "name" and self.peek(ahead=1).text == "(":
                break
            eqns.append(self.eqn(scope, bind_var))
        self.expect("in")
        self.expect("(")
        outs = []
        while not self.at(")"):
            self.skip_nl()
            outs.append(self.atom(scope, None))
            if not self.at(")"):
                self.expect(",")
        self.expect(")")
        self.expect("}")
        outs = self.resolve_literals(outs, [])
        if missing:
            if consts:
                raise self.error("some constants have values and some do not")
            raise JaxprParseError(
                f"jaxpr text, {_where(self.text, self.toks[0].pos)}: the constants have no values (this is the "
                "text of a Jaxpr, not of a ClosedJaxpr): print the ClosedJaxpr (str(closed)) to include them")
        return ClosedJaxpr(Jaxpr(constvars, invars, outs, eqns), consts)

    def eqn(self, scope: dict, bind_var) -> JaxprEqn:
        outvars = []
        while not self.at("=", skip_nl=False):
            outvars.append(bind_var()[0])
        self.expect("=", skip_nl=False)
        pt = self.next()
        if pt.kind != "name":
            raise self.error(f"expected a primitive name, found {pt.text!r}", pt)
        if pt.text in _CALLABLE_PARAMS:
            raise self.error(
                f"primitive {pt.text!r} holds a Python callable ({_CALLABLE_PARAMS[pt.text]}, a custom "
                "derivative rule) that text cannot hold: this program cannot be read back. Save the "
                "program without custom_jvp/custom_vjp functions (or before they are traced)", pt)
        prim = self.prims.get(pt.text)
        if prim is None:
            raise self.error(f"unknown primitive {pt.text!r} (is the module that defines it imported?)", pt)
        params = self.params(pt) if self.at("[", skip_nl=False) else {}
        atoms = []
        while self.peek().kind not in ("nl", "eof") and not self.at("}", skip_nl=False):
            atoms.append(self.atom(scope, atoms))
        invars = self.resolve_literals(atoms, [a for a in atoms if isinstance(a, Var)])
        return JaxprEqn(prim, invars, outvars, params)


class _PendingLiteral:
    __slots__ = ("tok", "aval")

    def __init__(self, tok: _Tok, aval: ShapedArray | None):
        self.tok, self.aval = tok, aval


def _number(text: str) -> int | float:
    return float(text) if _literal_kind(text) == "f" else int(text)


def _map_nested(x: Any, f) -> Any:
    return [_map_nested(e, f) for e in x] if isinstance(x, list) else f(x)


# ---------------------------------------------------------------------------- public entry points
def parse_jaxpr(text: str, consts: dict | None = None) -> ClosedJaxpr:
    """The ``ClosedJaxpr`` whose text ``str(closed)`` is ``text``.

    Small constants are read from the text; large ones print as references ``c0``, ``c1``, ...
    whose arrays ``consts`` supplies (``closed.large_consts()`` gives them; ``load`` reads them
    from the ``.npz`` that ``save`` wrote). The result takes and returns flat lists of arrays.

    >>> closed = ft.make_jaxpr(lambda x: fnp.sin(x) * 2.0)(np.ones(3, np.float32))
    >>> again = ft.ir.parse_jaxpr(str(closed))
    >>> str(again) == str(closed)
    True
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_jaxpr: expected the text of a jaxpr (a str), got {type(text).__name__}")
    p = _Parser(text, consts)
    closed = p.jaxpr()
    p.skip_nl()
    if p.peek().kind != "eof":
        raise p.error(f"unexpected text after the jaxpr: {p.peek().text!r}")
    return closed


def _callable_params(closed: ClosedJaxpr) -> str | None:
    """The name of the first primitive (at any depth) whose params hold a Python callable."""
    for eqn in closed.jaxpr.eqns:
        if eqn.primitive.name in _CALLABLE_PARAMS:
            return eqn.primitive.name
        for v in eqn.params.values():
            for x in (v if isinstance(v, (tuple, list)) else (v,)):
                if isinstance(x, ClosedJaxpr):
                    found = _callable_params(x)
                    if found:
                        return found
                elif isinstance(x, Jaxpr):
                    found = _callable_params(ClosedJaxpr(x, [None] * len(x.constvars)))
                    if found:
                        return found
    return None


def _npz_path(path: Path) -> Path:
    return path.with_suffix(".npz") if path.suffix != ".npz" else path.with_suffix(".consts.npz")


def save(closed: ClosedJaxpr, path: str | os.PathLike) -> Path:
    """Write ``closed`` as text to ``path`` and its large constants to ``path`` with suffix ``.npz``."""
    from functrace.pretty import _ConstSink, pp_closed_jaxpr

    bad = _callable_params(closed)
    if bad:
        raise JaxprParseError(
            f"ClosedJaxpr.save: the program contains {bad!r}, whose params hold a Python callable (a custom "
            "derivative rule) that cannot be stored as text; save a program without custom_jvp/custom_vjp")
    path = Path(path)
    sink = _ConstSink()
    text = pp_closed_jaxpr(closed, sink)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    npz = _npz_path(path)
    if sink.arrays:
        np.savez(npz, **sink.arrays)
    elif npz.exists():
        npz.unlink()  # a stale file from an earlier save would be read by load
    return path


def load(path: str | os.PathLike) -> ClosedJaxpr:
    """Read a program written by ``ClosedJaxpr.save`` (the text, and the ``.npz`` beside it if any)."""
    path = Path(path)
    text = path.read_text()
    npz = _npz_path(path)
    consts = {}
    if npz.exists():
        with np.load(npz, allow_pickle=False) as data:
            consts = {k: data[k] for k in data.files}
    return parse_jaxpr(text.rstrip("\n"), consts)
