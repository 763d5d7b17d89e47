"""Bounded decoding of response bodies.

httpx would happily inflate a 1 MB gzip bomb into 1 GB of memory. We read the raw
bytes and inflate them ourselves with an output bound per step, so the byte cap
applies to what we hold, and an absurd compression ratio is its own verdict.
"""

from __future__ import annotations

import zlib

from crawl.drop_reasons import BODY_TOO_LARGE, DECODE_ERROR, DECOMPRESSION_BOMB, UNSUPPORTED_ENCODING


class BodyLimitExceeded(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason  # a declared drop reason: body_too_large | decompression_bomb | decode_error | ...
        self.detail = detail


class BoundedDecoder:
    """Incrementally decode ``gzip`` / ``deflate`` / identity bodies under caps.

    ``max_bytes`` bounds both raw and decoded sizes; ``max_ratio`` flags bombs once
    the decoded size passes ``ratio_floor`` (small, highly compressible pages such as
    JSON are legitimately 20-50x).
    """

    def __init__(self, encoding: str, max_bytes: int, max_ratio: float, ratio_floor: int = 1 << 20) -> None:
        enc = (encoding or "identity").strip().lower()
        self.encoding = enc
        self.max_bytes = max_bytes
        self.max_ratio = max_ratio
        self.ratio_floor = ratio_floor
        self.raw_bytes = 0
        self.decoded_bytes = 0
        self._parts: list[bytes] = []
        if enc in ("gzip", "x-gzip"):
            self._z: zlib._Decompress | None = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            self._z = zlib.decompressobj(zlib.MAX_WBITS)
        elif enc in ("identity", ""):
            self._z = None
        else:
            raise BodyLimitExceeded(UNSUPPORTED_ENCODING, f"unsupported content-encoding {encoding!r}")
        self._deflate_probe = enc == "deflate"

    def _consumed(self) -> int:
        """Compressed bytes actually inflated so far (fed minus not yet consumed)."""
        tail = len(self._z.unconsumed_tail) if self._z is not None else 0
        return max(self.raw_bytes - tail, 1)

    def _take(self, data: bytes) -> None:
        self.decoded_bytes += len(data)
        bomb = self._z is not None and self.decoded_bytes > self.max_ratio * self._consumed()
        if bomb and (self.decoded_bytes > self.ratio_floor or self.decoded_bytes > self.max_bytes):
            raise BodyLimitExceeded(
                DECOMPRESSION_BOMB,
                f"compression ratio above {self.max_ratio:g} ({self._consumed()} -> {self.decoded_bytes}+ bytes)",
            )
        if self.decoded_bytes > self.max_bytes:
            raise BodyLimitExceeded(BODY_TOO_LARGE, f"body exceeds {self.max_bytes} bytes")
        self._parts.append(data)

    def feed(self, chunk: bytes) -> None:
        self.raw_bytes += len(chunk)
        if self.raw_bytes > self.max_bytes:
            raise BodyLimitExceeded(BODY_TOO_LARGE, f"body exceeds {self.max_bytes} bytes")
        if self._z is None:
            self._take(chunk)
            return
        if self._deflate_probe:
            # Some servers send raw deflate without the zlib header.
            self._deflate_probe = False
            try:
                probe = zlib.decompressobj(zlib.MAX_WBITS)
                probe.decompress(chunk[:64])
            except zlib.error:
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)
        data = chunk
        step = 256 * 1024
        try:
            while data:
                out = self._z.decompress(data, step)
                self._take(out)
                data = self._z.unconsumed_tail
        except zlib.error as exc:
            raise BodyLimitExceeded(DECODE_ERROR, f"corrupt {self.encoding} body: {exc}") from exc

    def finish(self) -> bytes:
        if self._z is not None:
            try:
                self._take(self._z.flush())
            except zlib.error as exc:
                raise BodyLimitExceeded(DECODE_ERROR, f"corrupt {self.encoding} body: {exc}") from exc
        return b"".join(self._parts)
