"""Records as nested tuples of plain values: what parse workers send back and the cache keeps.

Packing a record this way and marshalling it costs a third of pickling the
dataclasses (each of 100,000 records is packed in a cold build, few are
unpacked), the bytes are smaller, and unpacking builds exactly the values
the parser made: times travel as whole microseconds since 1970, so none is
rounded.
"""

from __future__ import annotations

from typing import Any

from .model import Image, Problem, Provider, Record, RelatedLink, Severity, from_micros, to_micros

Encoded = tuple[Any, ...]  # a record as plain values


def _provider(provider: Provider) -> tuple[str, str, str]:
    return (provider.name, provider.key, provider.url)


def encode_record(record: Record) -> Encoded:
    """The record as plain values, without its path (the store knows the file by its own)."""
    images = tuple((i.url, i.width, i.height, i.title) for i in record.images)
    related = tuple(
        (
            link.url,
            link.title,
            None if link.published is None else to_micros(link.published),
            None if link.provider is None else _provider(link.provider),
        )
        for link in record.related
    )
    return (
        record.title,
        record.url,
        to_micros(record.published_at),
        record.is_published,
        _provider(record.provider),
        record.excerpt,
        record.topics,
        images,
        related,
        record.category,
    )


def decode_record(data: Encoded, path: str, providers: dict[tuple[str, str, str], Provider] | None = None) -> Record:
    """The record ``encode_record`` was given, found at ``path``.

    ``providers`` shares equal providers between the records decoded with it.
    """
    shared = {} if providers is None else providers

    def provider(fields: tuple[str, str, str]) -> Provider:
        found = shared.get(fields)
        if found is None:
            found = shared[fields] = Provider(*fields)
        return found

    title, url, micros, is_published, by, excerpt, topics, images, related, category = data
    return Record(
        path=path,
        title=title,
        url=url,
        published_at=from_micros(micros),
        is_published=is_published,
        provider=provider(by),
        excerpt=excerpt,
        topics=topics,
        images=tuple(Image(*image) for image in images),
        related=tuple(
            RelatedLink(
                link_url,
                link_title,
                None if when is None else from_micros(when),
                None if source is None else provider(source),
            )
            for link_url, link_title, when, source in related
        ),
        category=category,
    )


def encode_problems(problems: tuple[Problem, ...]) -> tuple[tuple[Any, ...], ...]:
    """A file's problems as plain values, without its path."""
    return tuple((p.message, p.line, p.field, p.severity.value) for p in problems)


def decode_problems(data: tuple[tuple[Any, ...], ...], path: str) -> list[Problem]:
    return [Problem(path, message, line, field, Severity(severity)) for message, line, field, severity in data]
