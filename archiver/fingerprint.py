"""Passage fingerprints: normalised words, five-word shingles, their hashes, winnowed.

Pure functions, shared by the provenance index (which stores the fingerprints of every capture's
text) and the extraction workers (which compute them beside the text, off the writing thread).
Changing any of them changes what is stored: archives indexed before would stop matching.
"""

from __future__ import annotations

import hashlib
import re
import struct
import unicodedata
from collections.abc import Sequence

SHINGLE_WORDS = 5
#: Winnowing window, in shingles: runs of WINDOW + SHINGLE_WORDS - 1 words always share a hash.
WINDOW = 6
GUARANTEED_WORDS = WINDOW + SHINGLE_WORDS - 1

_APOSTROPHES = re.compile("['’‘ʼ`´]")
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """Normalised words: robust to case, Unicode forms, quote and dash styles, punctuation."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _WORD.findall(_APOSTROPHES.sub("", text))


def shingles(tokens: Sequence[str]) -> list[tuple[str, ...]]:
    """Overlapping SHINGLE_WORDS-word tuples; a shorter text is one shingle of all its words."""
    if len(tokens) < SHINGLE_WORDS:
        return [tuple(tokens)] if tokens else []
    return [tuple(tokens[i : i + SHINGLE_WORDS]) for i in range(len(tokens) - SHINGLE_WORDS + 1)]


def shingle_hash(shingle: tuple[str, ...]) -> int:
    """A stable signed 64-bit hash (fits BIGINT), unlike Python's per-process hash()."""
    return _hash_bytes(" ".join(shingle).encode("utf-8"))


_INT64 = struct.Struct(">q")
_SPACE = re.compile(b" ")


def _hash_bytes(data: bytes) -> int:
    return int(_INT64.unpack(hashlib.blake2b(data, digest_size=8).digest())[0])


def shingle_hashes(tokens: Sequence[str]) -> list[int]:
    """`shingle_hash` of every shingle of `tokens`, in order.

    Each shingle is a slice of the words joined once, rather than a tuple joined and encoded
    again: this runs for every capture saved, and the same values come out.
    """
    if len(tokens) < SHINGLE_WORDS:
        return [shingle_hash(tuple(tokens))] if tokens else []
    joined = " ".join(tokens).encode("utf-8")
    # Where each word starts, plus one past the end, so word i..i+4 is starts[i]:starts[i+5]-1.
    starts = [0, *(m.end() for m in _SPACE.finditer(joined)), len(joined) + 1]
    blake2b, unpack = hashlib.blake2b, _INT64.unpack
    return [
        unpack(blake2b(joined[starts[i] : starts[i + SHINGLE_WORDS] - 1], digest_size=8).digest())[
            0
        ]
        for i in range(len(tokens) - SHINGLE_WORDS + 1)
    ]


def winnow(hashes: Sequence[int], window: int = WINDOW) -> set[int]:
    """The minimum of every `window` consecutive hashes (Schleimer et al., 2003)."""
    if len(hashes) <= window:
        return set(hashes)
    last = len(hashes) - window + 1
    return set(map(min, zip(*(hashes[k : last + k] for k in range(window)), strict=True)))


def fingerprints(text: str) -> frozenset[int]:
    """The shingle hashes of `text` that are stored in the index."""
    return frozenset(winnow(shingle_hashes(words(text))))
