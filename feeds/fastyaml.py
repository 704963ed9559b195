"""The fast path for one front matter's YAML: a small block-YAML reader in pure Python.

The contract: ``load_mapping(text)`` returns exactly what ``yaml.load(text, Loader=yaml.CSafeLoader)``
returns (equal values of the same types all the way down), or None, which means "load it with
PyYAML": PyYAML stays the reference, reports every error and knows the line numbers.

It reads what exporters write, whichever library they use: a block mapping of plain keys whose
values are, nested up to MAX_DEPTH,
- block mappings and sequences at any indentation, indentless sequences (``key:`` then ``- x``
  at the key's column) and ``- key: value`` items;
- plain scalars on one line or folded over several, resolved with PyYAML's own YAML 1.1 table
  (null, bool, decimal int and float, timestamps; the rest of the table declines);
- single-quoted (``''``) and double-quoted scalars (libyaml's escapes), folded over lines too;
- literal and folded block scalars, with indentation and chomping indicators;
- ``[]`` and ``{}``, comments, blank lines and trailing spaces.
It declines everything else: flow collections with content, anchors, aliases, tags, explicit,
quoted, non-string, duplicate or long keys, document markers, directives, and every character
``unsure`` finds (tabs, CR, NEL, LS, PS, BOM, controls); callers make CRLF and a BOM what
PyYAML would read first. Where a rule is subtle the comment names the libyaml scanner function
(scanner.c) whose behaviour it follows. The mappings and sequences are read here, the scalars
in ``yamlscalars``.
"""

from __future__ import annotations

import re
from typing import Any, Final

from .yamlscalars import KEY, KEYS, VALUE_CHARS, VALUES, Unsure, checked_key, scalar

__all__ = ["load_checked", "load_mapping", "unsure", "unsure_utf8"]

MAX_DEPTH: Final = 16  # records are 3 levels deep; deeper documents go to PyYAML and its checks
# frontmatter refuses documents of over 100,000 values (keys count too); a line makes at most
# two, so larger documents go to PyYAML and that check
MAX_NODES: Final = 50_000
# The heads of key lines read before: the line up to ": " (or its last ":"), as (indentation,
# the key's column, the key); the column differs from the indentation after "- ". Exporters
# write the same few dozen heads in every record, and one lookup stands for stripping the
# line, finding its dash and checking its key.
_HEADS: dict[str, tuple[int, int, str]] = {}

# Anything but LF and what YAML 1.1 calls printable and not a line break (yaml/reader.py
# NON_PRINTABLE): no tab (a separator with rules of its own), CR, NEL, LS, PS (line breaks in
# YAML 1.1), BOM, C0 and C1 controls, DEL or surrogates.
_UNSURE_CHAR: Final = re.compile(
    "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
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


def load_mapping(text: str) -> dict[str, Any] | None:
    """The front matter ``text`` as PyYAML's CSafeLoader loads it, or None to load it with PyYAML.

    None too for anything but a block mapping, and for YAML errors: PyYAML reports them.
    """
    if unsure(text):
        return None
    return load_checked(text)


def load_checked(text: str) -> dict[str, Any] | None:
    """``load_mapping`` of a text the caller knows ``unsure`` is False for (from ``unsure_utf8``)."""
    try:
        return _read(text)
    # ValueError: 2024-13-01, which PyYAML raises too; OverflowError: a year like 99999
    except (Unsure, ValueError, OverflowError):
        return None


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


# ---- collections


def _is_key_line(text: str) -> bool:
    """Whether ``text`` (a line without its indentation) starts with a key the reader knows."""
    head, colon, _ = text.partition(": ")
    if not colon:
        if text[-1] != ":":
            return False
        head = text[:-1]
    return KEY.match(head) is not None


def _read(text: str) -> dict[str, Any]:
    """The mapping, if ``text`` is of the shapes in the module's docstring; else raises Unsure.

    Each collection has a column: its keys' or its dashes'. A line at a smaller column closes
    collections until one has that column; one at a larger column opens a collection only
    after ``key:`` or ``-`` with nothing after it; an indentless sequence has its mapping's.
    """
    lines = text.split("\n")
    count = len(lines)
    if count > MAX_NODES:
        raise Unsure
    root: dict[str, Any] = {}
    stack: list[tuple[Any, int]] = []  # enclosing collections and their columns
    container: Any = root
    column = 0
    pending: Any = None  # the collection whose last entry had nothing after ":" or "-"
    pending_key = ""
    value: Any
    known_key, known_value, values, known_head = KEYS.get, VALUES.get, VALUES, _HEADS.get
    i = 0
    while i < count:
        line = lines[i]
        line_head, colon, after = line.partition(": ")
        if not colon:
            line_head = line[:-1] if line[-1:] == ":" else ""  # `key:`, or no key at all
        head_of = known_head(line_head)
        if head_of is not None:  # `key: ...` or `- key: ...` whose head was read before: the usual line
            indent, key_column, key = head_of  # and the checks below its head passed when first read
            dash = key_column != indent
        else:
            stripped = line.lstrip(" ")
            if not stripped or stripped[0] == "#":  # a blank line or a comment
                i += 1
                continue
            indent = len(line) - len(stripped)
            dash = stripped[0] == "-" and (len(stripped) == 1 or stripped[1] == " ")
            if (
                pending is not None
                and indent > column
                and not dash
                and stripped[0] not in "|>"
                and not _is_key_line(stripped)
            ):
                value, i = scalar(lines, i, stripped, column)  # the value of `key:` or `-` starts on this line
                if type(pending) is dict:
                    pending[pending_key] = value
                else:
                    pending[-1] = value
                pending = None
                continue
        if pending is not None:  # the line after `key:` or `-`
            if indent > column or (dash and indent == column and type(pending) is dict):
                value = [] if dash else {}
                if type(pending) is dict:
                    pending[pending_key] = value
                else:
                    pending[-1] = value
                stack.append((container, column))
                if len(stack) > MAX_DEPTH:
                    raise Unsure
                container, column = value, indent
            pending = None
        while indent < column:
            container, column = stack.pop()
        if indent != column:
            raise Unsure
        if dash:
            if type(container) is not list:
                raise Unsure
            if head_of is None:
                rest = stripped[1:].lstrip(" ")
                if not rest or rest[0] == "#":  # `-` alone: null, or a nested block below
                    container.append(None)
                    pending = container
                    i += 1
                    continue
                head, colon, after = rest.partition(": ")
                if not colon and rest[-1] == ":":
                    head, colon, after = rest[:-1], ":", ""
                if not colon or not (known_key(head) or KEY.match(head)):
                    value = known_value(rest, values) if len(rest) <= VALUE_CHARS else values
                    if value is values or (i + 1 < count and lines[i + 1][column : column + 1] == " "):
                        value, i = scalar(lines, i, rest, column)
                    else:
                        i += 1
                    container.append(value)
                    continue
                key_column = indent + len(stripped) - len(rest)
            value = {}  # `- key: ...` starts a mapping at the key's column
            container.append(value)
            stack.append((container, column))
            if len(stack) > MAX_DEPTH:
                raise Unsure
            container, column = value, key_column
        elif type(container) is not dict:
            container, column = stack.pop()  # the end of an indentless sequence, if it is one
            if indent != column or type(container) is not dict:
                raise Unsure
        if head_of is None:
            if not dash:
                head, colon, after = stripped.partition(": ")
                if not colon:
                    if stripped[-1] != ":":
                        raise Unsure
                    head, after = stripped[:-1], ""
            key = known_key(head) or checked_key(head)
            if len(_HEADS) >= 10_000:
                _HEADS.clear()
            _HEADS[line_head] = (indent, column, key)  # this line's head, read the same way next time
        if key in container:
            raise Unsure  # a duplicate key: PyYAML keeps the last value
        if after and after[0] == " ":
            after = after.lstrip(" ")
        if not after or after[0] == "#":  # `key:`: null, or a nested block below
            container[key] = None
            pending, pending_key = container, key
            i += 1
            continue
        value = known_value(after, values) if len(after) <= VALUE_CHARS else values
        # a remembered value is a one-line plain scalar: unless the next line may go on with it
        if value is values or (i + 1 < count and lines[i + 1][column : column + 1] == " "):
            value, i = scalar(lines, i, after, column)
        else:
            i += 1
        container[key] = value
    if not root:
        raise Unsure  # nothing but comments and blank lines: PyYAML loads None
    return root
