"""Clean text out of catalog fields that hold HTML fragments and entities."""

from __future__ import annotations

import html
import re

_SCRIPT = re.compile(r"<(script|style)\b.*?(?:</\1\s*>|$)", re.IGNORECASE | re.DOTALL)
# A complete tag, or a tag opener never closed: cut off by the end of the text
# (`<span class="a-size-medium ...`) or by the next tag.
_TAG = re.compile(r"<[^<>]*>|<[a-zA-Z!/?][^<>]*(?=<|$)")
_SPACE = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")

FALLBACK_TITLE_CAP = 120


def clean_text(value: str | None) -> str:
    """Entities unescaped, tags removed, whitespace collapsed; "" when nothing is left.

    Unescaping and stripping repeat until neither changes the text, so an entity-encoded tag
    (`&lt;script&gt;`, or `&amp;lt;script&amp;gt;` encoded twice) is removed, never decoded into a
    live one. Each round that changes the text shortens it, so the loop ends."""
    if not value:
        return ""
    text = value
    while True:
        stripped = _TAG.sub(" ", _SCRIPT.sub(" ", html.unescape(text)))
        if stripped == text:
            return _SPACE.sub(" ", text).strip()
        text = stripped


def item_title(
    title: str | None, item_id: str, brand: str | None, category: str | None, description: str | None
) -> tuple[str, bool]:
    """(title, is_fallback). An unusable title (empty, only HTML) is rebuilt from other fields:
    "<brand> - <category>: <first sentence of the description>", capped, else the item id."""
    cleaned = clean_text(title)
    if cleaned:
        return cleaned, False
    head = " - ".join(part for part in (brand, category) if part)
    sentence = _SENTENCE_END.split(description, maxsplit=1)[0].strip() if description else ""
    rebuilt = ": ".join(part for part in (head, sentence) if part)
    return (_cap(rebuilt) if rebuilt else item_id), True


def _cap(text: str) -> str:
    if len(text) <= FALLBACK_TITLE_CAP:
        return text
    cut = text[: FALLBACK_TITLE_CAP - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"
