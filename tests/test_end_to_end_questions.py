"""Questions asked of a real archive: a recorded CNN tweet, its t.co → cnn.it chain, the article."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.fixtures.recorded_web import RecordedWeb
from tests.fixtures.recorded_web import run_archiver as run
from tests.test_end_to_end import ARTICLE, SHORT, TCO, TWEET_URL

# The recorded web and proxy of the end-to-end archiving test, used here as fixtures.
from tests.test_end_to_end import proxy_env as proxy_env
from tests.test_end_to_end import web as web

pytestmark = pytest.mark.slow


def test_provenance_verify_and_warc_of_an_archived_tweet(
    proxy_env: dict[str, str],
    web: RecordedWeb,
    tmp_path: Path,
) -> None:
    archived = run(proxy_env, "archive", TWEET_URL, "--json")
    assert archived.returncode == 0, archived.stderr
    captures = {c["platform"]: c for c in map(json.loads, archived.stdout.splitlines())}
    tweet, article = captures["twitter"], captures["web"]

    verified = run(proxy_env, "verify", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)
    assert report["ok"] and report["captures_checked"] == 2

    words = article["text"].split()
    passage = " ".join(words[120:170])
    found = run(proxy_env, "provenance", "--json", passage)
    assert found.returncode == 0, found.stderr
    (match,) = json.loads(found.stdout)["matches"]
    assert match["relation"] == "origin" and match["coverage"] == 1.0
    assert match["url"] == ARTICLE and match["capture_ids"] == [article["id"]]
    assert match["linked_from"] == [
        {"capture_id": tweet["id"], "url": TWEET_URL, "via": [TCO, SHORT]}
    ]

    out = tmp_path / "tweet.warc.gz"
    exported = run(proxy_env, "export", "--format", "warc", "--url", TWEET_URL, str(out))
    assert exported.returncode == 0, exported.stderr
    check = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    with out.open("rb") as fh:
        responses = [
            r.rec_headers.get_header("WARC-Target-URI")
            for r in ArchiveIterator(fh)
            if r.rec_type == "response"
        ]
    assert TCO in responses and SHORT in responses
    assert any(uri.startswith(ARTICLE) for uri in responses)
