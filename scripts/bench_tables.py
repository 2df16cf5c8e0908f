#!/usr/bin/env python3
"""docs/speed.md's tables, rendered from the bench's own output (bench/latest.json).

``make bench`` writes the JSON and then runs this (``make bench-docs`` alone re-renders):
each generated block of docs/speed.md sits between ``<!-- bench:NAME -->`` and
``<!-- /bench:NAME -->`` and is replaced whole; the prose around the blocks is kept. So a
table in the docs is always what a bench run measured, never a hand-copied number.

  python scripts/bench_tables.py            # rewrite docs/speed.md's blocks from bench/latest.json
  python scripts/bench_tables.py --check    # exit 1 when docs/speed.md differs from what the JSON renders
  python scripts/bench_tables.py --print    # every table on stdout (what scripts/bench.py prints)

Standard library only: it runs without pooltui installed and imports nothing that measures.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def header(r: dict[str, Any]) -> str:
    m = r["machine"]
    return (
        f"`{r['command']}`, {r['date']}: {m['cpus']} CPUs, targets and bench on {m['python']}, py-spy {m['py-spy']},"
        f" {m['default_concurrency']} dumps in flight by default."
    )


def load_range(t: dict[str, Any]) -> str:
    """A row's 1-minute load average before and after its series ("9-7"), "-" when not kept."""
    return "-".join(f"{x:.0f}" for x in t.get("load", ())) or "-"


def command_tables(r: dict[str, Any], section: str = "commands") -> str:
    """The whole commands as a user times them (section ``commands``, or ``loaded``: with a
    busy loop on every CPU) and one process (``one``, with ``commands`` only)."""
    cpus = r["machine"]["cpus"]
    lines = [
        "| workload | procs | py-spy loop | `pooltui snapshot` | snapshot / loop (min-max) | floor | in-process capture | in-process / loop"
        " | CPU: snapshot / in-process (its own) / loop | py-spy runs | py-spy CPU per process: loop / --subprocesses | load |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for t in r.get(section, []):
        own = f" / {t['in_process_cpu']:.2f} s ({t['in_process_own_cpu']:.2f} s)" if "in_process_cpu" in t else ""
        load = load_range(t)
        lines.append(
            f"| {t['workers']} {t['mode']} | {t['processes']} | {ms(t['loop'])} | {ms(t['pooltui'])} | **{t['ratio']:.2f}×**"
            f" ({t['ratio_min']:.2f}-{t['ratio_max']:.2f}) | {t['loop_cpu'] / cpus / t['loop']:.2f}× | {ms(t['in_process'])}"
            f" | {t['in_process_ratio']:.2f}× | {t['pooltui_cpu']:.2f} s{own} / {t['loop_cpu']:.2f} s | {t['pyspy_runs']:.0f}"
            f" | {t['loop_cpu'] / t['processes'] * 1000:.1f} / {t['subprocesses_cpu'] / t['processes'] * 1000:.1f} ms | {load} |"
        )
    if r.get(section):
        lines += ["", f"{r[section][0]['rounds']} rounds per row."]
    one = r.get("one") if section == "commands" else None
    if one:
        lines += [
            "",
            f"One process: `pooltui snapshot PID -o r.json` {ms(one['snapshot'])} (one `py-spy dump` {ms(one['pyspy_dump'])}),"
            f" `pooltui --version` {ms(one['version'])} (medians of {one['rounds']}).",
        ]
    return "\n".join(lines)


def loaded_table(r: dict[str, Any]) -> str:
    return command_tables(r, "loaded")


def growth_table(r: dict[str, Any]) -> str:
    """The command's cost per process as the tree grows (section ``growth``: idle pools)."""
    lines = [
        "| idle pool | procs | py-spy loop | per process | `pooltui snapshot` | per process | snapshot / loop"
        " | CPU per process: snapshot / loop | load |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for t in r.get("growth", []):
        n, load = t["processes"], load_range(t)
        lines.append(
            f"| Pool({t['workers']}) | {n} | {ms(t['loop'])} | {t['loop'] / n * 1000:.1f} ms | {ms(t['pooltui'])} | {t['pooltui'] / n * 1000:.1f} ms"
            f" | **{t['ratio']:.2f}×** | {t['pooltui_cpu'] / n * 1000:.1f} / {t['loop_cpu'] / n * 1000:.1f} ms | {load} |"
        )
    rounds = sorted({t["rounds"] for t in r.get("growth", [])})
    lines += ["", f"{' or '.join(map(str, rounds))} rounds per row (the fewer for 1,000 processes)."]
    return "\n".join(lines)


def trees_table(r: dict[str, Any]) -> str:
    """In-process capture and refresh of demo pools of every size and mode (section ``trees``)."""
    lines = [
        "| pool | procs | py-spy loop | py-spy --subprocesses | pooltui full | full / loop | its py-spy CPU / CPUs / loop"
        " | full / --subproc | refresh (best of first 5) | steady refresh | steady / loop | re-dumped | py-spy runs |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    cpus = r["machine"]["cpus"]
    for t in r["trees"]:
        floor = f"{t['pyspy_cpu'] / cpus / t['serial']:.2f}×" if "pyspy_cpu" in t else "-"
        lines.append(
            f"| {t['workers']} {t['mode']} | {t['processes']} | {ms(t['serial'])} | {ms(t['subprocesses'])} | {ms(t['full'])}"
            f" | {t['full'] / t['serial']:.2f}× | {floor} | {t['full'] / t['subprocesses']:.2f}× | {ms(t['refresh'])} | {ms(t['steady'])}"
            f" | {t['steady'] / t['serial']:.3f}× | {t['steady_dumped']:.0f} | {t['steady_pyspy_runs']:.0f} |"
        )
    return "\n".join(lines)


def sweep_table(r: dict[str, Any]) -> str:
    """A full capture of Pool(64) by the number of dumps in flight (section ``sweep``)."""
    s = r["sweep"]
    levels = sorted(next(iter(s.values())), key=int)
    lines = ["| mode | " + " | ".join(str(c) for c in levels) + " |", "|---|" + "--:|" * len(levels)]
    lines += [f"| {mode} | " + " | ".join(ms(v[c]) for c in levels) + " |" for mode, v in s.items()]
    return "\n".join(lines)


def measures_table(r: dict[str, Any]) -> str:
    """Pause modes, first screen, keys during a capture, the observer's cost, RSS."""
    p, f, k, o, m = r["pause"], r["first_screen"], r["keys"], r["observer"], r["memory"]
    lines = [
        "| measure | result |",
        "|---|---|",
        f"| dump of a spinning worker, paused / unpaused | {p['paused']['ms_per_dump']:.0f} ms, {p['paused']['bad_share']:.0%} bad"
        f" / {p['unpaused']['ms_per_dump']:.0f} ms, {p['unpaused']['bad_share']:.0%} bad |",
        f"| first complete screen, Pool({f['workers']}), headless | {ms(f['headless'])} (capture {ms(f['headless_capture'])},"
        f" app {ms(f['headless_app'])}) = {f['headless'] / f['subprocesses']:.2f}× one --subprocesses ({ms(f['subprocesses'])}) |",
        "| same, `pooltui attach` in a terminal (interpreter start and imports included) | "
        + (f"{ms(f['terminal'])} = {f['terminal'] / f['subprocesses']:.2f}×" if f["terminal"] else "not measured")
        + " |",
    ]
    for mode, v in k.items():
        lines.append(
            f"| key -> screen while Pool(128) {mode} is dumped ({ms(v['capture_seconds'])}) | median {v['key_ms_median']:.0f} ms,"
            f" max {v['key_ms_max']:.0f} ms ({v['presses']} presses); longest loop stall {v['max_loop_gap_ms']:.0f} ms |"
        )
    lines += [
        f"| throughput loss of {r['machine']['cpus']} spinning workers, refresh every 2 s | {o['loss']:.1%} (median of the"
        f" {o['quiet_pairs']} of {len(o['pair_losses'])} window pairs with no other load; all pairs: {o['loss_all_pairs']:.1%});"
        f" pooltui's own CPU {o['observer_cpu_share']:.2%} of the machine, {o['observer_cpu_ms_per_refresh']:.0f} ms per refresh |",
        f"| RSS, Pool(64) idle, after 10 / {m['refreshes']} refreshes | {m['rss_warm'] / 2**20:.1f} / {m['rss_end'] / 2**20:.1f} MiB"
        f" ({m['rss_end'] / m['rss_warm'] - 1:+.1%}) |",
    ]
    return "\n".join(lines)


def locks_table(r: dict[str, Any]) -> str:
    """The lock step of a Pool whose workers all wait on one multiprocessing lock (section ``locks``)."""
    t = r["locks"]
    return "\n".join(
        [
            "| Pool, every worker blocked on one mp lock | procs | lock step: wall | its own CPU | its py-spy CPU"
            " | locks / waiters with holder | snapshot with locks | without | difference |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
            f"| Pool({t['workers']}) | {t['processes']} | {t['step_wall'] * 1000:,.0f} ms | {t['step_cpu'] * 1000:,.0f} ms"
            f" | {t['step_pyspy_cpu'] * 1000:,.0f} ms | {t['locks']} / {t['waiters_named']} | {t['full_with_locks'] * 1000:,.0f} ms"
            f" | {t['full_without_locks'] * 1000:,.0f} ms | {(t['full_with_locks'] - t['full_without_locks']) * 1000:+,.0f} ms |",
        ]
    )


# block name -> (the bench sections it needs, its renderer)
BLOCKS: dict[str, tuple[tuple[str, ...], Callable[[dict[str, Any]], str]]] = {
    "header": ((), header),
    "commands": (("commands",), command_tables),
    "loaded": (("loaded",), loaded_table),
    "growth": (("growth",), growth_table),
    "trees": (("trees",), trees_table),
    "sweep": (("sweep",), sweep_table),
    "measures": (("pause", "first_screen", "keys", "observer", "memory"), measures_table),
    "locks": (("locks",), locks_table),
}


def render(r: dict[str, Any]) -> dict[str, str]:
    """Every block the results hold the sections for."""
    return {name: fn(r) for name, (needs, fn) in BLOCKS.items() if all(s in r for s in needs)}


def all_tables(r: dict[str, Any]) -> str:
    return "\n\n".join(render(r).values())


BLOCK = re.compile(r"(<!-- bench:(\w+) -->\n)(.*?)(<!-- /bench:\2 -->)", re.S)


def fill(doc: str, blocks: dict[str, str]) -> str:
    """``doc`` with every marked block replaced by its rendering; a block the results
    cannot render (a section never run) is left as it is."""
    missing = set(blocks) - {m.group(2) for m in BLOCK.finditer(doc)}
    if missing:
        raise SystemExit(f"bench_tables: no <!-- bench:NAME --> block for {', '.join(sorted(missing))} in the document")
    return BLOCK.sub(lambda m: m.group(1) + blocks[m.group(2)] + "\n" + m.group(4) if m.group(2) in blocks else m.group(0), doc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", default=str(ROOT / "bench" / "latest.json"), help="the bench's results (default bench/latest.json)")
    parser.add_argument("--doc", default=str(ROOT / "docs" / "speed.md"), help="the page whose blocks are rewritten (default docs/speed.md)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 when the page is not what the results render")
    mode.add_argument("--print", action="store_true", help="print every table instead of writing the page")
    args = parser.parse_args()
    results = json.loads(Path(args.json).read_text())
    if args.print:
        print(all_tables(results))
        return 0
    doc = Path(args.doc)
    old = doc.read_text()
    new = fill(old, render(results))
    if args.check:
        if new != old:
            print(f"{doc} is out of date with {args.json}: run make bench-docs", file=sys.stderr)
            return 1
        return 0
    if new != old:
        doc.write_text(new)
    print(f"bench_tables: {doc} {'rewritten' if new != old else 'already up to date'} from {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
