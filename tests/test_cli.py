"""The command line through click's CliRunner: options, summary, exit codes, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from feeds import __version__
from feeds.cli import main

from .conftest import DATA, SEEDS, record_file

GOOD = """
title: Good one
sourceUrl: https://news.example.com/good
publishedDateTime: 2025-03-14T08:15:00Z
published: true
topics: [AI]
secured: "TOP-SECRET-PAYLOAD"
"""


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def seeds_with_one_bad(folder: Path) -> Path:
    folder.mkdir()
    (folder / "good.txt").write_bytes(record_file(GOOD))
    (folder / "bad.txt").write_bytes(record_file("title: [unclosed"))
    return folder


def test_version_and_help(runner: CliRunner) -> None:
    assert runner.invoke(main, ["--version"]).output.strip() == f"feeds, version {__version__}"
    commands = main.list_commands(click.Context(main))
    assert commands == ["build", "check", "deploy", "serve"]
    listed = runner.invoke(main, ["--help"]).output
    for command in commands:
        assert f"  {command} " in listed
        result = runner.invoke(main, [command, "--help"])
        assert result.exit_code == 0
        assert "Example:" in result.output


def test_a_build_starts_without_the_deploy_and_serve_code() -> None:
    """Imported only when one of them is asked for: without them a build starts 60 ms sooner."""
    code = "import sys, feeds.cli; print(sorted(m for m in sys.modules if m.startswith(NAMES)))"
    names = ("feeds.deploy", "feeds.serve", "feeds.connections", "feeds.websub", "asyncio", "http.client", "ssl")
    found = subprocess.run(
        [sys.executable, "-c", f"NAMES = {names!r}; {code}"], capture_output=True, text=True, check=True
    ).stdout
    assert found.strip() == "[]"


def test_build_writes_the_tree_and_prints_a_summary(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(main, ["build", str(SEEDS), "-o", str(out), "--now", "2026-11-26T00:00:00Z"])
    assert result.exit_code == 0, result.output
    assert "44 records read: 34 published, 8 unpublished, 1 scheduled for later" in result.stdout
    assert "97 files written" in result.stdout
    assert result.stderr.count("\n") == 1 and "014_c8f354ce1759aa25.txt:10: warning: published" in result.stderr
    assert (out / "topics" / "c-plus-plus" / "rss.xml").is_file()
    quiet = runner.invoke(main, ["build", str(SEEDS), "-o", str(out), "--now", "2026-11-26T00:00:00Z", "-q"])
    assert quiet.stdout == ""


def test_a_bad_record_is_reported_and_skipped(runner: CliRunner, tmp_path: Path) -> None:
    seeds = seeds_with_one_bad(tmp_path / "seeds")
    out = tmp_path / "out"
    result = runner.invoke(main, ["build", str(seeds), "-o", str(out), "--base-url", "https://f.example.org"])
    assert result.exit_code == 0
    assert result.stderr.strip().startswith(f"{seeds.as_posix()}/bad.txt:3: error: YAML syntax error")
    assert "Traceback" not in result.output
    feed = (out / "topics" / "ai" / "feed.json").read_text(encoding="utf-8")
    assert json.loads(feed)["feed_url"] == "https://f.example.org/topics/ai/feed.json"
    everything = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    assert b"TOP-SECRET-PAYLOAD" not in everything


def test_strict_writes_nothing_and_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    seeds = seeds_with_one_bad(tmp_path / "seeds")
    out = tmp_path / "out"
    result = runner.invoke(main, ["build", str(seeds), "-o", str(out), "--strict"])
    assert result.exit_code == 1
    assert "1 record was rejected; nothing was written (--strict)" in result.stderr
    assert "bad.txt:3: error: YAML syntax error" in result.stderr
    assert "(while parsing a flow sequence started on line 2)" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("title: x\ncolour: blue\n", "unknown setting colour"),
        ("max_items: many\n", "max_items: must be a whole number"),
        ("base_url: ftp://x.example/\n", "base_url: must be an absolute http(s) URL"),
        ("language: English please\n", "language: must be a language tag"),
        ("- a list\n", "must be a YAML mapping"),
        ("title: [unclosed\n", "not valid YAML"),
        ("icon: /icon.png\n", "icon: must be an absolute http(s) URL, found '/icon.png'"),
        ("logo: javascript:alert(1)\n", "logo: must be an absolute http(s) URL"),
        ("favicon: 12\n", "favicon: must be an absolute http(s) URL, found 12"),
        (
            "icon: https://x.example/i.png\nicon_size: 512\n",
            "icon_size: must be a whole number of pixels from 1 to 144",
        ),
        ("icon_size: 64\n", "icon_size: is the size of the icon, and no icon is set"),
        ("accent_color: orange\n", "accent_color: must be six hex digits such as 'FF6600', found 'orange'"),
        ("providers:\n  a.example: icon.png\n", "providers: a.example: must be an absolute http(s) URL"),
        ("topics: [AI]\n", "topics: must be a mapping of names to icon URLs"),
        ("topics:\n  AI:\n", "topics: AI: must be an absolute http(s) URL, found None"),
    ],
)
def test_a_bad_config_is_one_clear_line_and_exit_1(
    runner: CliRunner, tmp_path: Path, config: str, message: str
) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(config, encoding="utf-8")
    result = runner.invoke(main, ["build", str(SEEDS), "-o", str(tmp_path / "out"), "--config", str(path)])
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output


@pytest.mark.parametrize(
    "args", [["build", "no-such-folder"], ["build", str(SEEDS), "--now", "tomorrow"], ["build", "--bogus"]]
)
def test_usage_errors_exit_2(runner: CliRunner, args: list[str]) -> None:
    assert runner.invoke(main, args).exit_code == 2


def test_feeds_yaml_in_the_working_directory_is_used(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "good.txt").write_bytes(record_file(GOOD))
    monkeypatch.chdir(tmp_path)
    Path("feeds.yaml").write_text("title: Local Title\nmax_items: 1\n", encoding="utf-8")
    result = runner.invoke(main, ["build", "seeds"])
    assert result.exit_code == 0, result.output
    assert json.loads(Path("dist/all/feed.json").read_text(encoding="utf-8"))["title"] == "Local Title"


def test_every_quirk_file_in_the_corpus_builds_without_a_traceback(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["build", str(DATA), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0
    assert result.exception is None
    assert "Traceback" not in result.output


def test_build_writes_a_json_report_and_uses_a_cache_beside_the_output(runner: CliRunner, tmp_path: Path) -> None:
    out, report = tmp_path / "site" / "out", tmp_path / "report.json"
    args = ["build", str(SEEDS), "-o", str(out), "--now", "2026-11-26T00:00:00Z", "-q", "--report", str(report)]
    assert runner.invoke(main, args).exit_code == 0
    first = json.loads(report.read_text(encoding="utf-8"))
    assert (tmp_path / "site" / ".feeds-cache").is_dir()
    assert runner.invoke(main, args).exit_code == 0
    second = json.loads(report.read_text(encoding="utf-8"))
    assert first["records"]["parsed"] == 44 and second["records"]["parsed"] == 0
    assert len(first["files"]["written"]) == 97 and second["files"] == {"written": [], "unchanged": 97, "removed": []}
    assert second["records"]["published"] == 34 and second["next_due"] == "2031-05-01T09:00:00Z"
    assert second["problems"] == [
        {
            "path": f"{SEEDS.as_posix()}/014_c8f354ce1759aa25.txt",
            "line": 10,
            "field": "published",
            "severity": "warning",
            "message": "must be true or false, found the string 'true'; the record is not published",
        }
    ]
    assert set(second["timings"]) == {"read", "select", "render", "write", "total"}


def test_a_second_build_of_the_same_output_exits_3(runner: CliRunner, tmp_path: Path) -> None:
    from feeds.writing import build_lock

    out = tmp_path / "out"
    with build_lock(out):
        result = runner.invoke(main, ["build", str(SEEDS), "-o", str(out)])
    assert result.exit_code == 3
    assert "another build is running" in result.stderr


def test_check_reports_every_problem_and_a_tally(runner: CliRunner) -> None:
    result = runner.invoke(main, ["check", str(DATA)])
    assert result.exit_code == 1
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "49 records checked: 14 valid, 22 rejected, 26 warnings"
    assert (
        f"{DATA.as_posix()}/duplicate_keys.txt:3: warning: title: appears more than once; the last value is used"
        in lines
    )
    assert any(
        line.startswith(f"{DATA.as_posix()}/yaml_syntax_error.txt:6: error: YAML syntax error") for line in lines
    )
    assert all(line.startswith(DATA.as_posix()) for line in lines[:-1])


def test_check_as_json(runner: CliRunner, tmp_path: Path) -> None:
    seeds = seeds_with_one_bad(tmp_path / "seeds")
    result = runner.invoke(main, ["check", str(seeds), "--format", "json"])
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert (document["records"], document["valid"], document["rejected"]) == (2, 1, 1)
    assert document["problems"][0]["line"] == 3
    assert runner.invoke(main, ["check", str(SEEDS / ".." / "tests" / "data" / "bom_utf8.txt")]).exit_code == 2


def test_check_passes_on_clean_records_and_writes_nothing(runner: CliRunner, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "good.txt").write_bytes(record_file(GOOD))
    result = runner.invoke(main, ["check", str(seeds)])
    assert result.exit_code == 0
    assert result.stdout == "1 records checked: 1 valid, 0 rejected, 0 warnings\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["good.txt", "seeds"]


def test_build_rejects_files_over_the_size_limit_unread(runner: CliRunner, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "good.txt").write_bytes(record_file(GOOD))
    (seeds / "big.txt").write_bytes(record_file(GOOD.replace("/good", "/big"), "x" * 2000))
    result = runner.invoke(main, ["build", str(seeds), "-o", str(tmp_path / "out"), "--max-bytes", "1000", "-q"])
    assert result.exit_code == 0
    assert "big.txt: error: file is" in result.stderr and "over the limit of 1000; not read" in result.stderr
