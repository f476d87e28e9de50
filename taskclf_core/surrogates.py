"""Unpaired UTF-16 surrogates become U+FFFD: the one rule the collector and the daemon share.

JSON may spell a character outside the Basic Multilingual Plane as an escaped surrogate pair
(``"\\ud83d\\ude00"``); an escape of half a pair (``"\\ud800"``) is still valid JSON, and
Windows window titles and app names carry them. Such a string cannot be encoded as UTF-8
(hashing a title raised ``UnicodeEncodeError``) and strict parsers refuse it (the daemon
refused the window). Both sides replace each unpaired surrogate by U+FFFD REPLACEMENT
CHARACTER, so what the collector reads, hashes and writes is what the daemon accepts:

- :func:`replace_surrogates` for a ``str`` (``json.loads`` joins a valid escaped pair into
  one character, so a surrogate left in a decoded string is an unpaired one);
- :func:`replace_surrogate_escapes` for JSON text (the daemon's parser never decodes one).

taskclf itself raises on such a title; strings without surrogates are left unchanged.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["REPLACEMENT", "replace_surrogate_escapes", "replace_surrogates"]

REPLACEMENT: Final = "\ufffd"

_SURROGATE: Final = re.compile("[\ud800-\udfff]")
# Every escape, left to right, so `\\ud800` (an escaped backslash, then text) is not one:
# a high-low pair (kept), an unpaired surrogate (replaced), or any other escape (kept).
_ESCAPE: Final = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"
    rb"|\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
    rb"|\\.",
    re.DOTALL,
)
_LONE_ESCAPE_LEN: Final = 6  # \uDXXX


def replace_surrogates(text: str) -> str:
    """``text`` with every surrogate code point replaced by U+FFFD."""
    if text.isascii():
        return text
    return _SURROGATE.sub(REPLACEMENT, text)


def _replace(match: re.Match[bytes]) -> bytes:
    escape = match.group()
    return b"\\ufffd" if len(escape) == _LONE_ESCAPE_LEN else escape


def replace_surrogate_escapes(data: bytes) -> bytes:
    """JSON text with each unpaired surrogate escape (``\\ud800``) replaced by ``\\ufffd``."""
    if b"\\u" not in data:
        return data
    return _ESCAPE.sub(_replace, data)
