"""Text extraction in worker processes, for batches large enough to pay for them.

Extraction is CPU-bound pure Python and lxml; in threads it holds the GIL and a batch runs on one
core. Each worker is a plain `python -m archiver.workers` child fed over its stdin/stdout, rather
than a multiprocessing pool: multiprocessing re-imports the caller's main script in every child,
which breaks scripts without an `if __name__ == "__main__"` guard, and forking a process that
holds threads and database connections is unsafe.

Frames are a 4-byte big-endian length and a pickle; only this package's own processes are on
either end of the pipe.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from archiver.model import Page

#: A page's extraction and the passage fingerprints of its text (computed beside it, so the
#: process writing captures does not have to).
Extracted = tuple[Page, frozenset[int]]

log = logging.getLogger(__name__)

_LENGTH = struct.Struct(">I")
#: What a capture records when a page kills the extraction process twice (a parser crash).
CRASHED = "text extraction crashed its worker process twice; stored without it"
#: How a worker is started, after the running interpreter's path.
WORKER_ARGS: tuple[str, ...] = ("-m", "archiver.workers")
#: The first frame a worker sends, once it has imported the extractor.
READY = ("ready", 1)


@dataclass
class _Job:
    body: bytes
    url: str
    charset: str | None
    future: Future[Extracted]
    tries: int = 0


def _write_frame(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _read_frame(stream: IO[bytes]) -> Any:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("worker pipe closed")
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("worker pipe closed mid-frame")
    return pickle.loads(data)


class ExtractionPool:
    """`processes` extraction workers; `submit` is thread-safe and returns a Future of the page.

    A worker that dies is replaced and its page tried once more on the new one; a page that kills
    two workers gets a `Page` with only a warning, so one hostile page cannot stop a batch.
    """

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._feed, name=f"extract-{i}", daemon=True)
            for i in range(processes)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, body: bytes, url: str, charset: str | None) -> Future[Extracted]:
        future: Future[Extracted] = Future()
        self._jobs.put(_Job(body, url, charset, future))
        return future

    def close(self) -> None:
        """Let the workers finish what they hold, then stop them."""
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()

    def _feed(self) -> None:
        # One thread per worker process, one page at a time: the round trip is a fraction of a
        # millisecond against tens of milliseconds of extraction.
        # The first worker starts before a page arrives, so its imports overlap the first fetches;
        # a replacement for one that died starts when there is a page for it.
        process = _try_start()
        inline = process is None
        try:
            while True:
                job = self._jobs.get()
                if job is None:
                    return
                if job.future.cancelled():
                    continue
                if process is None and not inline:
                    process = _try_start()
                    inline = process is None
                if process is None:
                    job.future.set_result(_extract(job.body, job.url, job.charset))
                    continue
                try:
                    assert process.stdin is not None and process.stdout is not None
                    _write_frame(process.stdin, (job.body, job.url, job.charset))
                    ok, value = _read_frame(process.stdout)
                except (EOFError, OSError, pickle.UnpicklingError) as exc:
                    _stop(process)
                    process = None
                    job.tries += 1
                    log.warning("extraction worker died on %s (%s); restarting it", job.url, exc)
                    if job.tries < 2:
                        self._jobs.put(job)
                    else:
                        job.future.set_result((Page(warnings=(CRASHED,)), frozenset()))
                    continue
                if not ok:
                    # extract_page promises a Page whatever the input; a bug in it is logged and
                    # the capture kept with its body, as for a page too large to extract.
                    log.error("text extraction of %s failed: %s", job.url, value)
                    value = (Page(warnings=(f"text extraction failed: {value}",)), frozenset())
                job.future.set_result(value)
        finally:
            if process is not None:
                _stop(process)


class WorkerUnavailable(Exception):
    """A worker process could not be started or did not come up."""


def _try_start() -> subprocess.Popen[bytes] | None:
    """A worker, or None when none can be had (pages are then extracted in the calling thread)."""
    try:
        return _start_worker()
    except WorkerUnavailable as exc:
        # No child interpreter here (a frozen or embedded Python): extract in-process, as small
        # batches do, rather than lose the text.
        log.warning("extraction workers unavailable (%s); extracting in-process", exc)
        return None


def _extract(body: bytes, url: str, charset: str | None) -> Extracted:
    from archiver.extract import extract_page
    from archiver.fingerprint import fingerprints

    page = extract_page(body, url, charset=charset)
    return page, fingerprints(page.text) if page.text else frozenset()


def _start_worker() -> subprocess.Popen[bytes]:
    """A running worker that said it is ready; WorkerUnavailable if none can be had."""
    env = dict(os.environ)
    # The child must import this very archiver package, installed or not.
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    if not sys.executable:
        raise WorkerUnavailable("no Python executable to start")
    try:
        process = subprocess.Popen(
            [sys.executable, *WORKER_ARGS],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
    except OSError as exc:
        raise WorkerUnavailable(str(exc)) from exc
    try:
        assert process.stdout is not None
        hello = _read_frame(process.stdout)
    except (EOFError, OSError, pickle.UnpicklingError) as exc:
        _stop(process)
        raise WorkerUnavailable(f"the worker exited before it was ready ({exc})") from exc
    if hello != READY:
        _stop(process)
        raise WorkerUnavailable(f"the worker answered {hello!r} instead of being ready")
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):  # a dead worker's pipe may fail to flush
                stream.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """The worker's side: say it is ready, then extract each page sent until the pipe closes."""
    import archiver.extract  # noqa: F401  (imported before saying it is ready)

    _write_frame(stdout, READY)
    while True:
        try:
            body, url, charset = _read_frame(stdin)
        except EOFError:
            return
        try:
            reply: tuple[bool, Any] = (True, _extract(body, url, charset))
        except Exception as exc:  # extract_page promises a Page; a bug must not kill the batch
            reply = (False, f"{type(exc).__name__}: {exc}")
        _write_frame(stdout, reply)


def main() -> None:
    # Ctrl-C reaches the whole process group; the parent decides, the worker ends at EOF.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    # Anything a library prints goes to stderr, never into the frames.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, protocol)


if __name__ == "__main__":
    main()
