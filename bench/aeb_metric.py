"""The article-extraction benchmark's metric: word 4-gram shingles, per-page P/R, F1 of averages.

Kept apart from the runner so it can be unit-tested on hand-made texts and reused.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_TOKEN = re.compile(r"\w+")
SHINGLE = 4


def tokens(text: str) -> list[str]:
    """Every `\\w+` match, case kept, as the benchmark tokenises."""
    return _TOKEN.findall(text or "")


def shingles(text: str, n: int = SHINGLE) -> Counter[tuple[str, ...]]:
    """Multiset of runs of `n` tokens; a shorter text is one shingle, an empty one none."""
    toks = tokens(text)
    if not toks:
        return Counter()
    if len(toks) < n:
        return Counter([tuple(toks)])
    return Counter(tuple(toks[i : i + n]) for i in range(len(toks) - n + 1))


@dataclass(frozen=True)
class PageScore:
    tp: float
    fp: float
    fn: float
    exact: bool


def score_page(true: str, pred: str) -> PageScore:
    """tp/fp/fn of one page, normalised by their sum so long pages weigh no more than short."""
    t, p = shingles(true), shingles(pred)
    tp = sum((t & p).values())
    fp = sum((p - t).values())
    fn = sum((t - p).values())
    total = tp + fp + fn
    exact = tokens(true) == tokens(pred)
    if total == 0:
        return PageScore(0.0, 0.0, 0.0, exact)
    return PageScore(tp / total, fp / total, fn / total, exact)


@dataclass(frozen=True)
class Summary:
    precision: float
    recall: float
    f1: float
    accuracy: float
    pages: int


def summarise(scores: Iterable[PageScore]) -> Summary:
    """Average per-page precision and recall, then F1 of the two averages."""
    scores = list(scores)
    precisions = [s.tp / (s.tp + s.fp) for s in scores if s.tp + s.fp > 0]
    recalls = [s.tp / (s.tp + s.fn) for s in scores if s.tp + s.fn > 0]
    p = sum(precisions) / len(precisions) if precisions else 0.0
    r = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
    acc = sum(s.exact for s in scores) / len(scores) if scores else 0.0
    return Summary(p, r, f1, acc, len(scores))


def evaluate(truth: Mapping[str, str], predicted: Mapping[str, str]) -> Summary:
    """Score predictions against the ground truth; a missing prediction counts as empty."""
    return summarise(score_page(truth[k], predicted.get(k, "")) for k in truth)
