"""Tables. Schema changes go through Alembic (migrations/); a test checks the two agree."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only gives AUTOINCREMENT rowids to INTEGER PRIMARY KEY columns.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
    }


class Body(Base):
    """A response body stored once per SHA-256 of its (content-decoded) bytes, compressed."""

    __tablename__ = "bodies"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    compression: Mapped[str] = mapped_column(String(8))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class Capture(Base):
    """One attempt to archive one URL at one time: ok, gone, or failed with a reason."""

    __tablename__ = "captures"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text)
    final_url: Mapped[str | None] = mapped_column(Text)
    canonical_url: Mapped[str | None] = mapped_column(Text)
    platform: Mapped[str] = mapped_column(String(16))
    captured_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(8))
    http_status: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    warnings: Mapped[list[str] | None] = mapped_column(JSON)
    sha256: Mapped[str | None] = mapped_column(ForeignKey("bodies.sha256"))
    content_type: Mapped[str | None] = mapped_column(String(255))
    via: Mapped[str | None] = mapped_column(String(32))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("captures.id"))
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    authors: Mapped[list[str] | None] = mapped_column(JSON)
    published_at: Mapped[datetime | None]
    modified_at: Mapped[datetime | None]
    site_name: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(35))
    description: Mapped[str | None] = mapped_column(Text)
    #: JSON-LD, OpenGraph, Twitter card, image … as found.
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: The common post record for platform captures.
    post: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: SHA-256 of the extracted text and key metadata, for change detection.
    content_hash: Mapped[str | None] = mapped_column(String(64))
    #: first | unchanged | changed | gone | back | failed, against the previous capture of the URL.
    change: Mapped[str | None] = mapped_column(String(16))
    #: Tamper-evident log: hash of this row's metadata, chained to the previous capture's.
    meta_hash: Mapped[str | None] = mapped_column(String(64))
    chain_hash: Mapped[str | None] = mapped_column(String(64))
    #: The capture holding this one's content when it is an unchanged re-capture: its NULL
    #: content columns, links and exchange details are that capture's (see store.same_as).
    same_as: Mapped[int | None] = mapped_column(ForeignKey("captures.id"))

    __table_args__ = (
        Index("ix_captures_url", "url", postgresql_using="hash"),
        Index("ix_captures_final_url", "final_url", postgresql_using="hash"),
        Index("ix_captures_canonical_url", "canonical_url", postgresql_using="hash"),
        Index("ix_captures_captured_at", "captured_at"),
        Index("ix_captures_parent_id", "parent_id"),
        Index("ix_captures_sha256", "sha256"),
        Index("ix_captures_job_id", "job_id"),
        Index("ix_captures_same_as", "same_as"),
    )


class Exchange(Base):
    """One raw HTTP request/response made for a capture: redirect hops, API calls, the page."""

    __tablename__ = "exchanges"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    #: redirect | response | attempt (a fallback route that did not answer)
    role: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text)
    #: A list of [name, value], or for a re-capture a delta against the exchange at the same
    #: seq of the capture it is the same as (see store.same_as.headers_delta).
    request_headers: Mapped[list[list[str]] | dict[str, Any]] = mapped_column(JSON)
    started_at: Mapped[datetime]
    status: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(Text)
    http_version: Mapped[str | None] = mapped_column(String(16))
    response_headers: Mapped[list[list[str]] | dict[str, Any] | None] = mapped_column(JSON)
    sha256: Mapped[str | None] = mapped_column(ForeignKey("bodies.sha256"))
    redirect_location: Mapped[str | None] = mapped_column(Text)
    redirect_kind: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index("ix_exchanges_capture_id", "capture_id"),
        Index("ix_exchanges_url", "url", postgresql_using="hash"),
        Index("ix_exchanges_sha256", "sha256"),
    )


class Link(Base):
    """An outlink of a capture; target_id is the capture it led to, when followed."""

    __tablename__ = "links"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(Text)
    #: link | media | embed | quote | reply
    kind: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[int | None] = mapped_column(ForeignKey("captures.id"))

    __table_args__ = (
        Index("ix_links_capture_id", "capture_id"),
        Index("ix_links_target_id", "target_id"),
        Index("ix_links_url", "url", postgresql_using="hash"),
    )


class Watch(Base):
    """A URL re-captured on a schedule."""

    __tablename__ = "watches"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text)
    url_hash: Mapped[str] = mapped_column(String(64), unique=True)
    interval_seconds: Mapped[float | None] = mapped_column(Float)
    cron: Mapped[str | None] = mapped_column(String(255))
    depth: Mapped[int] = mapped_column(Integer, default=1)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    next_due_at: Mapped[datetime | None]
    last_capture_id: Mapped[int | None] = mapped_column(BigInteger)
    last_captured_at: Mapped[datetime | None]
    last_change_at: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (Index("ix_watches_next_due_at", "next_due_at"),)


class Job(Base):
    """A capture to do, claimed by a worker with a lease so that a dead worker loses nothing."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text)
    depth: Mapped[int] = mapped_column(Integer, default=1)
    watch_id: Mapped[int | None] = mapped_column(ForeignKey("watches.id", ondelete="SET NULL"))
    #: queued | leased | done | failed
    state: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    enqueued_at: Mapped[datetime]
    not_before: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    capture_id: Mapped[int | None] = mapped_column(BigInteger)
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_jobs_state_not_before", "state", "not_before"),
        Index("ix_jobs_watch_id", "watch_id"),
    )


class JobAttempt(Base):
    """Each try of a job, kept so retries and their reasons can be audited."""

    __tablename__ = "job_attempts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    capture_id: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_job_attempts_job_id", "job_id"),)


class HostState(Base):
    """Per-host politeness and backoff, shared by every daemon on the database."""

    __tablename__ = "hosts"
    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    backoff_until: Mapped[datetime | None]
    last_request_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class Shingle(Base):
    """A sampled hash of five consecutive normalised words of a capture's text (see provenance).

    Keyed (hash, capture_id) so a passage's hashes find their captures by index alone; on SQLite
    the table is WITHOUT ROWID, which keeps it one B-tree instead of a table plus an index.
    """

    __tablename__ = "shingles"
    hash: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    capture_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("captures.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )

    __table_args__ = (
        Index("ix_shingles_capture_id", "capture_id"),
        {"sqlite_with_rowid": False},
    )
