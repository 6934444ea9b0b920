"""`archiver daemon`, `status` and `watch …`: the queue and the watches the daemon works through."""

from __future__ import annotations

import logging
import threading
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from archiver.cli import app, database, print_json, state, when
from archiver.queue import queue_status, utcnow, write_session
from archiver.watches import add_watch, list_watches, parse_interval, remove_watch, set_paused

watch_app = typer.Typer(
    help="URLs re-captured on a schedule by `archiver daemon`.", no_args_is_help=True
)
app.add_typer(watch_app, name="watch")


@watch_app.command("add")
def watch_add_command(
    urls: Annotated[list[str], typer.Argument(help="URLs to watch.")],
    every: Annotated[
        str | None, typer.Option("--every", help="Interval: 90s, 30m, 6h, 1d, 1h30m.")
    ] = None,
    cron: Annotated[
        str | None, typer.Option("--cron", help="Cron line in UTC instead: '0 */6 * * *'.")
    ] = None,
    depth: Annotated[
        int | None, typer.Option(help="Follow links this many levels (default from config).")
    ] = None,
) -> None:
    """Re-capture URLs on a schedule (first capture at the daemon's next poll)."""
    seconds = parse_interval(every) if every is not None else None
    with database() as engine, write_session(engine) as session:
        for url in urls:
            info = add_watch(
                session,
                url,
                every_seconds=seconds,
                cron=cron,
                depth=state.config.archive.depth if depth is None else depth,
                now=utcnow(),
            )
            typer.echo(f"watching {info.url} {info.schedule}, next due {when(info.next_due_at)}")


@watch_app.command("list")
def watch_list_command(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per watch.")] = False,
) -> None:
    """Watched URLs: schedule, last capture, last change, next due, state."""
    with database() as engine, Session(engine) as session:
        watches = list_watches(session, now=utcnow())
    if as_json:
        for info in watches:
            print_json(info.to_dict())
        return
    if not watches:
        typer.echo(
            "archiver: no watches. Add one with: archiver watch add URL --every 6h", err=True
        )
        return
    typer.echo(
        f"{'STATE':9} {'SCHEDULE':18} {'LAST CAPTURE':30} {'LAST CHANGE':20} {'NEXT DUE':20} URL"
    )
    for info in watches:
        last = "-"
        if info.last_capture_id is not None:
            last = f"{when(info.last_captured_at)} {info.last_status} #{info.last_capture_id}"
        typer.echo(
            f"{info.state:9} {info.schedule:18} {last:30} {when(info.last_change_at):20} "
            f"{when(info.next_due_at):20} {info.url}"
        )


@watch_app.command("remove")
def watch_remove_command(urls: Annotated[list[str], typer.Argument(help="Watched URLs.")]) -> None:
    """Stop watching URLs (their captures are kept)."""
    with database() as engine, write_session(engine) as session:
        for url in urls:
            remove_watch(session, url)
            typer.echo(f"stopped watching {url}")


def _pause(urls: list[str], paused: bool) -> None:
    with database() as engine, write_session(engine) as session:
        for url in urls:
            info = set_paused(session, url, paused, now=utcnow())
            typer.echo(f"{info.state} {info.url}")


@watch_app.command("pause")
def watch_pause_command(urls: Annotated[list[str], typer.Argument(help="Watched URLs.")]) -> None:
    """Stop re-capturing URLs for now, keeping their schedule."""
    _pause(urls, True)


@watch_app.command("resume")
def watch_resume_command(urls: Annotated[list[str], typer.Argument(help="Watched URLs.")]) -> None:
    """Re-capture paused URLs again; one that fell due meanwhile is captured at once."""
    _pause(urls, False)


@app.command("daemon")
def daemon_command(
    workers: Annotated[
        int | None, typer.Option(help="Captures run at once (default: daemon.workers).", min=1)
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Capture what is due now, then exit.")
    ] = False,
    grace: Annotated[
        float, typer.Option(help="Seconds running captures get to finish at shutdown.", min=0)
    ] = 30.0,
) -> None:
    """Capture queued jobs and due watches until SIGTERM or Ctrl-C (or, with --once, until idle)."""
    # The capture stack loads only here: `status` and `watch` start quickly without it.
    from archiver.daemon import Daemon, archive_job, stop_on_signals
    from archiver.fetch import Fetcher
    from archiver.schedule import serve

    config = state.config
    archiver_log = logging.getLogger("archiver")
    if archiver_log.getEffectiveLevel() > logging.INFO:
        archiver_log.setLevel(logging.INFO)  # one line per capture is the daemon's output
    with database() as engine, Fetcher(config.fetch) as fetcher:
        daemon = Daemon(
            config=config,
            engine=engine,
            capture=archive_job(config, engine, fetcher=fetcher),
            workers=workers,
        )
        stop = threading.Event()
        with stop_on_signals(stop):
            if once:
                daemon.run_once(grace_seconds=grace, stop=stop)
            else:
                serve(
                    daemon,
                    stop=stop,
                    poll_seconds=config.daemon.poll_seconds,
                    lease_seconds=config.daemon.lease_seconds,
                    grace_seconds=grace,
                )
    stats = daemon.stats
    typer.echo(
        f"archiver: {stats.captures} capture(s); jobs {stats.done} done, {stats.retried} to retry, "
        f"{stats.failed} failed, {stats.released} released",
        err=True,
    )


@app.command("status")
def status_command(
    as_json: Annotated[bool, typer.Option("--json", help="As one JSON object.")] = False,
) -> None:
    """Queue depth, leased and failed jobs, what is due next, hosts being backed off."""
    with database() as engine, Session(engine) as session:
        status = queue_status(session, now=utcnow())
    if as_json:
        print_json(status.to_dict())
        return
    typer.echo(f"queued   {status.queued} ({status.due} due now), next {when(status.next_job_at)}")
    typer.echo(f"leased   {status.leased} ({status.expired} with an expired lease)")
    typer.echo(f"done     {status.done}")
    typer.echo(f"failed   {status.failed}")
    typer.echo(
        f"watches  {status.watches} ({status.paused_watches} paused), "
        f"next due {when(status.next_watch_at)}"
    )
    for host in status.backed_off:
        typer.echo(
            f"backoff  {host.host} until {when(host.backoff_until)} after "
            f"{host.consecutive_failures} failure(s): {host.last_error or '-'}"
        )
