"""A fast path for loading one front matter's YAML with rapidyaml (``ryml``).

``load_mapping(text)`` returns exactly what ``yaml.load(text, Loader=yaml.CSafeLoader)``
returns (same types and values), or None whenever it cannot be sure of that: then the
caller falls back to PyYAML, which stays the reference and reports every error.

ryml parses in C++ and keeps each scalar's style (plain, quoted, block); this module
turns plain scalars into values with PyYAML's own YAML 1.1 implicit resolver table and
constructors, so ``yes`` is True, ``1e3`` a string and ``2020-01-24T10:36:00Z`` an aware
datetime, as with PyYAML. Anything records do not contain falls back: anchors, aliases,
tags, merge keys, non-string or duplicate keys, documents markers and directives,
non-empty flow collections, tabs and non-printable characters, special ints and floats.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
from collections.abc import Callable
from typing import Any, Final

import yaml

try:
    import ryml  # type: ignore[import-untyped,unused-ignore]
    from ryml.ryml import _ryml  # type: ignore[import-untyped,unused-ignore]
except ImportError:  # pragma: no cover - the fast path is optional
    ryml = None

__all__ = ["available", "load_mapping"]

MAX_DEPTH: Final = 16  # records are 3 levels deep; deeper documents go to PyYAML and its checks
MAX_KEY: Final = 64  # libyaml refuses simple keys over 1024 characters; records' keys are short

# Anything but LF and characters that YAML 1.1 calls printable and not a line break:
# no tab (libyaml and ryml disagree on tabs as separators), CR, NEL, LS, PS (line breaks
# in YAML 1.1, content in 1.2), BOM, C0/C1 controls, DEL, surrogates (reader.py NON_PRINTABLE).
# Also lines that start a document marker or a directive: one document only.
_UNSURE_TEXT: Final = re.compile(
    "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]|^(?:---|\\.\\.\\.|%)",
    re.MULTILINE,
)

# PyYAML's implicit resolvers for plain scalars: first character -> [(tag, pattern)], tried in
# order (yaml/resolver.py: bool, float, int, merge, null, timestamp, value); the loader's own table.
_RESOLVERS: Final[dict[str, list[tuple[str, re.Pattern[str]]]]] = yaml.CSafeLoader.yaml_implicit_resolvers
_NULL, _BOOL, _INT, _FLOAT_TAG, _TIMESTAMP_TAG = (
    f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "timestamp")
)
# The subsets of the int and float patterns constructed here; the rest (0b, 0x, octal, base 60,
# .inf, .nan) fall back. resolver.py: int `[-+]?(?:0|[1-9][0-9_]*)`; float
# `[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?` and `\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?`.
_DECIMAL: Final = re.compile(r"[-+]?(?:0|[1-9][0-9_]*)\Z")
_FLOAT: Final = re.compile(r"(?:[-+]?[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+][0-9]+)?\Z")
# Characters that cannot start a plain scalar, where libyaml fails but ryml reads a string:
# the reserved indicators @ and ` and the flow collection ends ] and } (YAML 1.1 §4.2.3, c-indicator).
_NOT_PLAIN_START: Final = frozenset("@`]}")
# A block scalar's header: indentation and chomping indicators, then spaces and maybe a comment
# (YAML 1.1 §9.1.1, c-b-block-header). ryml ignores junk after it (`a: >-1e3` is '', not an error),
# so every `|` or `>` after a space or at a line start must look like one when a block scalar is seen.
_BLOCK_INDICATOR: Final = re.compile(r"(?:^|(?<= ))[|>]([^\n]*)", re.MULTILINE)
_BLOCK_HEADER: Final = re.compile(r"(?:[1-9][+-]?|[+-][1-9]?)?(?:[ ]+#.*|[ ]*)\Z")
_BOOLS: Final = yaml.constructor.SafeConstructor.bool_values  # yes/no/true/false/on/off, lowercased
_TIMESTAMP: Final = yaml.constructor.SafeConstructor.timestamp_regexp


class _Unsure(Exception):
    """Raised inside the walk: PyYAML might read this document differently."""


def available() -> bool:
    """Whether ryml is installed, so that ``load_mapping`` can return anything but None."""
    return ryml is not None


def _timestamp(text: str) -> dt.date | dt.datetime:
    """PyYAML's ``SafeConstructor.construct_yaml_timestamp``, step by step."""
    match = _TIMESTAMP.match(text)
    if match is None:
        raise _Unsure
    values = match.groupdict()
    year, month, day = int(values["year"]), int(values["month"]), int(values["day"])
    if not values["hour"]:
        return dt.date(year, month, day)
    hour, minute, second = int(values["hour"]), int(values["minute"]), int(values["second"])
    fraction = 0
    if values["fraction"]:  # truncated or padded to microseconds
        fraction = int(values["fraction"][:6].ljust(6, "0"))
    tzinfo: dt.tzinfo | None = None  # no offset: a naive datetime, as in PyYAML 6
    if values["tz_sign"]:
        delta = dt.timedelta(hours=int(values["tz_hour"]), minutes=int(values["tz_minute"] or 0))
        tzinfo = dt.timezone(-delta if values["tz_sign"] == "-" else delta)
    elif values["tz"]:  # "Z"
        tzinfo = dt.UTC  # the same object as PyYAML's datetime.timezone.utc
    return dt.datetime(year, month, day, hour, minute, second, fraction, tzinfo=tzinfo)


def _plain(text: str) -> Any:
    """A plain scalar's value: ``BaseResolver.resolve`` for plain scalars, then the constructor."""
    for tag, pattern in _RESOLVERS.get(text[:1], ()):  # noqa: B007 - the match is used after the loop
        if pattern.match(text):
            break
    else:
        if text[:1] in _NOT_PLAIN_START:
            raise _Unsure
        return text
    if tag == _NULL:  # ~, null, Null, NULL or nothing
        return None
    if tag == _BOOL:
        return _BOOLS[text.lower()]
    if tag == _INT and _DECIMAL.match(text):
        return int(text.replace("_", ""))
    if tag == _FLOAT_TAG and _FLOAT.match(text):
        return float(text.replace("_", ""))
    if tag == _TIMESTAMP_TAG:
        return _timestamp(text)
    raise _Unsure  # merge (<<), value (=), other ints and floats, or a tag added at run time


if ryml is not None:
    # Node type bits (c4/yml/node_type.hpp). The raw SWIG functions called with ``tree.this``
    # cost ~0.15 us a call; the Python proxy methods cost four times that.
    _KEY: Final[int] = ryml.KEY
    _MAP: Final[int] = ryml.MAP
    _SEQ: Final[int] = ryml.SEQ
    _BLOCK: Final[int] = ryml.BLOCK
    _VALNIL: Final[int] = ryml.VALNIL
    _KEY_PLAIN: Final[int] = ryml.KEY_PLAIN
    _VAL_PLAIN: Final[int] = ryml.VAL_PLAIN
    _BLOCK_STYLE: Final[int] = ryml.SCALAR_LITERAL | ryml.SCALAR_FOLDED
    _CONTAINER: Final[int] = ryml.MAP | ryml.SEQ
    _REFUSED: Final[int] = (  # anchors, aliases, tags, empty keys, documents, raw scalars
        ryml.KEYREF | ryml.VALREF | ryml.KEYANCH | ryml.VALANCH | ryml.KEYTAG | ryml.VALTAG
    ) | (ryml.KEYNIL | ryml.KEY_UNFILT | ryml.VAL_UNFILT | ryml.DOC | (ryml.STREAM & ~ryml.SEQ))
    _parse: Final[Callable[[str, Any], None]] = _ryml.parse_csubstr
    _reorder: Final[Callable[[Any], None]] = _ryml.Tree_reorder
    _size: Final[Callable[[Any], int]] = _ryml.Tree_size
    _type: Final[Callable[[Any, int], int]] = _ryml.Tree_type
    _key: Final[Callable[[Any, int], memoryview | None]] = _ryml.Tree_key
    _val: Final[Callable[[Any, int], memoryview | None]] = _ryml.Tree_val
    _children: Final[Callable[[Any, int], int]] = _ryml.Tree_num_children


def _parse_quietly(text: str) -> Any:
    """Parse into a new tree; None on a parse error.

    ryml's default error handler writes each error to stderr (fd 2) before it throws, and
    the Python binding cannot replace it. The caller reports PyYAML's error instead, so fd 2
    points at /dev/null while ryml parses (~1.5 us; the GIL is held throughout the call).
    """
    tree = ryml.Tree()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to hide
        saved = -1
    try:
        if saved >= 0:
            os.dup2(_devnull(), 2)
        _parse(text, tree.this)
    except Exception:  # ryml.ExceptionParse and friends: PyYAML will say what is wrong
        return None
    finally:
        if saved >= 0:
            os.dup2(saved, 2)
            os.close(saved)
    return tree


@functools.cache
def _devnull() -> int:
    return os.open(os.devnull, os.O_WRONLY)


def load_mapping(text: str) -> dict[str, Any] | None:
    """The front matter ``text`` as PyYAML's CSafeLoader loads it, or None if unsure.

    None also for anything that is not a single block mapping, including YAML errors:
    load with PyYAML then, to get its value or its error.
    """
    if ryml is None or _UNSURE_TEXT.search(text):
        return None
    tree = _parse_quietly(text)
    if tree is None:
        return None
    t = tree.this
    _reorder(t)  # node ids in document order (pre-order), which the walk below relies on
    bits = _type(t, 0)
    if bits & _REFUSED or not bits & _MAP:
        return None
    try:
        return _walk(t, bits, text)
    except (_Unsure, ValueError, OverflowError):  # ValueError: e.g. 2024-13-01, which PyYAML raises
        return None


def _walk(t: Any, root_bits: int, text: str) -> dict[str, Any]:
    """Build the Python value from the tree in one pass over the node ids."""
    root: dict[str, Any] = {}
    stack: list[tuple[Any, int]] = []  # (enclosing container, its children not yet seen)
    container: Any = root
    left = _children(t, 0)
    blocks = 0  # style bits of all scalars seen: were there block scalars?
    if left and not root_bits & _BLOCK:
        raise _Unsure
    for node in range(1, _size(t)):
        while not left:
            container, left = stack.pop()
        left -= 1
        bits = _type(t, node)
        if bits & _REFUSED:
            raise _Unsure
        blocks |= bits
        value: Any
        if bits & _CONTAINER:
            value = {} if bits & _MAP else []
        elif bits & _VALNIL:  # `key:` with nothing after it: a plain empty scalar, null
            value = None
        else:
            view = _val(t, node)
            value = "" if view is None else view.tobytes().decode()
            if bits & _VAL_PLAIN:
                value = _plain(value)
            # quoted, literal (|) and folded (>) scalars are always str (implicit resolution off)
        if bits & _KEY:
            view = _key(t, node)
            key = "" if view is None else view.tobytes().decode()
            if bits & _KEY_PLAIN:
                key = _plain(key)
            if type(key) is not str or type(container) is not dict or key in container:
                raise _Unsure  # non-str keys, duplicate keys (PyYAML keeps the last one)
            if len(key) > MAX_KEY or "\n" in key:
                raise _Unsure  # libyaml refuses long or multi-line simple keys
            container[key] = value
        elif type(container) is list:
            container.append(value)
        else:
            raise _Unsure
        if bits & _CONTAINER:
            count = _children(t, node)
            if count:
                if not bits & _BLOCK or len(stack) >= MAX_DEPTH:
                    raise _Unsure  # flow collections: YAML 1.1 and 1.2 plain scalars differ there
                stack.append((container, left))
                container, left = value, count
    if blocks & _BLOCK_STYLE and not all(_BLOCK_HEADER.match(m[1]) for m in _BLOCK_INDICATOR.finditer(text)):
        raise _Unsure
    return root
