"""When ``select`` moves bits instead of branching: a CPU concern shared by both backends.

NumPy's ``where`` and torch's on CPU branch once per element. A mask that depends on the data,
such as a ReLU's, sends about half of those branches the wrong way: about 3.5 ns an element,
several times a streaming pass over the arrays (measured: 460 µs against 60 µs for 131,072
float32 elements with a random mask; the same 75 µs either way for a sorted one).

Selecting by bits does the same with three streaming passes and no branch:
``on_false ^ ((on_true ^ on_false) * pred)`` on the elements' bit patterns. Because it moves
bits and does no arithmetic on values, its result has the same bits as the branching select for
every input: nan payloads, infinities and signed zeros alike.

For elements of 8 bytes the multiply is slower (NumPy does not vectorise it), and a mask that
rarely changes (a triangle, a padding) keeps the branches predicted: there the branching select
wins by up to 2×, so 8-byte elements are selected by bits only when the mask changes often.
"""

from __future__ import annotations

# Below this many elements a call's fixed costs decide, and the branching select is as fast.
MIN_SIZE = 8192
# Bit-pattern integer types, by element size: a float, int or bool array is viewed as these.
WIDTHS = (1, 2, 4, 8)


def worth_it(size: int, itemsize: int) -> bool:
    """Whether a select of ``size`` elements of ``itemsize`` bytes may go by bits (8-byte
    elements still ask ``changes_often`` of their mask)."""
    return size >= MIN_SIZE and itemsize in WIDTHS


def changes_often(size: int, itemsize: int, flips: int) -> bool:
    """Whether a mask that changes value ``flips`` times along its ``size`` elements makes the
    branching select mispredict enough for the bit select to win (always, below 8 bytes)."""
    return itemsize < 8 or 8 * flips >= size
