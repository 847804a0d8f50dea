"""MovieLens 100K (`u.data`, `u.item`) and 1M (`ratings.dat`, `movies.dat`).

Ratings (1-5) are interactions only (MovieLens has no reviews). Movie titles are latin-1; the
item's categories are all its genres, in the file's genre order, and its category the first one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from transforms.readers.catalog import item_row
from transforms.readers.errors import RecordError
from transforms.readers.fields import RatingScale
from transforms.readers.lines import Line, read_lines
from transforms.readers.records import EventLayout, Record, event_record, rejected

GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)  # fmt: skip

_RATINGS = EventLayout(
    user="user", item="item", ts="ts", ts_unit="s", rating="rating", rating_scale=RatingScale(1, 5, "movielens")
)
_MOVIES_ENCODING = "latin-1"


def read_ratings_100k(path: str) -> Iterator[Record]:
    return _read_ratings(path, "\t")


def read_ratings_1m(path: str) -> Iterator[Record]:
    return _read_ratings(path, "::")


def read_items_100k(path: str) -> Iterator[Record]:
    return _read_movies(path, _movie_100k)


def read_items_1m(path: str) -> Iterator[Record]:
    return _read_movies(path, _movie_1m)


def _split(line: Line, sep: str, expected: int, encoding: str = "utf-8") -> list[str]:
    text = line.text(encoding)
    if not text.strip():
        raise RecordError("empty line")
    parts = text.split(sep)
    if len(parts) != expected:
        raise RecordError(f"malformed line: expected {expected} fields separated by {sep!r}, got {len(parts)}")
    return parts


def _read_ratings(path: str, sep: str) -> Iterator[Record]:
    source = os.path.basename(path)
    for line in read_lines(path):
        try:
            user, item, rating, ts = _split(line, sep, 4)
        except RecordError as e:
            yield rejected("interactions", source, line.number, e, line.raw)
            continue
        obj = {"user": user, "item": item, "rating": rating, "ts": ts}
        yield event_record(obj, _RATINGS, source, line.number, line.raw)


def _movie_100k(line: Line) -> tuple[str, str, list[str]]:
    parts = _split(line, "|", 5 + len(GENRES_100K), _MOVIES_ENCODING)
    flags = parts[5:]
    if any(flag not in ("0", "1") for flag in flags):
        raise RecordError(f"malformed line: genre flags must be 0 or 1, got {'|'.join(flags)!r}")
    return parts[0], parts[1], [genre for genre, flag in zip(GENRES_100K, flags) if flag == "1"]


def _movie_1m(line: Line) -> tuple[str, str, list[str]]:
    movie_id, title, genres = _split(line, "::", 3, _MOVIES_ENCODING)
    return movie_id, title, genres.split("|")


def _read_movies(path: str, parse: Callable[[Line], tuple[str, str, list[str]]]) -> Iterator[Record]:
    source = os.path.basename(path)
    for line in read_lines(path):
        try:
            movie_id, title, genres = parse(line)
            if not movie_id.strip():
                raise RecordError("missing field 'movie id': empty string")
        except RecordError as e:
            yield rejected("items", source, line.number, e, lambda: line.raw(_MOVIES_ENCODING))
            continue
        item = item_row(movie_id.strip(), title, source, line.number, categories=genres, category_is="first")
        yield Record(line.number, [("items", item)])
