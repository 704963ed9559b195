"""Split a record file into its YAML front matter and body, and load the YAML.

Accepts UTF-8 with or without a BOM and LF or CRLF line endings. The front
matter sits between the first line and the next line that are exactly ``---``.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Any

import yaml

from . import fastyaml

try:  # the C loader (libyaml) is several times faster and has the same semantics
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader  # type: ignore[assignment]

FENCE = "---"
# YAML 1.1 §5.1: printable characters are TAB, LF, CR, NEL, U+0020-U+007E,
# U+00A0-U+D7FF, U+E000-U+FFFD and beyond; surrogates cannot be in str from UTF-8.
_PUBLISHED = re.compile(r"^published:[ \t]*([^\s#]*)", re.MULTILINE)  # its source spelling
_NOT_YAML = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MAX_DEPTH = 32  # records are two levels deep; anything far deeper is hostile
MAX_NODES = 100_000  # counted with aliases expanded, so alias bombs stop here


class FrontMatterError(Exception):
    """The file is not a record; ``line`` is 1-based in the file when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True)
class Document:
    """A loaded front matter: the mapping, the file line of each top-level key."""

    data: dict[Any, Any]
    key_lines: dict[str, int]
    item_lines: dict[str, tuple[int, ...]]  # file line of each item of a list field
    duplicate_keys: tuple[tuple[str, int], ...]  # (key, line) of each repeated key
    plain_scalars: dict[str, str]  # the source text of each top-level unquoted scalar value
    body: str
    removed_characters: int = 0  # characters YAML cannot carry, removed before parsing
    unreadable: tuple[tuple[str, int, str], ...] = ()  # (key, line, why) of values left out
    exact: bool = True  # False: loaded by the fast path, without line numbers


def decode(raw: bytes) -> str:
    """Bytes to text: UTF-8, an optional BOM removed, line endings made LF."""
    if b"\x00" in raw:
        raise FrontMatterError("file contains NUL bytes: it is binary or not UTF-8 (save it as UTF-8)")
    try:
        # "utf-8-sig" without its Python-level codec wrapper when there is no BOM to remove
        text = raw.decode("utf-8-sig") if raw.startswith(codecs.BOM_UTF8) else raw.decode()
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise FrontMatterError(
            f"not valid UTF-8 (byte 0x{raw[e.start]:02x} at offset {e.start}); save the file as UTF-8",
            line,
        ) from e
    if b"\r" not in raw:  # the usual case: a scan of the bytes spares two of the (wider) text
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def split(text: str) -> tuple[str, str]:
    """Return (yaml text, body). The YAML starts on line 2 of the file.

    The closing fence is the first later line that is ``---`` once trailing whitespace is
    stripped. Only a line starting with ``---`` can be one, so only those are looked at.
    """
    if not text or text.isspace():  # what `not text.strip()` says, without copying the text
        raise FrontMatterError("file is empty; a record starts with a '---' line", 1)
    first_end = text.find("\n")
    if (text if first_end < 0 else text[:first_end]).rstrip() != FENCE:
        raise FrontMatterError("no front matter: the first line must be exactly '---'", 1)
    start = first_end  # the line break before the next candidate line
    while start >= 0:
        start = text.find("\n" + FENCE, start)
        if start < 0:
            break
        end = text.find("\n", start + 1)
        if (text[start + 1 :] if end < 0 else text[start + 1 : end]).rstrip() == FENCE:
            body = "" if end < 0 else text[end + 1 :].strip("\n")
            return text[first_end + 1 : start], body
        start = end
    raise FrontMatterError("front matter is not closed: add a line '---' after the YAML", 1)


def _cut_utf8(raw: bytes) -> tuple[bytes, bytes] | None:
    """(YAML, body) as bytes, when ``decode(raw)`` and ``split`` surely cut the very same text.

    That is: the first line exactly ``---``, and the first later line starting with ``---``
    exactly ``---``; else None. ``raw`` has no BOM and no CR (``_normalized``). UTF-8 keeps
    ASCII bytes as they are, so these lines are the same in the bytes and in the text.
    """
    if not raw.startswith(b"---\n"):
        return None
    fence = raw.find(b"\n---", 3)  # 3: the first line break, when the YAML is empty
    if fence < 0 or raw[fence + 4 : fence + 5] not in (b"\n", b""):
        return None
    return raw[4:fence], raw[fence + 5 :]


def _normalized(raw: bytes) -> bytes:
    """What ``decode`` does to the BOM and the line ends, on the bytes (the same text once decoded)."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[3:]
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return raw


def _first_line_starting(source: bytes, prefix: bytes) -> bytes | None:
    if source.startswith(prefix):
        start = 0
    else:
        start = source.find(b"\n" + prefix) + 1
        if not start:
            return None
    end = source.find(b"\n", start)
    return source[start:] if end < 0 else source[start:end]


def load_raw(raw: bytes) -> Document | None:
    """``load(decode(raw))`` straight from a file's bytes, when the fast path reads it; else None.

    Then decode and load: they answer for everything else, errors included. Only the front
    matter and the body are decoded, so bytes that are not UTF-8 give None as well.
    """
    raw = _normalized(raw)
    cut = _cut_utf8(raw)
    if cut is None or fastyaml.unsure_utf8(raw):  # NUL and the like: decode and load
        return None
    source, body = cut
    try:
        data = fastyaml.load_checked(source.decode())
        if data is None:
            return None
        return _document(data, source, body.decode())
    except UnicodeDecodeError:
        return None


def _document(data: dict[Any, Any], source: bytes, body: str) -> Document:
    """The Document of the fast paths, from the YAML's UTF-8 and the body's text."""
    line = _first_line_starting(source, b"published:")  # what _PUBLISHED finds, without a regex scan
    spelled = None if line is None else _PUBLISHED.match(line.decode())
    flag = {"published": spelled.group(1)} if spelled else {}
    return Document(data, {}, {}, (), flag, body.strip("\n"), exact=False)


def load(text: str, *, exact: bool = False) -> Document:
    """Parse a record file's text with the YAML safe loader.

    The fast path (``fastyaml``, same values as PyYAML) knows no line numbers;
    with ``exact`` PyYAML loads it, and records use that to report problems.
    Characters YAML does not allow in a document (C0 and C1 controls other
    than tab and line breaks, U+FFFE, U+FFFF) are removed first and counted.
    """
    source, body = split(text)
    if not exact:
        data = fastyaml.load_mapping(source)
        if data is not None:
            spelled = _PUBLISHED.search(source)
            flag = {"published": spelled.group(1)} if spelled else {}
            return Document(data, {}, {}, (), flag, body, exact=False)
    source, removed = _NOT_YAML.subn("", source)
    loader = SafeLoader(source)
    try:
        node = loader.get_single_node()
        if node is None:
            raise FrontMatterError("front matter is empty; it must be a YAML mapping", 2)
        _check_size(node)
        if isinstance(node, yaml.MappingNode):
            data, unreadable = _construct_fields(loader, node)
        else:
            data, unreadable = loader.construct_document(node), ()
    except yaml.MarkedYAMLError as e:
        raise FrontMatterError(*describe_yaml_error(e, first_line=2)) from e
    except yaml.YAMLError as e:
        raise FrontMatterError(f"YAML error: {type(e).__name__}", None) from e
    except RecursionError as e:
        raise FrontMatterError("YAML is nested too deeply", None) from e
    except _CONSTRUCTOR_ERRORS as e:
        raise FrontMatterError(f"YAML value cannot be converted: {_one_line(e)}", 2) from e
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        found = type(data).__name__
        raise FrontMatterError(f"front matter must be a YAML mapping of fields, found a {found}", 2)
    key_lines: dict[str, int] = {}
    item_lines: dict[str, tuple[int, ...]] = {}
    duplicates: list[tuple[str, int]] = []
    plain: dict[str, str] = {}
    for key_node, value_node in node.value:
        if isinstance(key_node.value, str):
            if key_node.value in key_lines:
                duplicates.append((_one_line(key_node.value), key_node.start_mark.line + 2))
            key_lines[key_node.value] = key_node.start_mark.line + 2
            if isinstance(value_node, yaml.ScalarNode) and not value_node.style:  # "" in libyaml
                plain[key_node.value] = value_node.value
            if isinstance(value_node, yaml.SequenceNode):
                item_lines[key_node.value] = tuple(n.start_mark.line + 2 for n in value_node.value)
    return Document(data, key_lines, item_lines, tuple(duplicates), plain, body, removed, unreadable)


# PyYAML's constructors raise these, not YAMLError, for values shaped like a
# date, a number or a tagged scalar that they cannot convert (2020-02-30, !!int x).
# (IndexError: an empty "!!float" scalar.) Any of them costs only the field it is in.
_CONSTRUCTOR_ERRORS = (ValueError, TypeError, KeyError, AttributeError, OverflowError, IndexError)


def _construct_fields(loader: Any, node: yaml.MappingNode) -> tuple[dict[Any, Any], tuple[tuple[str, int, str], ...]]:
    """Construct the top-level mapping one field at a time, so one bad value costs only its field."""
    loader.flatten_mapping(node)  # "<<" merge keys, as construct_document would
    data: dict[Any, Any] = {}
    unreadable: list[tuple[str, int, str]] = []
    for key_node, value_node in node.value:
        try:
            key = loader.construct_object(key_node, deep=True)
            data[key] = loader.construct_object(value_node, deep=True)
        except _CONSTRUCTOR_ERRORS as e:
            if not isinstance(key_node, yaml.ScalarNode):
                label, why = "(a complex key)", "field names must be plain text"
            elif isinstance(value_node, yaml.ScalarNode):
                label, why = key_node.value, f"{value_node.value[:60]!r} is not a valid {value_node.tag.split(':')[-1]}"
            else:
                label, why = key_node.value, _one_line(e)
            unreadable.append((_one_line(label), key_node.start_mark.line + 2, why))
    return data, tuple(unreadable)


def _check_size(root: yaml.Node) -> None:
    """Refuse documents whose expanded size or depth is far beyond a record's.

    Aliases share nodes, so a 'billion laughs' document is small as a graph but
    huge once walked; counting visits with aliases expanded bounds any later walk.
    """
    visits = 0
    stack: list[tuple[yaml.Node, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        visits += 1
        if visits > MAX_NODES:
            raise FrontMatterError(f"YAML expands to more than {MAX_NODES} values (alias bomb?)", 2)
        if depth > MAX_DEPTH:
            line = node.start_mark.line + 2
            raise FrontMatterError(f"YAML is nested deeper than {MAX_DEPTH} levels", line)
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))


def describe_yaml_error(error: yaml.MarkedYAMLError, first_line: int = 1) -> tuple[str, int | None]:
    """One line for a YAML error and its file line; ``first_line`` is where the YAML starts."""
    mark = error.problem_mark or error.context_mark
    line = None if mark is None else mark.line + first_line
    message = f"YAML syntax error: {error.problem or error.context or 'invalid YAML'}"
    if error.context and error.context_mark and mark is not None and error.context_mark.line != mark.line:
        message += f" ({error.context} started on line {error.context_mark.line + first_line})"
    return message, line


def _one_line(text: object) -> str:
    """Any text (a YAML key, an error) on one line, cut to 200 characters."""
    return " ".join(str(text).split())[:200] or type(text).__name__
