"""Questions asked of the archive: history, diff, provenance, search, export, verify."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from archiver import integrity
from archiver.cli import app, database, fail, print_json, when
from archiver.export import ExportFormat, export
from archiver.history import diff_captures, timeline
from archiver.model import utc_iso
from archiver.provenance import provenance, provenance_of_url
from archiver.search import Order, search
from archiver.store.db import session_factory


@app.command("history")
def history_command(
    url: Annotated[str, typer.Argument(help="The URL as it was archived.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per capture.")] = False,
) -> None:
    """Every capture of a URL over time: first, unchanged, changed, gone, back, failed."""
    with database() as engine, Session(engine) as session:
        entries = timeline(session, url)
    for entry in entries:
        if as_json:
            print_json(entry.to_dict())
            continue
        detail = entry.error or entry.title or ""
        typer.echo(
            f"{when(entry.captured_at):20} #{entry.id:<7} {entry.status:6} "
            f"{entry.change or '-':9} {detail}".rstrip()
        )


@app.command("diff")
def diff_command(
    url: Annotated[str, typer.Argument(help="The URL as it was archived.")],
    from_id: Annotated[
        int | None, typer.Option("--from", help="Older capture id (default: the one before).")
    ] = None,
    to_id: Annotated[
        int | None, typer.Option("--to", help="Newer capture id (default: the latest).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="As one JSON object.")] = False,
) -> None:
    """What changed between two captures of a URL: metadata fields and a unified text diff."""
    with database() as engine, Session(engine) as session:
        diff = diff_captures(session, url, from_id=from_id, to_id=to_id)
    if as_json:
        print_json(diff.to_dict())
        return
    typer.echo(
        f"capture #{diff.before.id} ({when(diff.before.captured_at)}) → "
        f"#{diff.after.id} ({when(diff.after.captured_at)})"
    )
    if not diff.changed:
        typer.echo("no change in text or metadata")
    for change in diff.fields:
        typer.echo(f"{change.field}: {change.before!r} → {change.after!r}")
    if diff.text_diff:
        typer.echo(diff.text_diff, nl=False)


def _date_option(value: str | None) -> datetime | None:
    """ISO 8601 date or time; naive values are UTC."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date; use e.g. 2026-11-01 or 2026-11-01T08:00Z"
        ) from None


@app.command("provenance")
def provenance_command(
    passage: Annotated[str | None, typer.Argument(help="The passage ('-' reads stdin).")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Read the passage from a file.", dir_okay=False)
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="Use the text of an archived URL.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the matches as JSON.")] = False,
) -> None:
    """Find every archived document containing a passage, the likely origin first."""
    if sum(x is not None for x in (passage, file, url)) != 1:
        raise fail("give exactly one of PASSAGE, --file FILE or --url URL", 2)
    text = sys.stdin.read() if passage == "-" else passage
    if file is not None:
        text = file.read_text(encoding="utf-8")
    with database() as engine, session_factory(engine)() as session:
        result = provenance_of_url(session, url) if url else provenance(session, text or "")
    if as_json:
        print_json(result.as_dict())
    for m in [] if as_json else result.matches:
        ids = ", ".join(f"#{i}" for i in m.capture_ids)
        typer.echo(f"{m.relation:6} {m.coverage:4.0%}  {m.url}  ({ids})")
        published = utc_iso(m.published_at) or "?"
        first = utc_iso(m.first_captured_at)
        typer.echo(f"       published {published}, first captured {first}  {m.title or ''}")
        for k in m.linked_from:
            typer.echo(
                f"       linked from #{k.capture_id} {k.url}"
                + "".join(f" → {hop}" for hop in k.via)
            )
    if not result.matches:
        raise fail("no archived document contains this passage", 1)


@app.command("search")
def search_command(
    query: Annotated[str, typer.Argument(help="Words to find (all of them), in titles and texts.")],
    platform: Annotated[
        str | None, typer.Option(help="twitter, mastodon, bluesky, reddit, telegram, youtube, web.")
    ] = None,
    site: Annotated[
        str | None, typer.Option(help="Domain (subdomains included) or site name.")
    ] = None,
    author: Annotated[str | None, typer.Option(help="Part of an author's name.")] = None,
    since: Annotated[str | None, typer.Option(help="Captured at or after (ISO 8601, UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Captured before (ISO 8601, UTC).")] = None,
    status: Annotated[str | None, typer.Option(help="ok, gone or failed.")] = None,
    order: Annotated[Order, typer.Option(help="best or newest.")] = Order.BEST,
    limit: Annotated[int, typer.Option(min=1, help="At most this many results.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per hit.")] = False,
) -> None:
    """Full-text search over captured titles and texts."""
    with database() as engine, session_factory(engine)() as session:
        hits = search(
            session,
            query,
            platform=platform,
            site=site,
            author=author,
            since=_date_option(since),
            until=_date_option(until),
            status=status,
            order=order,
            limit=limit,
        )
    for hit in hits:
        data = {
            "capture_id": hit.capture_id,
            "url": hit.url,
            "title": hit.title,
            "captured_at": utc_iso(hit.captured_at),
            "published_at": utc_iso(hit.published_at),
            "snippet": hit.snippet,
        }
        if as_json:
            print_json(data)
        else:
            typer.echo(f"#{hit.capture_id} {data['captured_at']} {hit.url}")
            typer.echo(f"    {hit.title or ''}\n    {hit.snippet}")
    if not hits:
        raise fail(f"nothing archived matches {query!r}", 1)


@app.command("export")
def export_command(
    out: Annotated[
        Path, typer.Argument(help="File to write (replaced when complete).", dir_okay=False)
    ],
    format: Annotated[
        ExportFormat, typer.Option("--format", help="warc, wacz, jsonl or csv.")
    ] = ExportFormat.WARC,
    url: Annotated[
        str | None, typer.Option(help="Only this URL's captures and what they led to.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only captures made at or after (ISO 8601, UTC).")
    ] = None,
) -> None:
    """Export captures as WARC 1.1, WACZ, JSON Lines or CSV."""
    with database() as engine, session_factory(engine)() as session:
        summary = export(session, out, format=format, url=url, since=_date_option(since))
    records = "".join(f", {n} {kind}" for kind, n in summary.records.items())
    typer.echo(
        f"archiver: wrote {summary.captures} captures to {out} ({summary.bytes} bytes{records})",
        err=True,
    )


@app.command("verify")
def verify_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Re-hash every stored body and capture and walk the hash chain; exit 1 on any mismatch."""
    with database() as engine, session_factory(engine)() as session:
        report = integrity.verify(session)
    if as_json:
        print_json(report.as_dict())
    for p in [] if as_json else report.problems:
        where = f"capture #{p.capture_id}" if p.capture_id is not None else f"body {p.sha256}"
        typer.echo(f"{p.kind:8} {where}: {p.detail}")
    typer.echo(
        f"archiver: checked {report.bodies_checked} bodies and {report.captures_checked} "
        f"captures; {len(report.problems)} problems; chain head {report.head}",
        err=True,
    )
    if not report.ok:
        raise typer.Exit(1)
