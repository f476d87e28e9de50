"""Window titles → taskclf's salted title hash and the v3 keyed title sketches (no raw text out)."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from typing import Final

__all__ = [
    "CHAR3_BUCKETS",
    "TITLE_HASH_BUCKETS",
    "TOKEN_BUCKETS",
    "TitleFeatures",
    "title_features",
    "title_hash",
    "title_hash_bucket",
]

TITLE_HASH_BUCKETS: Final = 256
TOKEN_BUCKETS: Final = 128
CHAR3_BUCKETS: Final = 128

_WHITESPACE: Final = re.compile(r"\s+")
_DIGIT_RUN: Final = re.compile(r"\d+")
_NON_ALNUM: Final = re.compile(r"[^0-9A-Za-z]+")
_SEPARATORS: Final = frozenset("|-:/•")
_MAX_CHARS: Final = 256
_MAX_TOKENS: Final = 32
_TOKEN_NAMESPACE: Final = "title_token_sketch_v1"
_CHAR3_NAMESPACE: Final = "title_char3_sketch_v1"


def title_hash(title: str, salt: str) -> str:
    """taskclf's ``window_title_hash``: first 12 hex of SHA-256 over ``salt + title``."""
    return hashlib.sha256((salt + title).encode("utf-8")).hexdigest()[:12]


def title_hash_bucket(hashed: str, n_buckets: int = TITLE_HASH_BUCKETS) -> int:
    """taskclf's ``window_title_bucket``: the hex hash modulo ``n_buckets``."""
    try:
        return int(hashed, 16) % n_buckets
    except ValueError:  # not hex: taskclf falls back to a SHA-256 of the text
        digest = hashlib.sha256(hashed.encode()).digest()
        return int.from_bytes(digest[:8], "big") % n_buckets


@dataclass(frozen=True, slots=True)
class TitleFeatures:
    """The schema-v3 title columns of one title: keyed sketches and scalar shape features."""

    token_sketch: tuple[float, ...]
    char3_sketch: tuple[float, ...]
    char_count: int
    token_count: int
    unique_token_ratio: float
    digit_ratio: float
    separator_count: int


def _sketch(items: list[str], key: bytes, namespace: str, n_buckets: int) -> tuple[float, ...]:
    bins = [0] * n_buckets
    if not items:
        return (0.0,) * n_buckets
    for item in items:
        digest = hmac.new(key, f"{namespace}:{item}".encode(), hashlib.sha256).digest()
        bins[int.from_bytes(digest[:8], "big") % n_buckets] += 1
    total = float(len(items))
    # most bins are empty: one shared 0.0 for them (a float object each was ~6 KB a title)
    return tuple(round(count / total, 6) if count else 0.0 for count in bins)


def title_features(title: str, salt: str) -> TitleFeatures:
    """The v3 title features of ``title`` keyed by ``salt``, as taskclf computes them.

    Quirks kept on purpose (the trained models saw them): digit runs become ``<num>``
    before the split on non-alphanumerics, so the token is ``num``; one-letter tokens drop.
    """
    normalized = _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", title)).strip()
    lowered = normalized.lower()
    parts = _NON_ALNUM.split(_DIGIT_RUN.sub("<num>", lowered))
    tokens = [p for p in parts if p and (len(p) > 1 or p == "<num>")][:_MAX_TOKENS]
    chars = _DIGIT_RUN.sub("0", lowered)[:_MAX_CHARS]
    char3 = [chars[i : i + 3] for i in range(max(len(chars) - 2, 0))]
    key = salt.encode("utf-8")
    n_chars = len(normalized)
    digits = sum(ch.isdigit() for ch in normalized)
    return TitleFeatures(
        token_sketch=_sketch(tokens, key, _TOKEN_NAMESPACE, TOKEN_BUCKETS),
        char3_sketch=_sketch(char3, key, _CHAR3_NAMESPACE, CHAR3_BUCKETS),
        char_count=n_chars,
        token_count=len(tokens),
        unique_token_ratio=round(len(set(tokens)) / len(tokens), 6) if tokens else 0.0,
        digit_ratio=round(digits / n_chars, 6) if n_chars else 0.0,
        separator_count=sum(ch in _SEPARATORS for ch in normalized),
    )
