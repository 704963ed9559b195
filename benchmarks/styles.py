"""The same records as other YAML emitters write them: the styles an export may come in.

    python -m benchmarks.styles --corpus /tmp/bench/corpus-10000 --style pyyaml --out /tmp/bench/pyyaml-10000

Each style is written by the real library where it installs here (PyYAML, ruamel.yaml, js-yaml
through Node, in ``tests/js``) and by hand for Go's yaml.v3 (four-space indentation, no folding).
A file is rewritten by loading its front matter with PyYAML and emitting that mapping again, so
every style carries the same values; the body is kept. The test suite uses the same emitters.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from feeds.frontmatter import decode, split

REPO = Path(__file__).resolve().parent.parent
JS = REPO / "tests" / "js"
BOM = "\ufeff"

# name -> what it is; "seed" and "crlf-bom" keep the text as written (benchmarks.generate's shape)
STYLES: dict[str, str] = {
    "seed": "the seed's shape (benchmarks.generate): indented sequences, double-quoted texts, blank lines",
    "pyyaml": "PyYAML safe_dump defaults: indentless sequences, plain scalars folded at 80 columns",
    "pyyaml-unfolded": "PyYAML safe_dump, width=inf: long one-line plain scalars",
    "jsyaml": "js-yaml dump defaults: quoted timestamps, >- folded scalars at 80 columns",
    "crlf-bom": "the seed's shape with CRLF line ends and a UTF-8 BOM",
    "ruamel": "ruamel.yaml defaults (round-trip dumper): indentless sequences, folded at 80 columns",
    "goyaml": "Go yaml.v3's shape, by hand: four-space indentation, no folding, |- for line breaks",
}
MAPPING_STYLES = ("seed", "pyyaml", "pyyaml-unfolded", "jsyaml", "ruamel", "goyaml")


# ---------------------------------------------------------------- the emitters


def _pyyaml(mappings: Sequence[dict[str, Any]], width: float = 80) -> list[str]:
    return [yaml.safe_dump(m, allow_unicode=True, sort_keys=False, width=width) for m in mappings]  # type: ignore[arg-type]


def _ruamel(mappings: Sequence[dict[str, Any]]) -> list[str]:
    from ruamel.yaml import YAML

    dumper = YAML()
    texts = []
    for mapping in mappings:
        stream = io.StringIO()
        dumper.dump(mapping, stream)
        texts.append(stream.getvalue())
    return texts


def _json_value(value: Any) -> Any:
    """What a JSON export holds: timestamps as ISO strings (js-yaml quotes them), Z for UTC."""
    if isinstance(value, datetime):
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") and value.tzinfo is UTC else text
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    return value


def jsyaml(mappings: Sequence[dict[str, Any]], options: dict[str, Any] | None = None) -> list[str]:
    """js-yaml's ``dump`` of each mapping (one Node process for all of them)."""
    done = subprocess.run(
        ["node", str(JS / "dump_yaml.js"), json.dumps(options or {})],
        input=json.dumps([_json_value(m) for m in mappings]),
        capture_output=True,
        text=True,
        check=True,
        cwd=JS,
    )
    texts: list[str] = json.loads(done.stdout)
    return texts


_RESOLVER = yaml.resolver.Resolver()
_STR = "tag:yaml.org,2002:str"
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@` ")


def _go_scalar(value: Any) -> str:
    """A scalar as yaml.v3 writes it: plain where it reads back the same, else double-quoted."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    plain = (
        text
        and text[0] not in _INDICATORS
        and text[-1] not in " :"
        and not any(c in text for c in "\n\t\r\x85\u2028\u2029\ufeff")
        and ": " not in text
        and " #" not in text
        and _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) == _STR
    )
    return text if plain else json.dumps(text, ensure_ascii=False)


def handwritten(mapping: dict[str, Any], indent: int = 4, *, blank_lines: bool = False, quoted: bool = False) -> str:
    """Block YAML with ``indent`` spaces a level, sequences indented under their key.

    indent=4 is Go's yaml.v3 shape; indent=2 with ``blank_lines`` and ``quoted`` (titles and
    excerpts double-quoted) is the seed's.
    """
    lines: list[str] = []

    def scalar(key: str, value: Any) -> str:
        if quoted and key in ("title", "excerpt", "secured") and isinstance(value, str):
            return json.dumps(value, ensure_ascii=False)
        return _go_scalar(value)

    def write(value: Any, lead: str, column: int, key: str) -> None:
        pad = " " * column
        if isinstance(value, dict) and value:
            lines.append(lead)
            for name, item in value.items():
                write(item, f"{pad}{name}:", column + indent, name)
        elif isinstance(value, list) and value:
            lines.append(lead)
            for item in value:
                if isinstance(item, dict) and item:
                    first = True
                    for name, nested in item.items():
                        prefix = f"{pad}- " if first else f"{pad}  "
                        write(nested, f"{prefix}{name}:", column + 2 + indent, name)
                        first = False
                else:
                    write(item, f"{pad}-", column + indent, key)
        elif isinstance(value, dict | list):
            lines.append(f"{lead} {'{}' if isinstance(value, dict) else '[]'}")
        else:
            lines.append(f"{lead} {scalar(key, value)}")

    for name, value in mapping.items():
        if blank_lines and isinstance(value, dict | list) and value and lines and lines[-1]:
            lines.append("")
        write(value, f"{name}:", indent, name)
    return "\n".join(lines) + "\n"


EMITTERS: dict[str, Callable[[Sequence[dict[str, Any]]], list[str]]] = {
    "seed": lambda ms: [handwritten(m, 2, blank_lines=True, quoted=True) for m in ms],
    "pyyaml": _pyyaml,
    "pyyaml-unfolded": lambda ms: _pyyaml(ms, float("inf")),
    "jsyaml": jsyaml,
    "ruamel": _ruamel,
    "goyaml": lambda ms: [handwritten(m, 4) for m in ms],
}


def emit(style: str, mappings: Sequence[dict[str, Any]]) -> list[str]:
    """Each mapping's YAML in ``style`` (one of MAPPING_STYLES)."""
    return EMITTERS[style](mappings)


def crlf_bom(raw: bytes) -> bytes:
    """A record file as a Windows tool saves it: a UTF-8 BOM, CRLF line ends."""
    return BOM.encode() + raw.removeprefix(BOM.encode()).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


# ---------------------------------------------------------------- rewriting a corpus


def rewrite(style: str, raws: Sequence[bytes]) -> list[bytes]:
    """The record files ``raws`` written again in ``style``, the same values and bodies."""
    if style == "seed":
        return list(raws)
    if style == "crlf-bom":
        return [crlf_bom(raw) for raw in raws]
    mappings, bodies = [], []
    for raw in raws:
        front, body = split(decode(raw))
        mappings.append(yaml.load(front, Loader=yaml.CSafeLoader))
        bodies.append(body + "\n" if body else "")
    return [f"---\n{text}---\n{body}".encode() for text, body in zip(emit(style, mappings), bodies, strict=True)]


def _rewrite_folder(style: str, source: Path, target: Path) -> int:
    paths = sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith("."))
    target.mkdir(parents=True, exist_ok=True)
    for path, raw in zip(paths, rewrite(style, [p.read_bytes() for p in paths]), strict=True):
        (target / path.name).write_bytes(raw)
    return len(paths)


def rewrite_corpus(corpus: Path, style: str, out: Path, jobs: int | None = None) -> int:
    """Write ``corpus`` (folders of record files) again into ``out`` in ``style``; returns the file count."""
    folders = sorted(p for p in corpus.iterdir() if p.is_dir() and not p.name.startswith("."))
    out.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(jobs or os.cpu_count() or 1) as pool:
        counts = pool.map(_rewrite_folder, [style] * len(folders), folders, [out / f.name for f in folders])
        return sum(counts) + _rewrite_folder(style, corpus, out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.styles", description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="a corpus of benchmarks.generate")
    parser.add_argument("--style", choices=sorted(STYLES), required=True)
    parser.add_argument("--out", type=Path, required=True, help="where to write it again (a new folder)")
    parser.add_argument("--jobs", type=int, help="processes (default: CPU count)")
    args = parser.parse_args(argv)
    count = rewrite_corpus(args.corpus, args.style, args.out, args.jobs)
    print(f"wrote {count} records in the {args.style} style to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
