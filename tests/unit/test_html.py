"""The HTML report (and the Markdown one's escaping) over every recorded report in
tests/fixtures: self-contained, well formed, everything a person looks for present,
and hostile strings from a target (terminal escapes, <script>, newlines, bidi
overrides) shown as inert text in both formats."""

from __future__ import annotations

import functools
import html
from html.parser import HTMLParser

import pytest

from pooltui.analysis import analyze
from pooltui.analysis.frames import origin
from pooltui.model import Local, Snapshot, replace
from pooltui.report import render
from pooltui.report.text import group_processes, group_threads, tree_rows
from tests.conftest import FIXTURES, fixture_names, recorded_report

FIXTURE_NAMES = fixture_names()
needs_fixtures = pytest.mark.skipif(not FIXTURE_NAMES, reason=f"no recorded reports in {FIXTURES} yet (scripts/record_fixtures.py)")
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "wbr"}
HOSTILE = "\x1b[31m<script>alert({n})</script>\x1b[0m"


class Tags(HTMLParser):
    """Every start tag, attributes and the text; fails on unbalanced non-void tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.starts: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.starts.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> Tags:
    tags = Tags()
    tags.feed(page)
    tags.close()
    assert not tags.stack, f"unclosed: {tags.stack}"
    return tags


@functools.cache
def load(name: str) -> tuple[Snapshot, object]:
    """The recording analysed, once per session (three tests render each; a Snapshot is frozen)."""
    report = recorded_report(name)
    return analyze(report.snapshot), report.timeline


def assert_self_contained(page: str, tags: Tags) -> None:
    lowered = page.lower()
    assert lowered.startswith("<!doctype html>")
    assert "<script" not in lowered
    assert "http://" not in lowered and "https://" not in lowered
    assert "@import" not in lowered and "url(" not in lowered
    for tag, attrs in tags.starts:
        assert tag not in ("script", "link", "img", "iframe", "object", "embed"), tag
        assert "src" not in attrs and not any(a.startswith("on") for a in attrs), (tag, attrs)
        if tag == "a":
            assert attrs["href"].startswith("#"), attrs
    csp = [a["content"] for t, a in tags.starts if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0]


@needs_fixtures
@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_recorded_report_as_html(name):
    snapshot, timeline = load(name)
    page = render(snapshot, "html", timeline)
    tags = parse(page)
    assert_self_contained(page, tags)
    text = "".join(tags.text)
    ids = {a.get("id") for _, a in tags.starts}
    assert f"pooltui report — pid {snapshot.root_pid} on {snapshot.host}" in text
    assert snapshot.tools["pooltui"] in text
    for proc in snapshot.processes:
        assert f"pid-{proc.pid}" in ids  # a link to every pid, also one shown in a group of identical ones
    ordered = [p for _, p in tree_rows(snapshot.processes, snapshot.root_pid)]
    shown = [g[0] for g in group_processes(ordered, snapshot.diagnoses)]  # identical workers once, with their count
    for proc in shown:
        assert proc.role in text
        cursor = page.index(f'id="pid-{proc.pid}"')
        for thread in (g[0] for g in group_threads(proc.threads)):  # in order: fork ghosts (2.7) share tid 0
            assert thread.label in text
            if thread.wait is not None:
                assert thread.wait.summary in text
            # stacks innermost first: each function appears after the one before it
            start = page.index(f"tid {thread.tid}</span>", cursor)
            end = page.index("</details>", start)
            at = start
            for f in thread.frames:
                at = page.find(f">{html.escape(f.function)}</span>", at, end)
                assert at != -1, (thread.label, f.function)
                at += 1
            cursor = end
    user_items = [a for t, a in tags.starts if t == "li" and "user" in a.get("class", "").split()]
    user_frames = [f for p in shown for g in group_threads(p.threads) for f in g[0].frames if origin(f) == "user"]
    assert len(user_items) == len(user_frames)
    for frame in (f for p in snapshot.processes for t in p.threads for f in t.frames if f.code):
        assert frame.code in text
    for d in snapshot.diagnoses:
        assert d.summary in text and (not d.fix or d.fix in text)
    for lock in snapshot.locks:
        assert lock.name in text
    if not snapshot.diagnoses:
        assert "No problems found." in text


def hostile(snapshot: Snapshot) -> Snapshot:
    """A recorded report whose target-supplied strings are hostile: what a process can put
    in its argv, its thread names, its locals and its file names."""
    procs = list(snapshot.processes)
    first = next(i for i, p in enumerate(procs) if any(t.frames for t in p.threads))  # a uWSGI master's main thread has none
    proc = procs[first]
    at = next(i for i, t in enumerate(proc.threads) if t.frames)
    thread = proc.threads[at]
    frame = thread.frames[-1]
    frame = replace(
        frame,
        file=f"/srv/app/{HOSTILE.format(n=4)}.py",
        short_file=f"{HOSTILE.format(n=4)}.py",
        locals=(*(frame.locals or ()), Local(name="note", repr='"' + HOSTILE.format(n=3) + '"')),
        code="x = 1  # " + HOSTILE.format(n=5),
    )
    thread = replace(thread, name="evil\n# Injected heading\u202e" + HOSTILE.format(n=2), frames=(*thread.frames[:-1], frame))
    threads = (*proc.threads[:at], thread, *proc.threads[at + 1 :])
    procs[first] = replace(proc, cmdline=(*proc.cmdline, HOSTILE.format(n=1), "`", "[x](javascript:alert(6))"), threads=threads)
    return snapshot.with_(processes=tuple(procs), host="host<b>")


@needs_fixtures
@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_hostile_strings_are_inert_in_html(name):
    snapshot = hostile(load(name)[0])
    page = render(snapshot, "html")
    tags = parse(page)
    assert_self_contained(page, tags)
    assert "\x1b" not in page and "\u202e" not in page
    text = "".join(tags.text)
    for n in range(1, 6):
        assert f"\\x1b[31m<script>alert({n})</script>\\x1b[0m" in text, n  # shown, as text
    assert "evil\\n# Injected heading\\u202e" in text
    assert "pooltui report — pid" in text and "host<b>" in text  # parsed as text, so it was escaped


@needs_fixtures
@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_hostile_strings_are_inert_in_markdown(name):
    markdown_it = pytest.importorskip("markdown_it")
    snapshot = hostile(load(name)[0])
    md = render(snapshot, "md")
    assert "\x1b" not in md and "\u202e" not in md
    assert not any(line.startswith("# Injected") for line in md.splitlines())
    # rendered the way a Markdown viewer that allows raw HTML would
    rendered = markdown_it.MarkdownIt("commonmark").render(md)
    tags = parse(rendered)
    assert "<script" not in rendered.lower()
    assert not any(t == "a" for t, _ in tags.starts), "a captured string made a link"
    assert not any(t == "b" for t, _ in tags.starts), "a captured string made markup"
    text = "".join(tags.text)
    for n in range(1, 6):
        assert f"\\x1b[31m<script>alert({n})</script>" in text, n
    assert "evil\\n# Injected heading" in text


@pytest.mark.parametrize("name", fixture_names("contention-"))
def test_a_waiters_holder_is_said_once_per_line(name):
    """The wait summary already names the holder ("… held by 'MainThread' (pid N) in …"):
    the Markdown and HTML reports do not say it again after it (the TUI does not either)."""
    snapshot = analyze(recorded_report(name).snapshot)
    waits = [t.wait for p in snapshot.processes for t in p.threads if t.wait and t.wait.holder]
    assert waits and all(w.holder in w.summary for w in waits)
    md = render(snapshot, "md")
    lines = [line for line in md.splitlines() if line.startswith("**") and "held by" in line]
    assert lines and all(line.count("held by") == 1 for line in lines), lines
    page = html.unescape(render(snapshot, "html"))
    assert "— held by" not in page
