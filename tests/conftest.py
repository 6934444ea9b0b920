"""Shared fixtures: a fresh migrated database per test (SQLite file, PostgreSQL schema)."""

from __future__ import annotations

import hashlib
import os
import uuid
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from archiver import integrity, provenance
from archiver.store import db, models

POSTGRES_URL = os.environ.get(
    "ARCHIVER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_reachable() -> str | None:
    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        return (
            f"no PostgreSQL at {POSTGRES_URL} ({type(exc).__name__}); "
            "set ARCHIVER_TEST_POSTGRES_URL to a reachable server"
        )
    return None


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = db.open_database(f"sqlite:///{tmp_path / 'archive.sqlite3'}")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine() -> Iterator[Engine]:
    reason = _postgres_reachable()
    if reason:
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    url = sa.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = db.open_database(url.render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The same test on SQLite and on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_engine")  # type: ignore[no-any-return]


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


@dataclass
class Hop:
    url: str
    status: int = 200
    body: bytes = b""
    location: str | None = None
    content_type: str = "text/html; charset=utf-8"
    headers: Sequence[tuple[str, str]] = ()
    http_version: str = "HTTP/1.1"


class ArchiveBuilder:
    """Writes captures the way save_capture does: body, row, exchanges, links, index, seal."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def body(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        if self.session.get(models.Body, sha) is None:
            self.session.add(
                models.Body(
                    sha256=sha,
                    size=len(data),
                    compression="zlib",
                    data=zlib.compress(data),
                    created_at=T0,
                )
            )
        return sha

    def capture(
        self,
        url: str,
        *,
        text: str | None,
        hops: Sequence[Hop] = (),
        links: Sequence[tuple[str, str, int | None]] = (),
        captured_at: datetime = T0,
        **fields: Any,
    ) -> models.Capture:
        if not hops:
            hops = [Hop(url, body=f"<html><body><p>{text}</p></body></html>".encode())]
        final = hops[-1]
        sha = self.body(final.body) if final.body else None
        capture = models.Capture(
            url=url,
            final_url=fields.pop("final_url", final.url),
            platform=fields.pop("platform", "web"),
            captured_at=captured_at,
            status=fields.pop("status", "ok"),
            http_status=final.status,
            sha256=sha,
            content_type=final.content_type.split(";")[0],
            text=text,
            content_hash=hashlib.sha256((text or "").encode()).hexdigest(),
            change="first",
            **fields,
        )
        integrity.lock_chain(self.session)
        self.session.add(capture)
        self.session.flush()
        for seq, hop in enumerate(hops):
            headers = [["Content-Type", hop.content_type], *map(list, hop.headers)]
            if hop.location:
                headers.append(["Location", hop.location])
            self.session.add(
                models.Exchange(
                    capture_id=capture.id,
                    seq=seq,
                    role="redirect" if hop.location else "response",
                    method="GET",
                    url=hop.url,
                    request_headers=[["User-Agent", "archiver-test"], ["Accept", "*/*"]],
                    started_at=captured_at + timedelta(milliseconds=seq),
                    status=hop.status,
                    reason="OK" if hop.status == 200 else "Moved Permanently",
                    http_version=hop.http_version,
                    response_headers=headers,
                    sha256=self.body(hop.body) if hop.body else None,
                    redirect_location=hop.location,
                    redirect_kind="http" if hop.location else None,
                    truncated=False,
                )
            )
        for position, (link_url, kind, target) in enumerate(links):
            self.session.add(
                models.Link(
                    capture_id=capture.id,
                    position=position,
                    url=link_url,
                    kind=kind,
                    target_id=target,
                )
            )
        self.session.flush()
        provenance.index_capture(self.session, capture)
        integrity.seal(self.session, capture)
        self.session.flush()
        return capture


@pytest.fixture
def builder(session: Session) -> ArchiveBuilder:
    return ArchiveBuilder(session)


# An article, and pages that republish, quote and paraphrase its second paragraph.
ARTICLE_INTRO = (
    "The regional water authority met on Tuesday evening to discuss the summer restrictions. "
    "Residents filled the hall well before the session began."
)
PASSAGE = (
    "Engineers warned that the northern reservoir had fallen to 31 percent of capacity, "
    "the lowest level recorded since monitoring began in 1987. "
    '"We are asking every household to cut its use by a fifth," said the authority\'s chair, '
    "Maria Okafor, adding that hosepipe bans would follow within a fortnight if the dry spell "
    "continued into August."
)
ARTICLE_OUTRO = (
    "Farmers' groups said they would seek an exemption for livestock. "
    "The authority will publish weekly figures on its website from next Monday."
)
ARTICLE = f"{ARTICLE_INTRO}\n\n{PASSAGE}\n\n{ARTICLE_OUTRO}"
# Same words, typographic quotes and dashes, different spacing and case: still a verbatim copy.
COPY = (
    "Reposted from our partners.\n\n"
    + PASSAGE.replace('"', "“", 1)
    .replace(',"', ",”")
    .replace("authority's", "authority’s")
    .replace(", adding", " — adding")
    .replace("  ", " ")
    .replace("Engineers warned", "ENGINEERS   warned")
    + "\n\nRead more news on our site."
)
# The first sentence quoted inside commentary.
QUOTE = (
    "Another summer, another drought. According to local reporting, engineers warned that the "
    "northern reservoir had fallen to 31 percent of capacity, the lowest level recorded since "
    "monitoring began in 1987. We have been saying for years that the pipes leak more than "
    "households could ever save, and nobody listens to us."
)
PARAPHRASE = (
    "Water engineers said the reservoir in the north is now under a third full, its lowest point "
    "in decades of records. The chair of the authority, Maria Okafor, asked families to use a "
    "fifth less water and said garden hose bans could come in two weeks if August stays dry."
)


@dataclass
class SampleArchive:
    post: models.Capture
    article: models.Capture
    article_again: models.Capture
    copy: models.Capture
    quote: models.Capture
    paraphrase: models.Capture
    unrelated: models.Capture


ARTICLE_URL = "https://news.example.org/2026/11/01/reservoir-restrictions"


def build_sample(builder: ArchiveBuilder) -> SampleArchive:
    """A post linking through t.co and bit.ly to an article, and pages reusing the article."""
    html = f"<html><head><title>Reservoir at record low</title></head><body>{ARTICLE}</body></html>"
    post = builder.capture(
        "https://x.com/alice/status/1850000000000000001",
        text="Worrying numbers from tonight's meeting https://t.co/Ab12Cd",
        platform="twitter",
        final_url="https://x.com/alice/status/1850000000000000001",
        canonical_url="https://x.com/alice/status/1850000000000000001",
        links=[("https://t.co/Ab12Cd", "link", None)],
        authors=["alice"],
        captured_at=T0,
        via="syndication",
        hops=[
            Hop(
                "https://cdn.syndication.twimg.com/tweet-result?id=1850000000000000001",
                body=b'{"text": "Worrying numbers from tonight\'s meeting https://t.co/Ab12Cd"}',
                content_type="application/json",
            )
        ],
    )
    article = builder.capture(
        "https://t.co/Ab12Cd",
        text=ARTICLE,
        hops=[
            Hop("https://t.co/Ab12Cd", 301, location="https://bit.ly/3xYz", http_version="HTTP/2"),
            Hop("https://bit.ly/3xYz", 301, location=ARTICLE_URL),
            Hop(
                ARTICLE_URL,
                body=html.encode(),
                headers=[("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")],
            ),
        ],
        canonical_url=ARTICLE_URL,
        title="Reservoir at record low as authority asks for cuts",
        authors=["Jane Doe"],
        published_at=datetime(2026, 10, 30, 18, 0, tzinfo=UTC),
        site_name="Example News",
        captured_at=T0 + timedelta(minutes=1),
        parent_id=post.id,
    )
    # The link is resolved once the article is saved; target_id is outside the seal on purpose.
    builder.session.execute(
        sa.update(models.Link).where(models.Link.capture_id == post.id).values(target_id=article.id)
    )
    article_again = builder.capture(
        ARTICLE_URL,
        text=ARTICLE,
        hops=[Hop(ARTICLE_URL, body=html.encode())],
        canonical_url=ARTICLE_URL,
        title="Reservoir at record low as authority asks for cuts",
        published_at=datetime(2026, 10, 30, 18, 0, tzinfo=UTC),
        captured_at=T0 + timedelta(days=1),
    )
    copy = builder.capture(
        "https://aggregator.example.net/story/998",
        text=COPY,
        title="Reservoir at record low",
        published_at=datetime(2026, 10, 31, 7, 0, tzinfo=UTC),
        site_name="Aggregator",
        captured_at=T0 + timedelta(minutes=5),
    )
    quote = builder.capture(
        "https://blog.example.com/posts/drought-again",
        text=QUOTE,
        title="Another summer, another drought",
        authors=["Bob Writer"],
        published_at=datetime(2026, 10, 31, 12, 0, tzinfo=UTC),
        captured_at=T0 + timedelta(minutes=6),
    )
    paraphrase = builder.capture(
        "https://rewrite.example.com/reservoir",
        text=PARAPHRASE,
        title="Reservoir low",
        published_at=datetime(2026, 10, 29, 12, 0, tzinfo=UTC),
        captured_at=T0 + timedelta(minutes=7),
    )
    unrelated = builder.capture(
        "https://sport.example.org/match-report",
        text="The home side won the cup final after extra time in front of a sold-out stadium.",
        title="Cup final report",
        captured_at=T0 + timedelta(minutes=8),
    )
    builder.session.commit()
    return SampleArchive(post, article, article_again, copy, quote, paraphrase, unrelated)


@pytest.fixture
def sample(builder: ArchiveBuilder) -> SampleArchive:
    return build_sample(builder)
