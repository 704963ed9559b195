"""The scalars of the fast YAML reader (``fastyaml``): plain ones resolved with PyYAML's own
YAML 1.1 table, quoted and block ones unfolded as libyaml unfolds them, or ``Unsure``.

Where a rule is subtle the comment names the libyaml scanner function (scanner.c) it follows.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any, Final

import yaml

MAX_KEY: Final = 64  # libyaml refuses simple keys over 1024 characters; records' keys are short
DOCUMENT_MARKERS: Final = ("---", "...")
# PyYAML's implicit resolvers for plain scalars: first character -> [(tag, pattern)], tried in
# order (yaml/resolver.py: bool, float, int, merge, null, timestamp, value); the loader's own table.
_RESOLVERS: Final[dict[str, list[tuple[str, re.Pattern[str]]]]] = yaml.CSafeLoader.yaml_implicit_resolvers
_NULL, _BOOL, _INT, _FLOAT, _TIMESTAMP = (
    f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "timestamp")
)
# The parts of resolver.py's int and float patterns built here; the rest (0b, 0x, octal, base 60,
# .inf, .nan) declines. int: `[-+]?(?:0|[1-9][0-9_]*)`; float: `[-+]?(?:[0-9][0-9_]*)\.[0-9_]*
# (?:[eE][-+][0-9]+)?` and `\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?`.
_DECIMAL_INT: Final = re.compile(r"[-+]?(?:0|[1-9][0-9_]*)\Z")
_DECIMAL_FLOAT: Final = re.compile(r"(?:[-+]?[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+][0-9]+)?\Z")
_BOOLS: Final = yaml.constructor.SafeConstructor.bool_values  # yes/no/true/false/on/off, lowercased
_TIMESTAMP_PARTS: Final = yaml.constructor.SafeConstructor.timestamp_regexp
# The forms exporters write, 2020-01-24T10:36:00Z, 2022-01-09 01:19:30-08:00 or a date alone:
# PyYAML's float and int patterns cannot match them, its timestamp pattern does.
_ISO: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:Z|[-+][0-9]{2}:[0-9]{2})?)?\Z")
# A key as exporters write it; a plain scalar that PyYAML must also resolve to a str.
KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")
# Characters that cannot start a plain scalar (YAML 1.1 c-indicator); | > ' " [ { are read
# before this is asked. "-", "?" and ":" may start one when no space follows; only "-" (as in
# -5) is read here.
_NOT_PLAIN_START: Final = frozenset("#&*!|>'\"%@`[]{},?:")
_SPECIAL_START: Final = _NOT_PLAIN_START | {"-"}
# A block scalar's header: indentation and chomping indicators, spaces, maybe a comment
# (YAML 1.1 c-b-block-header; libyaml also takes "|#c", which declines here).
_BLOCK_HEADER: Final = re.compile(r"[|>]([1-9][-+]?|[-+][1-9]?)?(?: *| +#.*)\Z")
# libyaml's escapes in double-quoted scalars (yaml_parser_scan_flow_scalar), but for \<TAB>.
_ESCAPES: Final = {
    "0": "\0", "a": "\a", "b": "\b", "t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r", "e": "\x1b",
    " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029",
}  # fmt: skip
_HEX_ESCAPES: Final = {"x": 2, "u": 4, "U": 8}
_HEX: Final = re.compile(r"[0-9A-Fa-f]+\Z")

# Values by their source text, kept only for short texts: records repeat names, domains,
# topics, types and numbers; titles, excerpts and URLs rarely recur. All are immutable.
VALUES: dict[str, Any] = {}
VALUE_CHARS: Final = 64
KEYS: dict[str, str] = {}  # keys once checked


class Unsure(Exception):
    """Raised while reading: PyYAML might read this document differently, or refuse it."""


# ---- scalars


@functools.cache
def _offset(sign: str, hours: int, minutes: int) -> dt.timezone:
    delta = dt.timedelta(hours=hours, minutes=minutes)  # raises for hours >= 24, as in PyYAML
    return dt.timezone(-delta if sign == "-" else delta)


def _timestamp(text: str) -> dt.date | dt.datetime:
    """PyYAML's ``SafeConstructor.construct_yaml_timestamp``, step by step."""
    match = _TIMESTAMP_PARTS.match(text)
    if match is None:
        raise Unsure
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
    if "0" <= text[:1] <= "9" and _ISO.match(text):
        # What PyYAML resolves as a timestamp; for exactly these shapes the C fromisoformat
        # gives the same values (Z as the UTC singleton, an offset as a fixed timezone) and
        # raises ValueError for the same ones.
        return dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
    for tag, pattern in _RESOLVERS.get(text[:1], ()):  # noqa: B007 - the match is used after the loop
        if pattern.match(text):
            break
    else:
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
    raise Unsure  # merge (<<), value (=), other ints and floats, or a resolver added at run time


def checked_key(text: str) -> str:
    """A mapping key: a short plain scalar that PyYAML makes a str."""
    if len(text) > MAX_KEY or not KEY.match(text) or type(_resolve(text)) is not str:
        raise Unsure  # null, a bool, an int or a date key, or one written otherwise
    if len(KEYS) >= 10_000:
        KEYS.clear()
    KEYS[text] = text
    return text


def _remember(text: str, value: Any) -> Any:
    if len(text) <= VALUE_CHARS:
        if len(VALUES) >= 50_000:
            VALUES.clear()
        VALUES[text] = value
    return value


def scalar(lines: list[str], i: int, rest: str, column: int) -> tuple[Any, int]:
    """The scalar that starts ``rest`` (the non-empty rest of line ``i``, after ": " or "- ").

    ``column`` is that of the collection it is in (libyaml's parser->indent). Returns the value
    and the index of the next line to read.
    """
    first = rest[0]
    if first not in _SPECIAL_START:  # the usual plain scalar
        return _plain(lines, i, rest, column)
    if first == '"':
        if rest.find('"', 1) == len(rest) - 1 and "\\" not in rest:  # the usual one: one line, no escapes
            return rest[1:-1], i + 1
        return _quoted(lines, i, rest, True)
    if first == "'":
        if rest.find("'", 1) == len(rest) - 1:  # one line, no '' inside
            return rest[1:-1], i + 1
        return _single_lines(lines, i, rest) or _quoted(lines, i, rest, False)
    if first == "|" or first == ">":
        return _block(lines, i, rest, column)
    if first == "[" or first == "{":
        empty = rest.partition(" #")[0].rstrip(" ")
        if empty == "[]":
            return [], i + 1
        if empty == "{}":
            return {}, i + 1
        raise Unsure  # a flow collection: its plain scalars have rules of their own
    if first in _NOT_PLAIN_START or (first == "-" and (len(rest) == 1 or rest[1] == " ")):
        raise Unsure
    return _plain(lines, i, rest, column)


def _plain(lines: list[str], i: int, rest: str, column: int) -> tuple[Any, int]:
    """A plain scalar: its lines folded into one (yaml_parser_scan_plain_scalar)."""
    comment = " #" in rest  # a comment ends it
    text = rest.partition(" #")[0] if comment else rest
    if text[-1] == " ":
        text = text.rstrip(" ")
    if ": " in text or text[-1] == ":":
        raise Unsure  # a mapping in a value: an error to libyaml
    i += 1
    count = len(lines)
    if not comment and i < count and lines[i][column : column + 1] == " ":
        # Continuation lines are indented more than the collection (parser->indent + 1) and
        # are not comments. After blank lines it would go on with line breaks: the reader
        # stops there, and the line after, indented more than its collection, is refused.
        parts = [text]
        while i < count:
            line = lines[i]
            more = line.lstrip(" ")
            if not more or more[0] == "#" or len(line) - len(more) <= column:
                break
            comment = " #" in more
            if comment:
                more = more.partition(" #")[0]
            parts.append(more.rstrip(" ") if more[-1] == " " else more)
            i += 1
            if comment:
                break
        if len(parts) > 1:
            folded = " ".join(parts)
            if ": " in folded or folded[-1] == ":":  # (a line's last ":" is followed by the space joining)
                raise Unsure  # a mapping in a value: an error to libyaml
            return _resolve(folded), i
    if len(text) > VALUE_CHARS:
        return _resolve(text), i
    value = VALUES.get(text, VALUES)
    if value is VALUES:
        value = _remember(text, _resolve(text))
    return value, i


def _unescape(text: str) -> str:
    """A double-quoted scalar's escapes, as libyaml reads them; Unsure for any it refuses."""
    if "\\" not in text:
        return text
    parts = []
    start = 0
    while True:
        slash = text.find("\\", start)
        if slash < 0:
            parts.append(text[start:])
            return "".join(parts)
        parts.append(text[start:slash])
        code = text[slash + 1 : slash + 2]
        if code in _ESCAPES:
            parts.append(_ESCAPES[code])
            start = slash + 2
        elif code in _HEX_ESCAPES:
            end = slash + 2 + _HEX_ESCAPES[code]
            digits = text[slash + 2 : end]
            if len(digits) != end - slash - 2 or not _HEX.match(digits):
                raise Unsure
            number = int(digits, 16)
            if 0xD800 <= number <= 0xDFFF or number > 0x10FFFF:
                raise Unsure
            parts.append(chr(number))
            start = end
        else:
            raise Unsure  # "\q", "\'" or nothing after the backslash


def _closing(text: str, double: bool) -> int:
    """Where the closing quote is in ``text`` (a line of the scalar after its opening), or -1."""
    if double:
        at = 0
        while True:
            quote = text.find('"', at)
            if quote < 0:
                return -1
            slashes = quote - len(text[:quote].rstrip("\\"))
            if not slashes % 2:  # not escaped: \\" is a backslash, then the end
                return quote
            at = quote + 1
    at = 0
    while True:
        quote = text.find("'", at)
        if quote < 0 or text[quote + 1 : quote + 2] != "'":
            return quote
        at = quote + 2  # '' is a quote


def _single_lines(lines: list[str], i: int, rest: str) -> tuple[str, int] | None:
    """``_quoted`` of the usual single-quoted scalar over lines (PyYAML folds them at 80 columns).

    That is: no blank line, no '', nothing after the closing quote; else None. Each line break
    and the spaces around it are one space.
    """
    first = rest[1:]
    if "'" in first:
        return None
    parts = [first.rstrip(" ")]
    for j in range(i + 1, len(lines)):
        line = lines[j]
        more = line.lstrip(" ")
        if not more or (len(more) == len(line) and more.startswith(DOCUMENT_MARKERS)):
            return None
        quote = more.find("'")
        if quote < 0:
            parts.append(more.rstrip(" "))
            continue
        if quote != len(more) - 1:
            return None
        parts.append(more[:-1])
        return " ".join(parts), j + 1
    return None


def _quoted(lines: list[str], i: int, rest: str, double: bool) -> tuple[str, int]:
    """A single- or double-quoted scalar over one line or more (yaml_parser_scan_flow_scalar).

    Within a line everything counts; a line break drops the spaces around it and becomes a
    space, or as many line feeds as blank lines follow; an escaped line break (a final "\\")
    becomes nothing. libyaml checks no indentation here, only document markers.
    """
    parts = []
    text = rest[1:]
    count = len(lines)
    while True:
        end = _closing(text, double)
        if end >= 0:
            parts.append(_unescape(text[:end]) if double else text[:end].replace("''", "'"))
            break
        escaped = False
        if double:
            kept = text.rstrip(" ")
            slashes = len(kept) - len(kept.rstrip("\\"))
            if slashes % 2:  # the last backslash escapes what follows it
                if len(kept) == len(text):
                    escaped = True  # ... the line break
                    kept = kept[:-1]
                else:
                    kept += " "  # ... a space; the other spaces go
            parts.append(_unescape(kept))
        else:
            parts.append(text.rstrip(" ").replace("''", "'"))
        breaks = 0
        while True:
            i += 1
            if i >= count:
                raise Unsure  # not closed: an error
            line = lines[i]
            if line.startswith(DOCUMENT_MARKERS) and line[3:4] in ("", " "):
                raise Unsure  # a document marker inside a quoted scalar: an error
            text = line.lstrip(" ")
            if text:
                break
            breaks += 1
        parts.append("\n" * breaks if breaks else "" if escaped else " ")
    after = text[end + 1 :]
    tail = after.lstrip(" ")
    if tail and not (tail[0] == "#" and len(tail) < len(after)):
        raise Unsure  # anything but a comment after the closing quote
    return "".join(parts), i + 1


def _breaks(lines: list[str], i: int, indent: int) -> tuple[int, int, int]:
    """From line ``i``, the blank lines of a block scalar (yaml_parser_scan_block_scalar_breaks).

    Returns the index of the first line with more than ``indent`` spaces' worth (or any
    non-space when ``indent`` is 0, not yet known), or len(lines) at the end of the text;
    the number of line breaks passed; the largest indentation seen, that line's included.
    """
    last = len(lines) - 1
    breaks = widest = 0
    while i <= last:
        line = lines[i]
        spaces = len(line) - len(line.lstrip(" "))
        eaten = spaces if not indent or spaces < indent else indent
        widest = max(widest, eaten)
        if eaten < len(line):
            return i, breaks, widest
        if i == last:
            break  # the end of the text: no line break after this line
        breaks += 1
        i += 1
    return last + 1, breaks, widest


_HEADERS: dict[str, tuple[bool, int, int]] = {}  # header -> (literal, chomping, increment)


def _header(rest: str) -> tuple[bool, int, int]:
    """A block scalar's header: literal or not, chomping (-1 strip, 0 clip, 1 keep), increment."""
    header = _BLOCK_HEADER.match(rest)
    if header is None:
        raise Unsure
    chomping = increment = 0
    for flag in header.group(1) or "":
        if flag == "-":
            chomping = -1
        elif flag == "+":
            chomping = 1
        else:
            increment = int(flag)
    if len(_HEADERS) < 1_000:
        _HEADERS[rest] = (rest[0] == "|", chomping, increment)
    return rest[0] == "|", chomping, increment


def _simple_block(
    lines: list[str], i: int, column: int, indent: int, literal: bool, chomping: int
) -> tuple[str, int] | None:
    """``_block``'s answer when the scalar is the usual one, or None: then ``_block`` works it out.

    The usual one: lines all indented exactly alike, none blank, followed by a line indented
    less (so each of its lines ends with a line break). Then the lines are joined with line
    breaks (|) or spaces (>), and clip and keep add the last line break.
    """
    count = len(lines)
    if i >= count:
        return None
    first = lines[i]
    spaces = len(first) - len(first.lstrip(" "))
    if not indent:
        indent = spaces
    if spaces != indent or indent <= column or spaces == len(first):
        return None
    pad = first[:indent]
    end = i + 1
    while end < count:
        line = lines[end]
        if not line.startswith(pad) or line[indent : indent + 1] in (" ", ""):  # or blank, or more indented
            break
        end += 1
    if end == count:
        return None  # the last line: no line break after it
    line = lines[end]
    if line.startswith(pad) or not line.strip(" "):
        return None  # more indented, or blank: line breaks to count
    texts = [line[indent:] for line in lines[i:end]]
    value = "\n".join(texts) if literal else " ".join(texts)
    return (value if chomping == -1 else value + "\n"), end


def _block(lines: list[str], i: int, rest: str, column: int) -> tuple[str, int]:
    """A literal (|) or folded (>) block scalar (yaml_parser_scan_block_scalar)."""
    literal, chomping, increment = _HEADERS.get(rest) or _header(rest)
    indent = column + increment if increment else 0
    count = len(lines)
    simple = _simple_block(lines, i + 1, column, indent, literal, chomping)
    if simple is not None:
        return simple
    i, trailing, widest = _breaks(lines, i + 1, indent)
    if not indent:
        indent = max(widest, column + 1)
    parts: list[str] = []
    leading_break = ""
    leading_blank = False
    while i < count:
        line = lines[i]
        if len(line) - len(line.lstrip(" ")) < indent:
            break  # less indented: the scalar ends
        text = line[indent:]
        trailing_blank = text[0] == " "
        if not literal and leading_break and not leading_blank and not trailing_blank:
            if not trailing:  # a single line break between two lines folds into a space
                parts.append(" ")
        else:
            parts.append(leading_break)
        parts.append("\n" * trailing)
        leading_blank = trailing_blank
        parts.append(text)
        if i == count - 1:
            leading_break, trailing, i = "", 0, count  # the end of the text: no line break
            break
        leading_break = "\n"
        i, trailing, _ = _breaks(lines, i + 1, indent)
    if chomping != -1:  # clip or keep: the last line break
        parts.append(leading_break)
    if chomping == 1:  # keep: the blank lines after it too
        parts.append("\n" * trailing)
    return "".join(parts), i
