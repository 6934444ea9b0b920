"""Query latency on a large archive: `show` (lookup by URL), `search` and `provenance`.

Fills a fresh archive with synthetic captures (posts of a few dozen words, articles of several
hundred, some articles republished in full or in part elsewhere), then times each question and
reports the median and 95th percentile. SQLite always; PostgreSQL too when reachable.

    python bench/query.py --captures 100000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from archiver.fingerprint import fingerprints
from archiver.provenance import provenance
from archiver.search import search
from archiver.store import models
from archiver.store.captures import find_captures
from archiver.store.db import open_database

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
BATCH = 2000
SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]


@dataclass
class Corpus:
    """What the queries are drawn from."""

    urls: list[str]
    search_terms: list[str]
    passages: list[str]


def vocabulary(rng: random.Random, size: int = 30000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4))))
    return sorted(words, key=lambda w: (len(w), w))


def sentences(rng: random.Random, vocab: list[str], weights: list[float], n_words: int) -> str:
    words = rng.choices(vocab, cum_weights=weights, k=n_words)
    out: list[str] = []
    for i in range(0, n_words, 15):
        chunk = words[i : i + 15]
        out.append(chunk[0].capitalize() + " " + " ".join(chunk[1:]) + ".")
    return " ".join(out)


def documents(n: int, seed: int) -> Iterator[dict[str, Any]]:
    """Synthetic capture rows: 60% posts, 40% articles; every 25th article republished twice."""
    rng = random.Random(seed)
    vocab = vocabulary(rng)
    cumulative, total = [], 0.0
    for rank in range(1, len(vocab) + 1):
        total += 1.0 / rank
        cumulative.append(total)
    pending: list[dict[str, Any]] = []
    article_no = 0
    for i in range(1, n + 1):
        at = T0 + timedelta(minutes=i)
        if pending:
            row = pending.pop()
            row.update(id=i, captured_at=at)
            yield row
            continue
        if rng.random() < 0.6:
            text = sentences(rng, vocab, cumulative, rng.randint(12, 60))
            url = f"https://x.com/user{rng.randint(1, 5000)}/status/{10**18 + i}"
            yield {
                "id": i,
                "url": url,
                "final_url": url,
                "canonical_url": url,
                "platform": "twitter",
                "captured_at": at,
                "status": "ok",
                "title": None,
                "text": text,
                "authors": [f"user{i % 5000}"],
                "published_at": at - timedelta(minutes=5),
                "site_name": "twitter",
            }
            continue
        article_no += 1
        text = "\n\n".join(
            sentences(rng, vocab, cumulative, rng.randint(60, 150))
            for _ in range(rng.randint(3, 8))
        )
        canonical = f"https://news{i % 300}.example/{article_no}/story"
        row = {
            "id": i,
            "url": f"https://t.co/{uuid.UUID(int=rng.getrandbits(128)).hex[:10]}",
            "final_url": canonical + "?utm_source=twitter",
            "canonical_url": canonical,
            "platform": "web",
            "captured_at": at,
            "status": "ok",
            "title": sentences(rng, vocab, cumulative, 8),
            "text": text,
            "authors": [f"Reporter {i % 700}"],
            "published_at": at - timedelta(hours=2),
            "site_name": f"News {i % 300}",
        }
        yield row
        if article_no % 25 == 0:
            paragraphs = text.split("\n\n")
            for copy in range(2):
                kept = paragraphs if copy == 0 else paragraphs[: max(1, len(paragraphs) // 2)]
                url = f"https://copies{copy}.example/{article_no}"
                pending.append(
                    {
                        **row,
                        "url": url,
                        "final_url": url,
                        "canonical_url": url,
                        "text": "Republished.\n\n" + "\n\n".join(kept),
                        "published_at": row["published_at"] + timedelta(days=1 + copy),
                        "site_name": f"Copies {copy}",
                    }
                )


def exchange_rows(row: dict[str, Any]) -> list[dict[str, Any]]:
    """Redirect hops (t.co → final URL) and the final response, as show looks them up."""
    chain = [row["url"], row["final_url"]] if row["url"] != row["final_url"] else [row["url"]]
    return [
        {
            "capture_id": row["id"],
            "seq": seq,
            "role": "redirect" if seq < len(chain) - 1 else "response",
            "method": "GET",
            "url": url,
            "request_headers": [["User-Agent", "archiver-bench"]],
            "started_at": row["captured_at"],
            "status": 301 if seq < len(chain) - 1 else 200,
            "response_headers": [["Content-Type", "text/html"]],
            "redirect_location": chain[seq + 1] if seq < len(chain) - 1 else None,
            "truncated": False,
        }
        for seq, url in enumerate(chain)
    ]


def fill(engine: Engine, n: int, seed: int, progress: Callable[[str], None]) -> Corpus:
    rng = random.Random(seed + 1)
    urls: list[str] = []
    passages: list[str] = []
    terms: set[str] = set()
    captures = models.Capture.__table__
    shingles = models.Shingle.__table__
    exchanges = models.Exchange.__table__
    batch: list[dict[str, Any]] = []
    started = time.perf_counter()

    def flush() -> None:
        if not batch:
            return
        rows = []
        hops = []
        for row in batch:
            rows.extend({"hash": h, "capture_id": row["id"]} for h in fingerprints(row["text"]))
            hops.extend(exchange_rows(row))
        with engine.begin() as conn:
            conn.execute(sa.insert(captures), batch)
            conn.execute(sa.insert(exchanges), hops)
            conn.execute(sa.insert(shingles), rows)
        batch.clear()

    for row in documents(n, seed):
        row.setdefault("content_hash", None)
        batch.append(row)
        if rng.random() < 0.002:
            urls.append(rng.choice([row["url"], row["final_url"], row["canonical_url"]]))
        if row["platform"] == "web" and rng.random() < 0.01:
            words = row["text"].split()
            start = rng.randrange(0, max(1, len(words) - 50))
            passages.append(" ".join(words[start : start + rng.randint(30, 50)]))
        if rng.random() < 0.002:
            words = row["text"].split()
            terms.add(" ".join(w.strip(".").lower() for w in rng.sample(words, min(2, len(words)))))
        if len(batch) >= BATCH:
            flush()
            if row["id"] % 20000 < BATCH:
                progress(f"  {row['id']:>8} captures, {time.perf_counter() - started:6.1f} s")
    flush()
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(
                sa.text("SELECT setval('captures_id_seq', (SELECT max(id) FROM captures))")
            )
            conn.execute(sa.text("ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
    progress(f"  filled {n} captures in {time.perf_counter() - started:.1f} s")
    return Corpus(
        urls=urls or ["https://none.example/"], search_terms=sorted(terms), passages=passages
    )


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    fn()  # warm the caches once
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def measure(engine: Engine, corpus: Corpus, queries: int, seed: int) -> dict[str, dict[str, float]]:
    rng = random.Random(seed + 2)
    results: dict[str, dict[str, float]] = {}
    with Session(engine) as session:
        operations: dict[str, Callable[[], Any]] = {
            "show": lambda: find_captures(session, [rng.choice(corpus.urls)]),
            "search": lambda: search(session, rng.choice(corpus.search_terms or ["a"]), limit=20),
            "provenance": lambda: provenance(session, rng.choice(corpus.passages or ["a b c"])),
        }
        for name, fn in operations.items():
            samples = sorted(timed(fn, queries))
            p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
            results[name] = {
                "median_ms": round(statistics.median(samples), 2),
                "p95_ms": round(p95, 2),
            }
    return results


def postgres_database(admin_url: str) -> tuple[str, Callable[[], None]] | None:
    try:
        admin = sa.create_engine(
            admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        name = f"archiver_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server, no driver, no rights: skip PostgreSQL, say why
        print(f"PostgreSQL skipped: {str(exc).splitlines()[0]}", file=sys.stderr)
        return None

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return url, drop


def run(
    captures: int, queries: int, seed: int, postgres: str | None, progress: Callable[[str], None]
) -> dict[str, Any]:
    report: dict[str, Any] = {"captures": captures, "queries": queries, "backends": {}}
    with tempfile.TemporaryDirectory(prefix="archiver-bench-") as tmp:
        engine = open_database(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        progress(f"SQLite: filling {captures} captures")
        corpus = fill(engine, captures, seed, progress)
        report["backends"]["sqlite"] = measure(engine, corpus, queries, seed)
        engine.dispose()
    if postgres:
        created = postgres_database(postgres)
        if created is not None:
            url, drop = created
            try:
                engine = open_database(url)
                progress(f"PostgreSQL: filling {captures} captures")
                corpus = fill(engine, captures, seed, progress)
                report["backends"]["postgresql"] = measure(engine, corpus, queries, seed)
                engine.dispose()
            finally:
                drop()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--captures", type=int, default=100_000, help="archive size")
    parser.add_argument("--queries", type=int, default=100, help="timed runs per question")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("ARCHIVER_TEST_POSTGRES_URL", DEFAULT_PG),
        help="server to create a scratch database on ('' to skip PostgreSQL)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    report = run(args.captures, args.queries, args.seed, args.postgres or None, progress)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{report['captures']} captures, {report['queries']} timed queries each")
    print(f"{'backend':12} {'question':12} {'median ms':>10} {'p95 ms':>10}")
    for backend, results in report["backends"].items():
        for name, values in results.items():
            print(f"{backend:12} {name:12} {values['median_ms']:10.2f} {values['p95_ms']:10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
