"""Bodies read raw and decoded here, chunk by bounded chunk, within the size and time limits.

So a compression bomb costs at most the size limit, and a server trickling bytes is cut at the
deadline even when what it sends decodes to nothing.
"""

from __future__ import annotations

import io
import time
import zlib
from collections.abc import Iterator

import httpx

from archiver.config import FetchConfig
from archiver.errors import BodyTooLarge, FetchError, FetchTimeout, NetworkError
from archiver.fetch.failures import translate_httpx_error
from archiver.urls import redact_url

# Decoded here with bounded output per step; br/zstd are not offered, so servers do not send them.
ACCEPT_ENCODING = "gzip, deflate"
_DECODE_STEP = 64 * 1024


def read_body(
    response: httpx.Response, url: str, deadline: float, limit: int, config: FetchConfig
) -> tuple[bytes, FetchError | None]:
    """Read and decode the body within the limits; on failure return what came and the error."""
    # BytesIO hands its buffer over without a copy, so the body costs the limit, not twice it.
    buffer = io.BytesIO()
    size = 0
    try:
        if response.is_stream_consumed:
            # Responses built in memory (mock transports) arrive read and decoded by httpx.
            raw: Iterator[bytes] = iter((response.content,))
            layers: list[_Inflater] = []
        else:
            raw = response.iter_raw()
            layers = _decoders(response.headers.get("content-encoding"), url)
        for chunk in _then_flush(raw, layers):
            # Checked per raw chunk: a server trickling bytes that decode to nothing is cut too.
            if time.monotonic() > deadline:
                return buffer.getvalue(), FetchTimeout(
                    f"Gave up on {redact_url(url)} while reading the body: the total "
                    f"time limit of {config.total_timeout:g}s (fetch.total_timeout) "
                    "was reached",
                    url=url,
                )
            for piece in chunk:
                if size + len(piece) > limit:
                    buffer.write(piece[: limit - size])
                    return buffer.getvalue(), BodyTooLarge(
                        f"The body of {redact_url(url)} is larger than {limit} bytes "
                        "(fetch.max_body_bytes); the rest was not read",
                        url=url,
                    )
                size += len(piece)
                buffer.write(piece)
    except FetchError as exc:
        return buffer.getvalue(), exc
    except zlib.error as exc:
        return buffer.getvalue(), NetworkError(
            f"{redact_url(url)}: the body is not valid "
            f"{response.headers.get('content-encoding')} data ({exc})",
            url=url,
        )
    except httpx.HTTPError as exc:
        late = time.monotonic() >= deadline
        return buffer.getvalue(), translate_httpx_error(exc, url, config, late, None)
    return buffer.getvalue(), None


class _Inflater:
    """One content-encoding layer, giving out at most `_DECODE_STEP` bytes per step."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._deflate = encoding == "deflate"
        wbits = zlib.MAX_WBITS | 16 if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._obj = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            try:
                out = self._obj.decompress(data, _DECODE_STEP)
            except zlib.error:
                # "deflate" often comes without its zlib header (raw deflate); httpx allows it too.
                if self._deflate and not self._started:
                    self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._started = True
                    continue
                raise
            self._started = True
            if out:
                yield out
            data = self._obj.unconsumed_tail

    def flush(self) -> bytes:
        return self._obj.flush()


def _decoders(content_encoding: str | None, url: str) -> list[_Inflater]:
    layers: list[_Inflater] = []
    for value in (content_encoding or "").lower().split(","):
        encoding = value.strip()
        if encoding in ("", "identity"):
            continue
        if encoding not in ("gzip", "x-gzip", "deflate"):
            raise NetworkError(
                f"{redact_url(url)} answered with content-encoding {encoding!r}, "
                "which archiver cannot decode",
                url=url,
            )
        layers.append(_Inflater(encoding))
    return layers


def _decode(layers: list[_Inflater], data: bytes) -> Iterator[bytes]:
    if not layers:
        if data:
            yield data
        return
    for piece in layers[0].feed(data):
        yield from _decode(layers[1:], piece)


def _flush(layers: list[_Inflater]) -> Iterator[bytes]:
    for i, layer in enumerate(layers):
        yield from _decode(layers[i + 1 :], layer.flush())


def _then_flush(raw: Iterator[bytes], layers: list[_Inflater]) -> Iterator[Iterator[bytes]]:
    """Per raw chunk its decoded pieces (lazily, so output stays bounded); then what flush gives."""
    for chunk in raw:
        yield _decode(layers, chunk)
    yield _flush(layers)
