"""Faults an operator meets: a killed build, withdrawn stories, special files, silent losses, a full disk,
a damaged cache, hostile file names. Each case reproduces the fault and checks what the build does now."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from feeds.cli import main
from feeds.errors import OutputError, ShrinkError
from feeds.model import Site
from feeds.publish import build
from feeds.store import FILE

from .conftest import NOW, ROOT, record_file, tree

SITE = Site(title="Faults", base_url="https://feeds.example.org/")
ARCHIVED = replace(SITE, max_items=2, archives=True, archive_page_size=2)


def story(n: int, *, published: bool = True, day: int | None = None, title: str | None = None) -> bytes:
    fields = (
        f"title: {title or f'Story {n}'}\nsourceUrl: https://news.example.com/{n}\n"
        f"publishedDateTime: 2025-03-{(day or n) % 28 + 1:02d}T08:00:00Z\npublished: {str(published).lower()}\n"
        f"topics: [T{n % 3}]\n"
    )
    return record_file(fields)


def age(folder: Path) -> None:
    """Older than any build, as exported files are: not read again for being too new."""
    for path in folder.rglob("*"):
        os.utime(path, (1e9, 1e9), follow_symlinks=False)


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path, Path]:
    records, out, cache = tmp_path / "records", tmp_path / "out", tmp_path / "cache"
    records.mkdir()
    return records, out, cache


def clean_build(records: Path, site: Site, where: Path, manifest: Path | None = None) -> dict[str, bytes]:
    """What a build from scratch makes of the same records: no cache, an output folder empty but for
    ``manifest``, which holds the feeds' permanent URLs (an emptied feed stays, as an empty feed)."""
    shutil.rmtree(where, ignore_errors=True)
    if manifest is not None and manifest.exists():
        where.mkdir(parents=True)
        shutil.copy(manifest, where / "manifest.json")
    build(records, where, site, NOW, allow_shrink=True)
    return {str(path): data for path, data in tree(where).items()}


# ---- a killed build


SLOW_BUILD = """
import os, sys, time
from pathlib import Path
from datetime import datetime, UTC
import feeds.reading as reading
from feeds.model import Site
from feeds.publish import build
pids = Path(sys.argv[3])
def slow(jobs):
    with open(pids, "a") as stream:
        stream.write(f"{os.getpid()}\\n")
    time.sleep(60)  # a long parse, killed from outside
reading.parse_batch = slow
build(Path(sys.argv[1]), Path(sys.argv[2]), Site(base_url="https://feeds.example.org/"),
      datetime(2026, 11, 26, tzinfo=UTC), workers=2, cache_dir=Path(sys.argv[2]).parent / "cache")
"""


def test_a_killed_build_leaves_no_worker_behind_and_never_locks_out_the_next(folders: tuple[Path, Path, Path]) -> None:
    records, out, cache = folders
    for n in range(1_200):  # enough to parse in the worker processes
        (records / f"{n:04d}.txt").write_bytes(story(n))
    pids = records.parent / "pids"
    process = subprocess.Popen([sys.executable, "-c", SLOW_BUILD, str(records), str(out), str(pids)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(pids.read_text().split() if pids.exists() else []) < 2:
        time.sleep(0.05)
    workers = [int(pid) for pid in pids.read_text().split()]
    assert len(set(workers)) == 2, "both workers are parsing"
    process.send_signal(signal.SIGKILL)  # as the OOM killer would
    process.wait()
    for pid in workers:  # the workers end with the build
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"worker {pid} outlived the build")
    report = build(records, out, SITE, NOW, cache_dir=cache)  # not "another build is running"
    assert report.published == 1_200


# ---- withdrawn stories


def test_withdrawn_stories_leave_no_archive_page_behind(folders: tuple[Path, Path, Path]) -> None:
    records, out, cache = folders
    for n in range(7):
        (records / f"{n}.txt").write_bytes(story(n))
    age(records)
    build(records, out, ARCHIVED, NOW, cache_dir=cache)
    assert (out / "all" / "archive" / "3" / "feed.json").exists()
    for n in (1, 2):
        (records / f"{n}.txt").write_bytes(story(n, published=False))
    report = build(records, out, ARCHIVED, NOW, cache_dir=cache)
    assert "all/archive/3/feed.json" in report.removed
    assert not (out / "all" / "archive" / "3").exists()
    assert {str(p): d for p, d in tree(out).items()} == clean_build(records, ARCHIVED, records.parent / "clean")
    nocache = build(records, out, ARCHIVED, NOW)  # the manifest alone says which files are the build's
    assert nocache.removed == ()


def test_a_build_killed_before_its_removals_has_them_done_by_the_next(
    folders: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files it renamed are in place, the manifest no longer lists the stale ones: the state still does."""
    from feeds.writing import OutputTree

    records, out, cache = folders
    for n in range(12):
        (records / f"{n}.txt").write_bytes(story(n))
    age(records)
    build(records, out, ARCHIVED, NOW, cache_dir=cache)
    for n in range(6):
        (records / f"{n}.txt").unlink()

    def killed(self: OutputTree, paths: object) -> list[str]:
        raise SystemExit(9)  # as if killed right after the renames

    monkeypatch.setattr(OutputTree, "remove", killed)
    with pytest.raises(SystemExit):
        build(records, out, ARCHIVED, NOW, cache_dir=cache)
    monkeypatch.undo()
    assert (out / "all" / "archive" / "5" / "feed.json").exists()  # stale, and carries deleted records
    report = build(records, out, ARCHIVED, NOW, cache_dir=cache)
    assert "all/archive/5/feed.json" in report.removed
    assert {str(p): d for p, d in tree(out).items()} == clean_build(records, ARCHIVED, records.parent / "clean")
    assert build(records, out, ARCHIVED, NOW, cache_dir=cache).removed == ()


def test_after_any_edits_the_tree_is_a_clean_builds(folders: tuple[Path, Path, Path]) -> None:
    """Random adds, edits, withdrawals, deletions and back-dating, each built incrementally and from scratch."""
    records, out, cache = folders
    for seed in range(8):
        chooser = random.Random(seed)
        shutil.rmtree(records)
        records.mkdir()
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
        (records.parent / "manifest.json").unlink(missing_ok=True)
        alive: set[int] = set()
        for step in range(10):
            for _ in range(chooser.randint(1, 4)):
                n = chooser.randrange(20)
                kind = chooser.choice(["add", "add", "edit", "withdraw", "delete", "backdate"])
                path = records / f"{n:02d}.txt"
                if kind == "delete":
                    path.unlink(missing_ok=True)
                    alive.discard(n)
                    continue
                day = chooser.randrange(28) if kind == "backdate" else None
                title = f"Story {n} v{step}" if kind == "edit" else None
                path.write_bytes(story(n, published=kind != "withdraw", day=day, title=title))
                alive.add(n)
            size, items = seed % 3 + 1, seed % 2 + 1
            site = (
                replace(ARCHIVED, max_items=items, archive_page_size=size) if seed % 3 else replace(SITE, max_items=3)
            )
            build(records, out, site, NOW, cache_dir=cache, allow_shrink=True)
            made = {str(p): d for p, d in tree(out).items()}
            before = records.parent / "manifest.json"
            assert made == clean_build(records, site, records.parent / "clean", before), (seed, step)
            shutil.copy(out / "manifest.json", before)


def test_files_a_build_did_not_make_are_left_alone_with_a_warning(folders: tuple[Path, Path, Path]) -> None:
    records, out, cache = folders
    (records / "1.txt").write_bytes(story(1))
    build(records, out, SITE, NOW, cache_dir=cache)
    (out / "robots.txt").write_text("User-agent: *\n")  # beside the feeds: the operator's own
    (out / "topics" / "t1" / "notes.txt").write_text("mine")  # inside a feed's folder: worth a word
    (records / "2.txt").write_bytes(story(2))
    report = build(records, out, SITE, NOW, cache_dir=cache)
    assert [w for w in report.warnings if "notes.txt" in w] and not [w for w in report.warnings if "robots" in w]
    assert (out / "robots.txt").exists() and (out / "topics" / "t1" / "notes.txt").exists()


# ---- special files


def test_special_files_named_like_records_are_one_problem_each_not_a_hang(folders: tuple[Path, Path, Path]) -> None:
    records, out, _ = folders
    (records / "good.txt").write_bytes(story(1))
    os.mkfifo(records / "p.txt")
    (records / "z.txt").symlink_to("/dev/zero")
    (records / "dir.txt").mkdir()
    (records / "dir.txt" / "inner.txt").write_bytes(story(2))
    for command in ("build", "check"):
        args = [sys.executable, "-m", "feeds", command, str(records)]
        if command == "build":
            args += ["-o", str(out), "--now", "2026-11-26T00:00:00Z", "--no-cache"]
        done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False, cwd=records.parent)
        assert "Traceback" not in done.stderr
        lines = (done.stderr if command == "build" else done.stdout).splitlines()
        assert any("p.txt: error: not a regular file but a FIFO" in line for line in lines), lines
        assert any("z.txt: error: not a regular file but a character device" in line for line in lines), lines
    assert (out / "topics" / "t2" / "feed.json").exists()  # the good neighbours are published


def test_a_file_that_grows_past_the_limit_while_read_is_refused(folders: tuple[Path, Path, Path]) -> None:
    from feeds.records import read_raw

    records, _, _ = folders
    path = records / "big.txt"
    path.write_bytes(b"x" * 100)
    assert read_raw(str(path), 99) != b"x" * 100
    assert read_raw(str(path), 100) == b"x" * 100


# ---- silent losses


def _as_nobody() -> list[str]:
    """The command prefix that runs a program as an unprivileged user, or [] when that cannot be done here."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return []
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe = subprocess.run([*prefix, sys.executable, "-c", "import feeds"], capture_output=True, check=False, cwd=ROOT)
    return prefix if probe.returncode == 0 else []


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temporary folder another user can reach (pytest's own is private to its user)."""
    folder = Path(tempfile.mkdtemp(prefix="feeds-shared-"))
    folder.chmod(0o777)
    yield folder
    for path in folder.rglob("*"):
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(folder)


def test_an_unreadable_folder_is_reported_and_its_records_are_kept(shared_tmp: Path) -> None:
    prefix = _as_nobody()
    if not prefix:
        pytest.skip("needs root and setpriv to run a build as a user that cannot read a folder")
    tmp_path = shared_tmp
    records = tmp_path / "records"
    (records / "locked").mkdir(parents=True)
    (records / "open.txt").write_bytes(story(1))
    (records / "locked" / "inner.txt").write_bytes(story(2))
    for path in (records, records / "locked", records / "open.txt", records / "locked" / "inner.txt"):
        path.chmod(0o777 if path.is_dir() else 0o666)
    args = [*prefix, sys.executable, "-m", "feeds", "build", str(records), "-o", str(tmp_path / "out")]
    args += ["--now", "2026-11-26T00:00:00Z", "--cache-dir", str(tmp_path / "cache")]
    first = subprocess.run(args, capture_output=True, text=True, check=False, cwd=ROOT)
    assert first.returncode == 0, first.stderr
    (records / "locked").chmod(0)
    second = subprocess.run(args, capture_output=True, text=True, check=False, cwd=ROOT)
    assert second.returncode == 0, second.stderr
    assert "locked: error: cannot list this folder (Permission denied)" in second.stderr
    assert "kept as the last build read them" in second.stderr
    assert "news.example.com/2" in (tmp_path / "out" / "all" / "feed.json").read_text()  # not lost
    check = subprocess.run([*prefix, sys.executable, "-m", "feeds", "check", str(records)], capture_output=True, text=True, check=False, cwd=ROOT)  # fmt: skip
    assert check.returncode == 1 and "cannot list this folder" in check.stdout
    (records / "locked").chmod(0o777)


def test_an_empty_records_folder_publishes_nothing_until_told_to(folders: tuple[Path, Path, Path]) -> None:
    records, out, cache = folders
    for n in range(30):
        (records / f"{n}.txt").write_bytes(story(n))
    build(records, out, SITE, NOW, cache_dir=cache)
    before = tree(out)
    moved = records.parent / "elsewhere"
    records.rename(moved)
    records.mkdir()  # an unmounted share: the mount point is there, empty
    runner = CliRunner()
    args = ["build", str(records), "-o", str(out), "--cache-dir", str(cache), "--now", "2026-11-26T00:00:00Z", "-q"]
    result = runner.invoke(main, args)
    assert result.exit_code == 1
    assert "would publish 0 entries, 30 fewer than the 30 of the last build" in result.output
    assert "--allow-shrink" in result.output and "Traceback" not in result.output
    assert tree(out) == before  # nothing written
    for cached in (True, False):  # with or without the cache, the manifest remembers
        with pytest.raises(ShrinkError):
            build(records, out, SITE, NOW, cache_dir=cache if cached else None)
    assert runner.invoke(main, [*args, "--allow-shrink"]).exit_code == 0
    assert '"items":[]' in (out / "all" / "feed.json").read_text()


def test_a_few_withdrawals_or_a_looser_setting_pass_the_guard(folders: tuple[Path, Path, Path]) -> None:
    records, out, cache = folders
    for n in range(30):
        (records / f"{n}.txt").write_bytes(story(n))
    build(records, out, SITE, NOW, cache_dir=cache)
    for n in range(12):  # 12 of 30: under half
        (records / f"{n}.txt").unlink()
    assert build(records, out, SITE, NOW, cache_dir=cache).published == 18
    for n in range(12, 27):  # 15 of 18: over half, allowed by the setting
        (records / f"{n}.txt").unlink()
    assert build(records, out, replace(SITE, max_shrink=0.9), NOW, cache_dir=cache).published == 3
    for n in range(27, 30):  # everything, but only three: under the floor of ten
        (records / f"{n}.txt").unlink()
    assert build(records, out, SITE, NOW, cache_dir=cache).published == 0


# ---- a full disk


def test_a_full_disk_changes_nothing_and_the_next_build_completes(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(disk)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        records, out, cache = tmp_path / "records", disk / "out", disk / "cache"
        records.mkdir()
        (records / "0.txt").write_bytes(story(0))
        build(records, out, SITE, NOW, cache_dir=cache)
        before = tree(out)
        for n in range(1, 400):  # far more than the disk holds
            (records / f"{n}.txt").write_bytes(story(n, title=f"Story {n} " + "x" * 300))
        with pytest.raises(OutputError, match="No space left on device"):
            build(records, out, replace(SITE, max_items=400), NOW, cache_dir=cache)
        assert tree(out) == before  # every file as it was
        assert not [p for p in disk.rglob("*") if p.name.endswith(".tmp")]
        subprocess.run(["mount", "-o", "remount,size=50m", str(disk)], check=True)
        report = build(records, out, replace(SITE, max_items=400), NOW, cache_dir=cache)
        assert report.published == 400
        assert {str(p): d for p, d in tree(out).items()} == clean_build(
            records, replace(SITE, max_items=400), tmp_path / "clean"
        )
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_a_write_that_fails_part_way_removes_what_it_staged(
    folders: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import feeds.writing as writing

    records, out, cache = folders
    (records / "0.txt").write_bytes(story(0))
    build(records, out, SITE, NOW, cache_dir=cache)
    before = tree(out)
    (records / "1.txt").write_bytes(story(1))
    real = writing.write_file
    count = [0]

    def fills_up(target: Path, data: bytes) -> None:
        count[0] += 1
        if count[0] == 5:
            raise OutputError(f"{target}: cannot be written: {os.strerror(errno.ENOSPC)}")
        real(target, data)

    monkeypatch.setattr(writing, "write_file", fills_up)
    with pytest.raises(OutputError):
        build(records, out, SITE, NOW, cache_dir=cache)
    monkeypatch.undo()
    assert tree(out) == before and not list(out.rglob(".*.tmp"))
    assert build(records, out, SITE, NOW, cache_dir=cache).published == 2


# ---- a damaged cache


def test_a_cache_that_cannot_be_written_costs_time_and_one_warning_never_pings(
    folders: tuple[Path, Path, Path],
) -> None:
    records, out, cache = folders
    (records / "0.txt").write_bytes(story(0))
    cache.mkdir()
    (cache / FILE).mkdir()  # a cache file replaced by a folder
    first = build(records, out, SITE, NOW, cache_dir=cache)
    again = build(records, out, SITE, NOW, cache_dir=cache)
    for report in (first, again):
        assert len([w for w in report.warnings if "cache" in w]) >= 1
    assert again.parsed == 1 and again.written == () and again.urls_changed == ()  # bytes unchanged: no ping
    blocked = records.parent / "file"
    blocked.write_text("not a folder")
    report = build(records, out, SITE, NOW, cache_dir=blocked)
    assert report.written == () and any("cannot be written" in w for w in report.warnings)


def test_a_record_changed_inside_the_cache_is_parsed_again_not_published(folders: tuple[Path, Path, Path]) -> None:
    records, out, cache = folders
    for n in range(3):
        (records / f"{n}.txt").write_bytes(story(n))
    age(records)
    build(records, out, SITE, NOW, cache_dir=cache)
    with sqlite3.connect(cache / FILE) as db:
        rows = db.execute("SELECT file, data FROM records").fetchall()
        assert rows
        for file, data in rows:  # one byte of each kept record changed, as a failing disk would
            db.execute("UPDATE records SET data = ? WHERE file = ?", (data.replace(b"Story", b"Stony"), file))
    report = build(records, out, replace(SITE, title="Renamed"), NOW, cache_dir=cache)  # renders from the cache
    assert report.parsed == 0
    text = (out / "all" / "rss.xml").read_text()
    assert "Stony" not in text and "Story 1" in text


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE groups SET visible = visible + 1 WHERE kind = 0",
        "UPDATE names SET count = count + 5 WHERE name = 'T1'",
        "UPDATE names SET name = 'T9' WHERE name = 'T1'",
        "UPDATE listings SET url = 'https://evil.example/' WHERE file = 1",
        "UPDATE listings SET time = time + 1 WHERE file = 2",
        "UPDATE members SET time = time - 1 WHERE file = 3",
        "UPDATE meta SET value = replace(value, '40', '4') WHERE key = 'counts'",
        "DELETE FROM members WHERE file = 4",
    ],
)
def test_a_damaged_row_is_caught_and_the_cache_made_again(folders: tuple[Path, Path, Path], damage: str) -> None:
    records, out, cache = folders
    for n in range(40):
        (records / f"{n}.txt").write_bytes(story(n))
    age(records)
    site = replace(ARCHIVED, max_items=5)
    build(records, out, site, NOW, cache_dir=cache)
    with sqlite3.connect(cache / FILE) as db:
        assert db.execute(damage).rowcount > 0
    renamed = replace(site, title="Renamed")
    report = build(records, out, renamed, NOW, cache_dir=cache)
    assert {str(p): d for p, d in tree(out).items()} == clean_build(records, renamed, records.parent / "clean")
    assert any("made again" in warning for warning in report.warnings), report.warnings


def test_random_damage_to_the_cache_never_reaches_a_feed(folders: tuple[Path, Path, Path]) -> None:
    records, out, cache = folders
    for n in range(40):
        (records / f"{n}.txt").write_bytes(story(n))
    age(records)
    site = replace(ARCHIVED, max_items=5)
    build(records, out, site, NOW, cache_dir=cache)
    expected = clean_build(records, site, records.parent / "clean")
    pristine = (cache / FILE).read_bytes()
    chooser = random.Random(7)
    for attempt in range(40):
        damaged = bytearray(pristine)
        for _ in range(chooser.randint(1, 3)):
            at = chooser.randrange(100, len(damaged))  # past the header, into the pages
            damaged[at] ^= 1 << chooser.randrange(8)
        (cache / FILE).write_bytes(bytes(damaged))
        for name in (FILE + "-wal", FILE + "-shm"):
            (cache / name).unlink(missing_ok=True)
        renamed = replace(site, title=f"Faults {attempt}")  # every document made again, from the cache
        build(records, out, renamed, NOW, cache_dir=cache)
        assert {str(p): d for p, d in tree(out).items()} == clean_build(records, renamed, records.parent / "clean"), (
            attempt
        )
        build(records, out, site, NOW, cache_dir=cache)
        assert {str(p): d for p, d in tree(out).items()} == expected, attempt


# ---- hostile file names


def test_a_file_name_with_a_line_break_is_one_escaped_problem_line(folders: tuple[Path, Path, Path]) -> None:
    records, out, _ = folders
    (records / "forged.txt:9: error: forged\nfake.txt").write_bytes(b"---\ntitle: [unclosed\n---\n")
    result = CliRunner().invoke(main, ["check", str(records)])
    lines = result.output.splitlines()
    problem = [line for line in lines if "fake.txt" in line]
    assert len(problem) == 1 and "forged.txt:9: error: forged\\nfake.txt:" in problem[0]
    assert len(lines) == 2  # the problem and the tally: nothing forged
    result = CliRunner().invoke(main, ["build", str(records), "-o", str(out), "--no-cache"])
    assert len([line for line in result.output.splitlines() if "fake.txt" in line]) == 1
