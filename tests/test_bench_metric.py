"""The extraction benchmark's metric on hand-made texts, and the benchmark runner on two pages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.aeb_metric import evaluate, score_page, shingles, tokens

ROOT = Path(__file__).resolve().parent.parent
MINI = Path(__file__).parent / "data" / "aeb-mini"


def test_tokens_are_unicode_words_with_case_kept() -> None:
    assert tokens("Héllo, wörld! it's 2019 — ok_go") == [
        "Héllo",
        "wörld",
        "it",
        "s",
        "2019",
        "ok_go",
    ]


def test_shingles_are_a_multiset_of_four_token_runs() -> None:
    assert shingles("a b c d a b c d") == {
        ("a", "b", "c", "d"): 2,
        ("b", "c", "d", "a"): 1,
        ("c", "d", "a", "b"): 1,
        ("d", "a", "b", "c"): 1,
    }
    assert shingles("only three words") == {("only", "three", "words"): 1}
    assert shingles("  ... ") == {}


def test_identical_texts_score_perfectly_whatever_the_spacing() -> None:
    score = score_page("One two three four five.", "One two\n\nthree four   five")
    assert (score.tp, score.fp, score.fn, score.exact) == (1.0, 0.0, 0.0, True)


def test_page_counts_are_normalised_by_their_sum() -> None:
    # true shingles: abcd bcde; predicted: abcd bcdx cdxy -> tp 1, fp 2, fn 1
    score = score_page("a b c d e", "a b c d x y")
    assert score.tp == pytest.approx(1 / 4)
    assert score.fp == pytest.approx(2 / 4)
    assert score.fn == pytest.approx(1 / 4)
    assert not score.exact


def test_precision_and_recall_are_averaged_per_page_then_combined() -> None:
    truth = {"p1": "a b c d e", "p2": "w x y z"}
    predicted = {"p1": "a b c d x y", "p2": "w x y z"}
    summary = evaluate(truth, predicted)
    # p1: P = 1/3, R = 1/2; p2: P = R = 1
    assert summary.precision == pytest.approx((1 / 3 + 1) / 2)
    assert summary.recall == pytest.approx((1 / 2 + 1) / 2)
    p, r = summary.precision, summary.recall
    assert summary.f1 == pytest.approx(2 * p * r / (p + r))
    assert summary.accuracy == pytest.approx(0.5)


def test_an_empty_prediction_costs_recall_but_is_left_out_of_precision() -> None:
    summary = evaluate({"p1": "a b c d e", "p2": "w x y z"}, {"p2": "w x y z"})
    assert summary.precision == pytest.approx(1.0)
    assert summary.recall == pytest.approx(0.5)


def test_extraction_benchmark_runs_on_two_pages(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "extraction.py"),
            "--data",
            str(MINI),
            "--repeat",
            "1",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "| archiver / trafilatura |" in done.stdout
    result = json.loads(out.read_text())
    assert result["pages"] == 2
    for name in ("archiver", "trafilatura"):
        row = result["results"][name]
        assert 0.5 < row["f1"] <= 1.0
        assert row["pages_per_s"] > 0
        assert row["peak_rss_mib"] > 0
