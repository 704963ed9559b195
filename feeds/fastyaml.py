"""Fast paths for loading one front matter's YAML: a line reader, then rapidyaml (``ryml``).

``load_mapping(text)`` returns exactly what ``yaml.load(text, Loader=yaml.CSafeLoader)``
returns (same types and values), or None whenever it cannot be sure of that: then the
caller loads with PyYAML, which stays the reference and reports every error.
``load_utf8`` and ``load_lines`` do the same from the text's UTF-8 bytes.

The line reader (``_lines``) reads the shape nearly every record has, one `key: value`,
`key:` or `- item` a line with simple one-line scalars, and leaves anything else to ryml.
ryml parses in C++ and keeps each scalar's style (plain, quoted, block); plain scalars
become values here through PyYAML's own YAML 1.1 implicit resolver table and constructors,
so ``yes`` is True, ``1e3`` a string and ``2020-01-24T10:36:00Z`` an aware datetime, as in
PyYAML. What records do not contain falls back: anchors, aliases, tags, merge keys,
non-string or duplicate keys, document markers, directives, non-empty flow collections,
tabs and non-printable characters, non-decimal ints, base-60 numbers, .inf and .nan.
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
    import ryml  # type: ignore[import-untyped,import-not-found,unused-ignore]
    from ryml.ryml import _ryml  # type: ignore[import-untyped,import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - the fast path is optional
    ryml = _ryml = None

__all__ = ["available", "load_lines", "load_mapping", "load_utf8", "unsure", "unsure_utf8"]

MAX_DEPTH: Final = 16  # records are 3 levels deep; deeper documents go to PyYAML and its checks
MAX_KEY: Final = 64  # libyaml refuses simple keys over 1024 characters; records' keys are short
# frontmatter refuses documents of over 100,000 values (keys count too); a ryml node or a line
# makes at most two, so larger documents go to PyYAML and that check
MAX_NODES: Final = 50_000

# Anything but LF and what YAML 1.1 calls printable and not a line break (yaml/reader.py
# NON_PRINTABLE): no tab (libyaml and ryml disagree on tabs as separators), CR, NEL, LS, PS
# (line breaks in YAML 1.1, content in 1.2), BOM, C0 and C1 controls, DEL or surrogates.
_UNSURE_CHAR: Final = re.compile(
    "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
# The patterns below only look at ASCII, so they work on the UTF-8 bytes that ryml parses.
# The same characters in valid UTF-8 (where surrogates cannot be): bytes 00-09, 0B-1F and 7F
# alone; C2 80-9F (C1 controls), E2 80 A8-A9 (LS, PS), EF BB BF (BOM), EF BF BE-BF. One
# translate() drops every other byte value; only the lead bytes it leaves need a closer look.
_UNSURE_BYTES: Final = bytes(range(0x0A)) + bytes(range(0x0B, 0x20)) + b"\x7f"
_UNSURE_LEADS: Final = b"\xc2\xe2\xef"
_NOT_SUSPECT: Final = bytes(sorted(set(range(256)) - set(_UNSURE_BYTES + _UNSURE_LEADS)))
_UNSURE_SEQUENCES: Final = (
    (b"\xc2", re.compile(rb"\xc2[\x80-\x9f]")),
    (b"\xe2", re.compile(rb"\xe2\x80[\xa8\xa9]")),
    (b"\xef", re.compile(rb"\xef(?:\xbb\xbf|\xbf[\xbe\xbf])")),
)
_MARKER: Final = re.compile(rb"\n(?:---|\.\.\.|%)")  # a document marker or directive: one document only
# An explicit key ("? key"), which records never use: ryml reads `? ''\: ` as two keys where
# libyaml finds a syntax error.
_EXPLICIT_KEY: Final = re.compile(rb"^[ ]*(?:-[ ]+)*\?(?:[ ]|$)", re.MULTILINE)
# Anything that may be a tag. Records have none, and ryml 0.15 crashes the process (free() of a
# bad pointer) on some errors after tags, e.g. "!a\n!b\n!c\n!d": never let it see those.
_TAG_START: Final = re.compile(rb"(?:^|[ ,\[{])!", re.MULTILINE)
# Characters that cannot start a plain scalar, where libyaml fails but ryml reads a string:
# the reserved indicators @ and ` and the flow collection ends ] and } (YAML 1.1 c-indicator).
_NOT_PLAIN_START: Final = frozenset("@`]}")
# A block scalar's header: indentation and chomping indicators, then spaces and maybe a comment
# (YAML 1.1 c-b-block-header). ryml ignores junk after it (`a: >-1e3` is '', not an error), so
# when there are block scalars every `|` or `>` that may start a value (at a line start, or after
# ": " or "- ") must look like one. One inside a quoted or plain scalar is no indicator.
_BLOCK_INDICATOR: Final = re.compile(rb"(?:^[ ]*|(?<=:)[ ]+|(?<=-)[ ]+)[|>]([^\n]*)", re.MULTILINE)
_BLOCK_HEADER: Final = re.compile(rb"(?:[1-9][+-]?|[+-][1-9]?)?(?:[ ]+#.*|[ ]*)\Z")

# PyYAML's implicit resolvers for plain scalars: first character -> [(tag, pattern)], tried in
# order (yaml/resolver.py: bool, float, int, merge, null, timestamp, value); the loader's own table.
_RESOLVERS: Final[dict[str, list[tuple[str, re.Pattern[str]]]]] = yaml.CSafeLoader.yaml_implicit_resolvers
_NULL, _BOOL, _INT, _FLOAT, _TIMESTAMP = (
    f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "timestamp")
)
# The parts of resolver.py's int and float patterns built here; the rest (0b, 0x, octal, base 60,
# .inf, .nan) falls back. int: `[-+]?(?:0|[1-9][0-9_]*)`; float: `[-+]?(?:[0-9][0-9_]*)\.[0-9_]*
# (?:[eE][-+][0-9]+)?` and `\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?`.
_DECIMAL_INT: Final = re.compile(r"[-+]?(?:0|[1-9][0-9_]*)\Z")
_DECIMAL_FLOAT: Final = re.compile(r"(?:[-+]?[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+][0-9]+)?\Z")
_BOOLS: Final = yaml.constructor.SafeConstructor.bool_values  # yes/no/true/false/on/off, lowercased
_TIMESTAMP_PARTS: Final = yaml.constructor.SafeConstructor.timestamp_regexp
# The form records use, 2020-01-24T10:36:00Z or +05:30 or a date alone: PyYAML's float and int
# patterns cannot match it, its timestamp pattern does; built here without the general regex.
_ISO: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:Z|[-+][0-9]{2}:[0-9]{2})?)?\Z")
# Both keyed by UTF-8 and looked up with ryml's memoryviews (hashed and compared as bytes),
# which spares copying and decoding what was seen before.
_SEEN: dict[bytes | memoryview | None, Any] = {}  # plain scalar -> value: records repeat names, types, numbers
_KEYS: dict[bytes | memoryview | None, str] = {}  # plain key -> key, once checked
_MISSING: Final = object()


class _Unsure(Exception):
    """Raised inside the walk: PyYAML might read this document differently."""


def available() -> bool:
    """Whether ryml is installed: without it only the line reader answers (see ``_lines``)."""
    return ryml is not None


@functools.cache
def _offset(sign: str, hours: int, minutes: int) -> dt.timezone:
    delta = dt.timedelta(hours=hours, minutes=minutes)  # raises for hours >= 24, as in PyYAML
    return dt.timezone(-delta if sign == "-" else delta)


def _iso(text: str) -> dt.date | dt.datetime:
    """What ``_timestamp`` makes of a text that ``_ISO`` matches, without the general regex.

    For exactly these shapes the C ``fromisoformat`` gives the same values (Z as the UTC
    singleton, an offset as a fixed timezone) and raises ValueError for the same ones.
    """
    if len(text) == 10:
        return dt.date.fromisoformat(text)
    return dt.datetime.fromisoformat(text)


def _timestamp(text: str) -> dt.date | dt.datetime:
    """PyYAML's ``SafeConstructor.construct_yaml_timestamp``, step by step."""
    match = _TIMESTAMP_PARTS.match(text)
    if match is None:
        raise _Unsure
    values = match.groupdict()
    year, month, day = int(values["year"]), int(values["month"]), int(values["day"])
    if not values["hour"]:
        return dt.date(year, month, day)
    hour, minute, second = int(values["hour"]), int(values["minute"]), int(values["second"])
    fraction = int(values["fraction"][:6].ljust(6, "0")) if values["fraction"] else 0  # microseconds
    tzinfo: dt.tzinfo | None = None  # no offset: a naive datetime, as in PyYAML 6
    if values["tz_sign"]:
        tzinfo = _offset(values["tz_sign"], int(values["tz_hour"]), int(values["tz_minute"] or 0))
    elif values["tz"]:  # Z
        tzinfo = dt.UTC  # the very object PyYAML uses, datetime.timezone.utc
    return dt.datetime(year, month, day, hour, minute, second, fraction, tzinfo=tzinfo)


def _resolve(text: str) -> Any:
    """A plain scalar's value: ``BaseResolver.resolve`` for plain scalars, then the constructor."""
    if _ISO.match(text):  # the common case first: PyYAML resolves it as a timestamp (see _ISO)
        return _iso(text)
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
    if tag == _INT and _DECIMAL_INT.match(text):
        return int(text.replace("_", ""))
    if tag == _FLOAT and _DECIMAL_FLOAT.match(text):
        return float(text.replace("_", ""))
    if tag == _TIMESTAMP:
        return _timestamp(text)
    raise _Unsure  # merge (<<), value (=), other ints and floats, or a resolver added at run time


def _plain(view: memoryview | None) -> Any:
    """``_resolve`` of a plain scalar's UTF-8, remembered: its values are immutable, so shared."""
    utf8 = b"" if view is None else view.tobytes()
    if len(_SEEN) >= 50_000:
        _SEEN.clear()
    value = _SEEN[utf8] = _resolve(utf8.decode())
    return value


def _key(view: memoryview | None, plain: bool) -> str:
    """A mapping key: a str that libyaml accepts as a simple key (short, on one line)."""
    if view is None:
        raise _Unsure  # an empty key
    key = _plain(view) if plain else view.tobytes().decode()
    if type(key) is not str or len(key) > MAX_KEY or "\n" in key:
        raise _Unsure  # PyYAML would make an int, bool, None or date key, or might refuse it
    if plain:
        _KEYS[view.tobytes()] = key
    return key


if ryml is not None:
    # Node type bits (c4/yml/node_type.hpp). The raw SWIG functions called with ``tree.this``
    # cost ~0.15 us a call; the Python proxy methods cost four times that.
    _KEY: Final[int] = ryml.KEY
    _MAP: Final[int] = ryml.MAP
    _BLOCK: Final[int] = ryml.BLOCK
    _VALNIL: Final[int] = ryml.VALNIL
    _KEY_PLAIN: Final[int] = ryml.KEY_PLAIN
    _VAL_PLAIN: Final[int] = ryml.VAL_PLAIN
    _BLOCK_SCALAR: Final[int] = ryml.SCALAR_LITERAL | ryml.SCALAR_FOLDED
    _CONTAINER: Final[int] = ryml.MAP | ryml.SEQ
    _PLAIN_PAIR: Final[int] = ryml.KEYVAL | ryml.KEY_PLAIN | ryml.VAL_PLAIN  # key: value (60% of nodes)
    _QUOTED_PAIR: Final[int] = ryml.KEYVAL | ryml.KEY_PLAIN | ryml.VAL_DQUO  # key: "value" (17%)
    _REFUSED: Final[int] = (  # anchors, aliases, tags, empty keys, documents, unfiltered scalars
        ryml.KEYREF | ryml.VALREF | ryml.KEYANCH | ryml.VALANCH | ryml.KEYTAG | ryml.VALTAG
    ) | (ryml.KEYNIL | ryml.KEY_UNFILT | ryml.VAL_UNFILT | ryml.DOC | (ryml.STREAM & ~ryml.SEQ))
    _parse: Final[Callable[[bytes, Any], None]] = _ryml.parse_csubstr
    _reorder: Final[Callable[[Any], None]] = _ryml.Tree_reorder
    _size: Final[Callable[[Any], int]] = _ryml.Tree_size
    _type: Final[Callable[[Any, int], int]] = _ryml.Tree_type
    _key_view: Final[Callable[[Any, int], memoryview | None]] = _ryml.Tree_key
    _val: Final[Callable[[Any, int], memoryview | None]] = _ryml.Tree_val
    _children: Final[Callable[[Any, int], int]] = _ryml.Tree_num_children


@functools.cache
def _devnull() -> int:
    return os.open(os.devnull, os.O_WRONLY)


def _parse_quietly(source: bytes) -> Any:
    """A new ryml tree of ``source`` (its scalars are views into it), or None on a parse error.

    ryml's default error handler writes each error to stderr (fd 2) before it throws, and the
    Python binding cannot replace it; the caller reports PyYAML's error instead. So fd 2 points
    at /dev/null while ryml parses (~1.5 us; the call holds the GIL, so no Python thread writes).
    """
    tree = ryml.Tree()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to hide
        saved = -1
    try:
        if saved >= 0:
            os.dup2(_devnull(), 2)
        _parse(source, tree.this)
    except Exception:  # ryml.ExceptionParse and the like
        return None
    finally:
        if saved >= 0:
            os.dup2(saved, 2)
            os.close(saved)
    return tree


def load_mapping(text: str) -> dict[str, Any] | None:
    """The front matter ``text`` as PyYAML's CSafeLoader loads it, or None if unsure.

    None too for anything but a single block mapping, and for YAML errors: load with PyYAML
    then, for its value or its error.
    """
    if unsure(text):
        return None
    return load_utf8(text.encode())


def unsure(text: str, start: int = 0) -> bool:
    """Whether ``text[start:]`` has a character the fast path leaves to PyYAML (see _UNSURE_CHAR)."""
    return _UNSURE_CHAR.search(text, start) is not None


def unsure_utf8(source: bytes) -> bool:
    """``unsure`` of the text whose valid UTF-8 is ``source``, from the bytes (~2.5x faster)."""
    suspects = source.translate(None, _NOT_SUSPECT)
    if not suspects:
        return False
    if suspects.translate(None, _UNSURE_LEADS):
        return True  # a control character
    return any(lead in suspects and pattern.search(source) for lead, pattern in _UNSURE_SEQUENCES)


def load_lines(source: bytes) -> dict[str, Any] | None:
    """``load_utf8`` by the line reader alone, which also decodes every byte it does not check.

    So ``source`` need not be known to be valid UTF-8: if it is not, the answer is None. It
    must be free of unsure characters where it is valid (``unsure_utf8``).
    """
    try:
        return _lines(source)
    # ValueError: 2024-13-01, which PyYAML raises too, and UnicodeDecodeError; OverflowError:
    # a year like 99999
    except (_Unsure, ValueError, OverflowError):
        return None


def load_utf8(source: bytes) -> dict[str, Any] | None:
    """``load_mapping`` of the text whose UTF-8 encoding is ``source``, if ``unsure`` is False for it.

    The caller checks the characters (on text it already has) and keeps the bytes valid UTF-8:
    parsing bytes that are at hand spares slicing and encoding the text (~12 us a record).
    """
    try:
        return _lines(source)
    except _Unsure:
        pass  # something the line reader does not know: ryml may
    # ValueError: 2024-13-01, which PyYAML raises too; OverflowError: a year like 99999
    except (ValueError, OverflowError):
        return None
    if ryml is None or source.startswith((b"---", b"...", b"%")) or _MARKER.search(source):
        return None
    if b"!" in source and _TAG_START.search(source):
        return None
    if b"?" in source and _EXPLICIT_KEY.search(source):
        return None
    # The escapes of U+2028 and U+2029, line breaks to YAML 1.1: after a \n or \r escape, ryml
    # 0.15 turns that one into a space or drops it ("\n\L\L" is " \u2028\u2028" there).
    if b"\\L" in source or b"\\P" in source:
        return None
    tree = _parse_quietly(source)
    if tree is None:
        return None
    _reorder(tree.this)  # node ids in document order (pre-order), which the walk relies on
    try:
        return _walk(tree.this, source)
    # ValueError: 2024-13-01, which PyYAML raises too; the last three: a tree shape not foreseen
    except (_Unsure, ValueError, OverflowError, TypeError, AttributeError, IndexError):
        return None


# ---- the line reader: the common shape of records without a YAML parser
#
# Most front matter is block mappings and sequences, one `key: value`, `key:` or `- item` a
# line, with plain or simple double-quoted one-line scalars. ``_lines`` reads exactly that
# (anything else raises _Unsure, and ryml or PyYAML reads the document) at a fraction of the
# cost of building and walking a ryml tree. A line is cut at its first ": "; what comes before
# it (indentation, "- ", key) is checked once and remembered in _PREFIXES.

_PREFIX: Final = re.compile(rb"( *)(- )?([A-Za-z_][A-Za-z0-9_]*)")
_PREFIXES: dict[bytes, tuple[int, bool, str]] = {}  # -> (column of the key or "-", "- " or not, key)
# The value of a short plain or double-quoted scalar, by its UTF-8: records repeat names,
# domains, topics, types, numbers; longer texts (titles, excerpts, URLs) rarely recur.
_VALUES: dict[bytes, Any] = {}
_VALUE_BYTES: Final = 64
# What cannot start a value here: a space (more than one after the ":"), YAML indicators
# (block scalars | >, flow collections, anchors, aliases, tags, comments, directives, reserved
# characters, single quotes) and "-", "?", ":" (indicators when a space follows: not worth telling).
_NOT_A_VALUE_START: Final = frozenset(b" -?:,[]{}#&*!|>'%@`")
_QUOTE: Final = ord('"')
_EMPTY_LIST: Final = b"[]"
_EMPTY_MAP: Final = b"{}"


def _prefix(head: bytes) -> tuple[int, bool, str]:
    """What comes before a key's ":": its column (of the "-" for a first key in an item).

    ``_lines`` looks in _PREFIXES first.
    """
    match = _PREFIX.fullmatch(head)
    if match is None:
        raise _Unsure
    spaces, dash, name = match.groups()
    key = _resolve(name.decode())
    if type(key) is not str or len(key) > MAX_KEY:
        raise _Unsure  # null, a bool, an int: PyYAML would not make a str key
    if len(_PREFIXES) >= 10_000:
        _PREFIXES.clear()
    found = _PREFIXES[head] = (len(spaces), dash is not None, key)
    return found


def _value(text: bytes) -> Any:
    """A one-line scalar after ": " or "- ": plain (resolved as PyYAML does) or "..." without escapes.

    ``_lines`` looks in _VALUES first; what is remembered here is immutable, so it can be shared.
    """
    if not text:
        raise _Unsure
    first = text[0]
    if first == _QUOTE:
        # one more quote, the last byte, and no backslash: no escapes, nothing after the quote
        if text.find(b'"', 1) != len(text) - 1 or b"\\" in text:
            raise _Unsure
        value: Any = text[1:-1].decode()
    elif first in _NOT_A_VALUE_START:
        if text == _EMPTY_LIST:
            return []
        if text == _EMPTY_MAP:
            return {}
        raise _Unsure
    elif b": " in text or b" #" in text or text.endswith((b":", b" ")):
        raise _Unsure  # a mapping inside, a comment, or trailing spaces
    else:
        value = _resolve(text.decode())
    if len(text) <= _VALUE_BYTES:
        if len(_VALUES) >= 50_000:
            _VALUES.clear()
        _VALUES[text] = value
    return value


def _lines(source: bytes) -> dict[str, Any]:
    """The mapping, if ``source`` only has lines of the shapes above; else raises _Unsure.

    Each container has the column of its keys or of its "-"; a line at a smaller column
    closes containers until one has that column, and a larger one opens a container only
    after `key:`. Anything else (a plain scalar going on over lines, flow or block scalars,
    an indentless sequence, comments) is not read here.
    """
    root: dict[str, Any] = {}
    stack: list[tuple[Any, int]] = []  # enclosing containers and their columns
    container: Any = root
    column = 0
    pending: dict[str, Any] | None = None  # the mapping whose last key had nothing after ":"
    pending_key = ""
    value: Any
    known_prefix, known_value, missing, short = _PREFIXES.get, _VALUES.get, _MISSING, _VALUE_BYTES
    lines = source.split(b"\n")
    if len(lines) > MAX_NODES:
        raise _Unsure
    for line in lines:
        head, colon, rest = line.partition(b": ")
        if colon:
            key_column, dash, key = known_prefix(head) or _prefix(head)
        elif line.endswith(b":"):
            head = line[:-1]
            key_column, dash, key = known_prefix(head) or _prefix(head)
        elif not line or line.isspace():  # a blank line (tabs and other spaces are unsure)
            continue
        else:  # `- scalar`
            rest = line.lstrip(b" ")
            if not rest.startswith(b"- "):
                raise _Unsure
            key_column, dash, key = len(line) - len(rest), True, ""
            rest = rest[2:]
        if pending is not None:  # the line after `key:`
            if key_column > column:  # a nested block: a sequence if it starts with "-"
                value = [] if dash else {}
                pending[pending_key] = value
                stack.append((container, column))
                if len(stack) > MAX_DEPTH:
                    raise _Unsure
                container, column = value, key_column
            pending = None
        while key_column < column:
            container, column = stack.pop()
        if key_column != column:
            raise _Unsure
        if dash:
            if type(container) is not list:
                raise _Unsure
            if not key:  # `- scalar`
                value = known_value(rest, missing) if len(rest) <= short else missing
                container.append(_value(rest) if value is missing else value)
                continue
            value = {}  # `- key: ...` starts a mapping, whose keys are two columns further
            container.append(value)
            stack.append((container, column))
            if len(stack) > MAX_DEPTH:
                raise _Unsure
            container, column = value, column + 2
        elif type(container) is not dict:
            raise _Unsure
        if key in container:
            raise _Unsure  # a duplicate key: PyYAML keeps the last value
        if colon:
            value = known_value(rest, missing) if len(rest) <= short else missing
            container[key] = _value(rest) if value is missing else value
        else:
            container[key] = None  # unless the next line opens a nested block
            pending, pending_key = container, key
    if not root:
        raise _Unsure  # no lines or blank ones only: PyYAML loads None
    return root


def _walk(t: Any, source: bytes) -> dict[str, Any]:
    """Build the value in one pass over the node ids, all in document order."""
    type_, key_view, val_view, children, missing = _type, _key_view, _val, _children, _MISSING  # locals: faster
    refused, container_bits, valnil, val_plain, key_plain = _REFUSED, _CONTAINER, _VALNIL, _VAL_PLAIN, _KEY_PLAIN
    seen_value, seen_key, plain_pair, quoted_pair = _SEEN.get, _KEYS.get, _PLAIN_PAIR, _QUOTED_PAIR
    root_bits = type_(t, 0)
    if root_bits & refused or not root_bits & _MAP or _size(t) > MAX_NODES:
        raise _Unsure  # a scalar, a sequence, nothing or several documents, or too much
    root: dict[str, Any] = {}
    stack: list[tuple[Any, int]] = []  # (enclosing container, its children not yet seen)
    container: Any = root
    left = children(t, 0)
    if left and not root_bits & _BLOCK:
        raise _Unsure
    seen = bits = 0  # the type bits of all nodes, and of the last one
    value: Any
    view: memoryview | None
    for node in range(1, _size(t)):
        while not left:
            container, left = stack.pop()
        left -= 1
        bits = type_(t, node)
        if bits in (plain_pair, quoted_pair):  # the common nodes, with nothing else to check
            view = key_view(t, node)
            key = seen_key(view) or _key(view, True)
            view = val_view(t, node)
            if bits == plain_pair:
                value = seen_value(view, missing)
                if value is missing:
                    value = _plain(view)
            else:
                value = "" if view is None else view.tobytes().decode()
            if key in container:
                raise _Unsure  # a duplicate key: PyYAML keeps the last value
            container[key] = value
            continue
        if bits & refused:
            raise _Unsure
        seen |= bits
        if bits & container_bits:
            value = {} if bits & _MAP else []
        elif bits & valnil:  # `key:` and nothing: an empty plain scalar, null
            value = None
        else:  # quoted, literal (|) and folded (>) scalars are str: no implicit resolution
            view = val_view(t, node)
            if bits & val_plain:
                value = seen_value(view, missing)
                if value is missing:
                    value = _plain(view)
            else:
                value = "" if view is None else view.tobytes().decode()
        if bits & _KEY:
            view = key_view(t, node)
            key = (bits & key_plain and seen_key(view)) or _key(view, bool(bits & key_plain))
            if key in container:
                raise _Unsure  # a duplicate key: PyYAML keeps the last value
            container[key] = value
        else:
            container.append(value)
        if bits & container_bits:
            count = children(t, node)
            if count:
                if not bits & _BLOCK or len(stack) >= MAX_DEPTH:
                    raise _Unsure  # flow collections: YAML 1.1 and 1.2 plain scalars differ there
                stack.append((container, left))
                container, left = value, count
    if seen & _BLOCK_SCALAR:
        # a clipped block scalar at the very end without a line break: libyaml drops the final
        # line break, ryml keeps one (`a: |\n  x` is 'x' in PyYAML, 'x\n' in ryml)
        if bits & _BLOCK_SCALAR and not source.endswith(b"\n"):
            raise _Unsure
        if not all(_BLOCK_HEADER.match(header[1]) for header in _BLOCK_INDICATOR.finditer(source)):
            raise _Unsure
    return root
