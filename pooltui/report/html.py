"""Self-contained HTML report: one file to attach to a postmortem or open on a laptop.

Header (root pid, host, time, tool versions), diagnoses with evidence and fixes, the
wait-for graph (an inline SVG drawn by ``report.waitgraph``), the process tree with roles and state badges, locks, events, then every process with its
threads, wait lines and stacks (innermost frame first, the user's own frames
emphasised, the source line shown).

The page loads nothing: inline CSS and SVG, no script, no font, no image, and a
Content-Security-Policy that forbids all of them, so even a string that slipped past
escaping could not run or call out. Stacks fold with ``<details>``, which needs no
script. Every captured string goes through ``text.one_line``/``clean`` (terminal
escapes, control and bidi characters shown as ``\\xNN``) and then ``html.escape``.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable
from typing import Optional

from pooltui.analysis.frames import origin
from pooltui.analysis.locks import holder_text
from pooltui.analysis.waits import process_state
from pooltui.model import Diagnosis, Event, Frame, Lock, Process, Severity, Snapshot, Thread, Timeline, WaitKind
from pooltui.report.text import clean, cmdline, group_processes, group_threads, human_bytes, one_line, percent, pid_list, tree_rows
from pooltui.report.waitgraph import CSS as GRAPH_CSS
from pooltui.report.waitgraph import render_svg

CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

CSS = """
:root { --fg:#1d2026; --muted:#667085; --bg:#fff; --panel:#f6f7f9; --line:#e3e6ea; --accent:#2459c9;
  --err:#c62828; --warn:#b26a00; --info:#2f6fb3; --ok:#2e7d32; --user:#fff7d6; --mono:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; }
@media (prefers-color-scheme: dark) { :root { --fg:#e6e8eb; --muted:#9aa3ae; --bg:#15171a; --panel:#1e2126; --line:#30353c;
  --accent:#7aa7ff; --err:#ff6b6b; --warn:#f0b040; --info:#6fb0ff; --ok:#6fcf73; --user:#3a3420; } }
* { box-sizing: border-box; }
body { margin:0 auto; max-width:1200px; padding:1.5rem; color:var(--fg); background:var(--bg);
  font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif; }
h1 { font-size:1.5rem; margin:0 0 .5rem; } h2 { font-size:1.2rem; margin:2rem 0 .6rem; border-bottom:1px solid var(--line); padding-bottom:.2rem; }
h3 { font-size:1.05rem; margin:1.4rem 0 .4rem; }
a { color:var(--accent); } code, pre, .mono { font-family:var(--mono); font-size:.9em; }
pre { white-space:pre-wrap; word-break:break-all; background:var(--panel); padding:.5rem; border-radius:4px; }
dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:.1rem 1rem; margin:.4rem 0; }
dl.facts dt { color:var(--muted); } dl.facts dd { margin:0; }
nav a { margin-right:1rem; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; vertical-align:top; padding:.2rem .5rem; border-bottom:1px solid var(--line); }
th { color:var(--muted); font-weight:600; } td.num { text-align:right; white-space:nowrap; }
td.tree { white-space:pre; font-family:var(--mono); } .cmd { color:var(--muted); word-break:break-all; }
.badge { display:inline-block; padding:0 .45rem; border-radius:999px; font-size:.8em; font-weight:600;
  border:1px solid currentColor; white-space:nowrap; }
.sev-error, .st-blocked, .st-error, .st-zombie, .st-gone { color:var(--err); }
.sev-warning, .st-waiting { color:var(--warn); } .sev-info { color:var(--info); }
.st-running { color:var(--ok); } .st-idle, .st-sleeping, .st-not-python { color:var(--muted); }
.diag { border-left:4px solid currentColor; padding:.3rem .8rem; margin:.6rem 0; background:var(--panel); }
.diag > * { color:var(--fg); } .diag .head { margin:0; } .diag ul { margin:.3rem 0; } .fix { margin:.3rem 0; }
.proc { border-top:1px solid var(--line); } .error { background:var(--panel); border-left:4px solid var(--err); padding:.3rem .8rem; }
details.thread { margin:.5rem 0; border:1px solid var(--line); border-radius:4px; }
details.thread > summary { cursor:pointer; padding:.3rem .6rem; background:var(--panel); }
.wait { display:block; margin-left:1.2rem; color:var(--muted); } .wait.lock { color:var(--err); } .wait.running { color:var(--ok); }
.holder { color:var(--warn); font-weight:600; }
ol.stack { margin:.3rem 0 .5rem; padding-left:2.4rem; font-family:var(--mono); font-size:.88em; }
ol.stack li { padding:.05rem .3rem; } ol.stack li.user { background:var(--user); font-weight:600; }
ol.stack li.stdlib, ol.stack li.library, ol.stack li.native { color:var(--muted); } ol.stack li.native { font-style:italic; }
ol.stack li.waiting { outline:1px solid var(--err); }
.where { color:var(--muted); font-weight:normal; } .src { display:block; margin-left:1.5rem; font-weight:normal; white-space:pre-wrap; }
table.locals { width:auto; margin:.1rem 0 .2rem 1.5rem; font-weight:normal; } table.locals td { border:0; padding:0 .4rem; }
.tag { font-size:.8em; color:var(--muted); border:1px solid var(--line); border-radius:3px; padding:0 .3rem; }
.muted { color:var(--muted); }
@media print { details.thread > summary { background:none; } a { color:inherit; text-decoration:none; } }
"""


def e(text: object, limit: int = 0) -> str:
    """A captured (or any) string for HTML text or an attribute: one line, neutralised, escaped."""
    return html.escape(one_line("" if text is None else str(text), limit), quote=True)


def e_block(text: Optional[str]) -> str:
    """Multi-line text for a <pre>: control characters neutralised, newlines kept."""
    return html.escape(clean(text), quote=True)


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(ts))


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _badge(text: str, css: str) -> str:
    return f'<span class="badge {css}">{e(text)}</span>'


def _state_badge(proc: Process) -> str:
    state = process_state(proc)
    return _badge(state, "st-" + state.replace(" ", "-"))


def _pid_link(pid: int, known: set[int]) -> str:
    return f'<a href="#pid-{pid}">{pid}</a>' if pid in known else str(pid)


def _worst(diagnoses: Iterable[Diagnosis]) -> dict[int, Severity]:
    worst: dict[int, Severity] = {}
    for d in diagnoses:
        for pid in d.pids:
            if pid not in worst or d.severity.rank > worst[pid].rank:
                worst[pid] = d.severity
    return worst


def _header(snapshot: Snapshot, timeline: Optional[Timeline]) -> list[str]:
    threads = snapshot.python_threads
    facts = [
        ("Taken", f'<time datetime="{_iso(snapshot.created)}">{e(_when(snapshot.created))}</time>'),
        ("Root process", f'<a href="#pid-{snapshot.root_pid}">pid {snapshot.root_pid}</a>'),
        ("Host", e(snapshot.host)),
        ("Processes", f"{len(snapshot.processes)} ({threads} Python threads)"),
    ]
    if snapshot.cpu_count:
        facts.append(("CPUs", str(snapshot.cpu_count)))
    facts += [(e(tool), e(version)) for tool, version in sorted(snapshot.tools.items())]
    options = [name for name, on in sorted(snapshot.options.items()) if on and name != "redact"]
    if snapshot.options.get("locals"):
        options.append("secrets redacted" if snapshot.options.get("redact", True) else "NOT redacted")
    facts.append(("Capture", e(", ".join(options) or "stacks only")))
    if timeline and timeline.snapshots:
        facts.append(("Timeline", f"{len(timeline.snapshots)} samples"))
    rows = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    return [
        "<header>",
        f"<h1>pooltui report — pid {snapshot.root_pid} on {e(snapshot.host)}</h1>",
        f'<dl class="facts">{rows}</dl>',
        '<nav><a href="#diagnoses">Diagnoses</a><a href="#waits">Wait-for graph</a><a href="#tree">Process tree</a><a href="#locks">Locks</a>'
        '<a href="#events">Events</a><a href="#processes">Threads and stacks</a></nav>',
        "</header>",
    ]


def _diagnoses(snapshot: Snapshot, known: set[int]) -> list[str]:
    out = ['<section id="diagnoses"><h2>Diagnoses</h2>']
    if not snapshot.diagnoses:
        out.append("<p>No problems found.</p>")
    for d in sorted(snapshot.diagnoses, key=lambda d: -d.severity.rank):
        sev = d.severity.value
        out.append(f'<article class="diag sev-{sev}">')
        out.append(f'<p class="head">{_badge(sev, "sev-" + sev)} <code>{e(d.kind)}</code> <i>({e(d.certainty.value)})</i> <b>{e(d.summary)}</b></p>')
        if d.evidence:
            out.append("<ul>" + "".join(f"<li>{e(item)}</li>" for item in d.evidence) + "</ul>")
        if d.fix:
            out.append(f'<p class="fix"><b>Fix:</b> {e(d.fix)}</p>')
        if d.pids:
            out.append('<p class="muted">Processes: ' + ", ".join(_pid_link(p, known) for p in d.pids) + "</p>")
        out.append("</article>")
    if snapshot.notes:
        out.append('<p class="muted">Notes:</p><ul>' + "".join(f"<li>{e(n)}</li>" for n in snapshot.notes) + "</ul>")
    out.append("</section>")
    return out


def _graph(snapshot: Snapshot) -> list[str]:
    out = ['<section id="waits"><h2>Wait-for graph</h2>']
    svg = render_svg(snapshot, e)
    if not svg:
        out.append('<p class="muted">No thread waits on another thread that pooltui could follow.</p></section>')
        return out
    out.append(
        '<p class="muted">An arrow goes from a waiting thread to the thread(s) that could end its wait (any one of them), '
        "labelled by how; red: a deadlock's cycle; dashed: a guess. Hover an arrow for its evidence, click a thread for its stack.</p>"
    )
    out += svg
    out.append("</section>")
    return out


def _tree(snapshot: Snapshot) -> list[str]:
    worst = _worst(snapshot.diagnoses)
    out = [
        '<section id="tree"><h2>Process tree</h2><table><thead><tr><th>Process</th><th>Role</th><th>State</th>'
        "<th>Python</th><th>CPU</th><th>RSS</th><th>Threads</th><th>Command line</th></tr></thead><tbody>"
    ]
    for prefix, proc in tree_rows(snapshot.processes, snapshot.root_pid):
        assert isinstance(proc, Process)
        flag = f" {_badge(worst[proc.pid].value, 'sev-' + worst[proc.pid].value)}" if proc.pid in worst else ""
        out.append(
            f'<tr><td class="tree">{e(prefix)}<a href="#pid-{proc.pid}">{proc.pid}</a></td>'
            f"<td>{e(proc.role_label)}{flag}</td><td>{_state_badge(proc)}</td><td>{e(proc.python or '-')}</td>"
            f'<td class="num">{e(percent(proc.cpu_percent))}</td><td class="num">{e(human_bytes(proc.rss))}</td>'
            f'<td class="num">{len(proc.threads)}</td><td class="cmd">{e(cmdline(proc.cmdline, 160) or proc.name)}</td></tr>'
        )
    out.append("</tbody></table></section>")
    return out


def _holder_cell(lock: Lock, known: set[int]) -> str:
    text = e(holder_text(lock))
    if lock.holder is not None and lock.holder.alive:
        text = f'<span class="holder">{text}</span> (pid {_pid_link(lock.holder.pid, known)})'
    if lock.orphaned:
        text += " " + _badge("orphaned", "sev-error")
    return text


def _locks(snapshot: Snapshot, known: set[int]) -> list[str]:
    out = ['<section id="locks"><h2>Locks</h2>']
    if not snapshot.locks:
        out.append('<p class="muted">No lock objects were read (none waited on, or the capture did not look).</p></section>')
        return out
    out.append("<table><thead><tr><th>Lock</th><th>Kind</th><th>Read in</th><th>Holder</th><th>Waiters</th><th>Note</th></tr></thead><tbody>")
    for lock in snapshot.locks:
        waiters = ", ".join(f"pid {_pid_link(p, known)} tid {t}" for p, t in lock.waiters) or "none"
        where = f'<br><span class="muted">{e(lock.where)}</span>' if lock.where else ""
        out.append(
            f"<tr><td><code>{e(lock.name)}</code>{where}</td><td>{e(lock.kind)}</td>"
            f'<td>pid {_pid_link(lock.pid, known)} <span class="muted mono">0x{lock.addr:x}</span></td>'
            f"<td>{_holder_cell(lock, known)}</td><td>{waiters}</td><td>{e(lock.note)}</td></tr>"
        )
    out.append("</tbody></table></section>")
    return out


def _events(events: list[Event], known: set[int]) -> list[str]:
    out = ['<section id="events"><h2>Events</h2>']
    if not events:
        out.append('<p class="muted">No events (one sample, or nothing changed between samples).</p></section>')
        return out
    out.append("<table><thead><tr><th>Time</th><th>Process</th><th>Event</th><th>Detail</th></tr></thead><tbody>")
    for ev in sorted(events, key=lambda ev: ev.time):
        out.append(
            f'<tr><td><time datetime="{_iso(ev.time)}">{e(_when(ev.time))}</time></td><td>pid {_pid_link(ev.pid, known)}</td>'
            f"<td>{e(ev.kind)}</td><td>{e(ev.detail)}</td></tr>"
        )
    out.append("</tbody></table></section>")
    return out


def _frame(frame: Frame, index: int, thread: Thread) -> str:
    kind = origin(frame)
    waiting = thread.wait is not None and thread.wait.frame_index == index
    css = kind + (" waiting" if waiting else "")
    parts = [f'<li class="{css}"><span class="fn">{e(frame.function)}</span> <span class="where" title="{e(frame.file)}">{e(frame.where)}</span>']
    if frame.code:
        parts.append(f'<code class="src">{e(frame.code)}</code>')
    elif frame.code_note:
        parts.append(f'<span class="src where">{e(frame.code_note)}</span>')
    if frame.locals:
        rows = "".join(f"<tr><td>{e(loc.name)}</td><td>= {e(loc.repr)}</td></tr>" for loc in frame.locals)
        parts.append(f'<table class="locals">{rows}</table>')
    parts.append("</li>")
    return "".join(parts)


def _thread(thread: Thread, same: tuple[Thread, ...] = ()) -> list[str]:
    """``same``: other threads with this stack and wait, said as a count."""
    tags = [t for t, on in (("on CPU", thread.active), ("holds GIL", thread.owns_gil), ("fork ghost", thread.ghost)) if on]
    if same:
        tags.append(f"×{len(same) + 1}")
    tag_html = "".join(f' <span class="tag">{t}</span>' for t in tags)
    if same:
        tag_html += f' <span class="muted">also {e(", ".join(t.label for t in same[:8]) + (", …" if len(same) > 8 else ""))}</span>'
    summary = f'<b>{e(thread.label)}</b> <span class="muted">{e(thread.role)}, tid {thread.tid}</span>{tag_html}'
    wait = thread.wait
    if wait is not None:
        css = "lock" if wait.kind.is_lock else ("running" if wait.kind is WaitKind.RUNNING else "")
        holder = f' — held by <span class="holder">{e(wait.unsaid_holder)}</span>' if wait.unsaid_holder else ""
        summary += f'<span class="wait {css}">{e(wait.summary)}{holder}</span>'
    out = [f'<details class="thread" open><summary>{summary}</summary>']
    if thread.frames:
        out.append('<ol class="stack">' + "".join(_frame(f, i, thread) for i, f in enumerate(thread.frames)) + "</ol>")
    else:
        out.append('<p class="muted">no Python frames</p>')
    out.append("</details>")
    return out


def _processes(snapshot: Snapshot) -> list[str]:
    out = [
        '<section id="processes"><h2>Threads and stacks</h2>',
        '<p class="muted">Innermost frame first; the program\'s own frames are highlighted.</p>',
    ]
    ordered = [p for _, p in tree_rows(snapshot.processes, snapshot.root_pid)]
    for group in group_processes(ordered, snapshot.diagnoses):  # identical workers once, with their count
        proc = group[0]
        assert isinstance(proc, Process)
        if len(group) > 1:
            title = f'{len(group)} × {e(proc.role)} {_state_badge(proc)} <span class="muted">the same stacks — pids {e(pid_list(group))}</span>'
        else:
            title = f"pid {proc.pid} — {e(proc.role_label)} {_state_badge(proc)}"
        out.append(f'<section class="proc" id="pid-{proc.pid}"><h3>{title}</h3>' + "".join(f'<span id="pid-{p.pid}"></span>' for p in group[1:]))
        out.append(f'<p class="cmd"><code>{e(cmdline(proc.cmdline, 400) or proc.name)}</code></p>')
        if proc.error is not None:
            detail = f"<pre>{e_block(proc.error.detail)}</pre>" if proc.error.detail else ""
            out.append(f'<div class="error"><p><b>Could not read:</b> {e(proc.error.message)}</p><p>{e(proc.error.help)}</p>{detail}</div>')
        for threads in group_threads(proc.threads):
            out += _thread(threads[0], threads[1:])
        out.append("</section>")
    out.append("</section>")
    return out


def render_html(snapshot: Snapshot, timeline: Optional[Timeline] = None) -> str:
    known = {p.pid for p in snapshot.processes}
    events = list(dict.fromkeys([*snapshot.events, *(timeline.events if timeline else ())]))
    body = [
        *_header(snapshot, timeline),
        "<main>",
        *_diagnoses(snapshot, known),
        *_graph(snapshot),
        *_tree(snapshot),
        *_locks(snapshot, known),
        *_events(events, known),
        *_processes(snapshot),
        "</main>",
    ]
    tools = e(snapshot.tools.get("pooltui", ""))
    head = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="pooltui {tools}">',
        f"<title>pooltui report — pid {snapshot.root_pid} on {e(snapshot.host)}</title>",
        f"<style>{CSS}{GRAPH_CSS}</style>",
        "</head><body>",
    ]
    return "\n".join([*head, *body, "</body></html>"]) + "\n"
