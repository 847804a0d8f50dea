"""Server error text made safe to store and print: truncated, with credential-like spans masked.

A misconfigured proxy or server may echo the request (its Authorization header included) in an
error body; that body reaches logs, the response cache and the rejects table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_ERROR_CHARS = 300
REDACTED = "[REDACTED]"

_CREDENTIALS = [
    # "Authorization: Bearer x", "Bearer x", "Basic x"
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"),
    # key=value / "key": "value" for names that hold secrets (max_tokens=... is not one)
    re.compile(
        r"""(?ix)\b([\w-]*(?:api[_-]?key|authorization|secret|password|passwd|cookie)[\w-]*|(?:[\w-]*[_-])?token)
        (["']?\s*[:=]\s*["']?)([^\s"',;}&]+)"""
    ),
    # Provider key shapes: sk-..., hf_..., ghp_..., AKIA...
    re.compile(
        r"\b(?:sk|rk|pk)-[A-Za-z0-9_-]{8,}|\bhf_[A-Za-z0-9]{8,}|\bgh[pousr]_[A-Za-z0-9]{8,}|\bAKIA[0-9A-Z]{12,}"
    ),
]


def _mask(match: re.Match) -> str:
    if match.re is _CREDENTIALS[1]:
        return f"{match.group(1)}{match.group(2)}{REDACTED}"
    if match.re is _CREDENTIALS[0]:
        return f"{match.group(1)} {REDACTED}"
    return REDACTED


def redact(text: str, secrets: Iterable[str | None] = (), limit: int = MAX_ERROR_CHARS) -> str:
    """`text` without the given secrets or anything shaped like a credential, cut to `limit` chars
    (masked before cutting, so a cut cannot leave half a key behind unmasked)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    for pattern in _CREDENTIALS:
        text = pattern.sub(_mask, text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
