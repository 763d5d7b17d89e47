from __future__ import annotations

import gzip
import zlib

import pytest

from crawl.decode import BodyLimitExceeded, BoundedDecoder


def feed_all(dec: BoundedDecoder, data: bytes, chunk: int = 65536) -> bytes:
    for i in range(0, len(data), chunk):
        dec.feed(data[i : i + chunk])
    return dec.finish()


def test_gzip_and_deflate_roundtrip() -> None:
    text = b"<p>hello world</p>" * 1000
    assert feed_all(BoundedDecoder("gzip", 10**6, 100), gzip.compress(text)) == text
    assert feed_all(BoundedDecoder("deflate", 10**6, 100), zlib.compress(text)) == text
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert feed_all(BoundedDecoder("deflate", 10**6, 100), raw.compress(text) + raw.flush()) == text
    assert feed_all(BoundedDecoder("identity", 10**6, 100), text) == text


def test_bomb_stops_early_without_inflating_everything() -> None:
    bomb = gzip.compress(b"\0" * (40 * 1024 * 1024), compresslevel=9)  # 40 MB of zeros, ~40 KB
    dec = BoundedDecoder("gzip", max_bytes=5_000_000, max_ratio=100)
    with pytest.raises(BodyLimitExceeded) as err:
        feed_all(dec, bomb)
    assert err.value.reason == "decompression_bomb"
    assert dec.decoded_bytes < 6_000_000


def test_plain_body_over_cap() -> None:
    with pytest.raises(BodyLimitExceeded) as err:
        feed_all(BoundedDecoder("", 1000, 100), b"x" * 5000, chunk=100)
    assert err.value.reason == "body_too_large"


def test_corrupt_gzip_is_decode_error_and_unknown_encoding_refused() -> None:
    with pytest.raises(BodyLimitExceeded) as err:
        feed_all(BoundedDecoder("gzip", 10**6, 100), b"\x1f\x8bnot really gzip at all")
    assert err.value.reason == "decode_error"
    with pytest.raises(BodyLimitExceeded) as err:
        BoundedDecoder("zstd-but-made-up", 10**6, 100)
    assert err.value.reason == "unsupported_encoding"
