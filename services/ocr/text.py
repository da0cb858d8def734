"""Vietnamese text rules shared by OCR, indexing and search.

Tesseract sometimes emits the Icelandic eth (Ð, U+00D0) where Vietnamese has Đ (U+0110); the
two look alike but fold and compare differently, so every OCR result goes through
:func:`normalize_text`. Search folds diacritics *including* đ → d, which Unicode decomposition
alone does not do (đ has no combining mark).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["character_error_rate", "fold", "normalize_text"]

_LOOKALIKES = str.maketrans({"\u00d0": "\u0110", "\u00f0": "\u0111"})
_D_STROKE = str.maketrans({"\u0110": "D", "\u0111": "d"})
_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Return ``text`` in NFC with look-alike eths mapped to Vietnamese Đ/đ."""
    return unicodedata.normalize("NFC", text.translate(_LOOKALIKES))


def fold(text: str) -> str:
    """Lower-case ``text`` and strip every diacritic, đ/Đ → d included."""
    decomposed = unicodedata.normalize("NFD", normalize_text(text).translate(_D_STROKE))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare).lower()


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance between the texts over the reference length.

    Whitespace runs count as one space and the ends are trimmed, so line layout differences
    do not count as errors; both sides are normalised first.
    """
    ref = _SPACE.sub(" ", normalize_text(reference)).strip()
    hyp = _SPACE.sub(" ", normalize_text(hypothesis)).strip()
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, rc in enumerate(ref, 1):
        current = [i]
        for j, hc in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (rc != hc)))
        previous = current
    return previous[-1] / len(ref)
