"""The HTML failure report: a self-contained page with the interleaving as lanes, the lock
holding intervals as bars per thread, and the text report's details
(docs/design.md#reports).
"""

from __future__ import annotations

import html

from fuzzlock import trace
from fuzzlock.report import (
    ACQUIRE_OPS,
    READ_OPS,
    RELEASE_OPS,
    TRYLOCK_OPS,
    WRITE_OPS,
    _cell,
    _detail_lines,
    _header_lines,
    _plan,
    _Row,
    lock_intervals,
    object_matcher,
)
from fuzzlock.sched.result import STEP_BOUND, RunResult
from fuzzlock.schema import INVARIANTS

Event = trace.Event

# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;margin:16px;color:#222}
h1{font-size:17px;margin:0 0 6px}h2{font-size:14px;margin:18px 0 6px}
.expl{font-weight:normal;color:#555}.msg{margin:2px 0}.where{margin:2px 0;color:#555}
.clean{color:#186a18}.bad{color:#b00020}
.gantt{border:1px solid #ccc;padding:4px 6px;max-width:1400px}
.glane{display:flex;align-items:stretch;border-bottom:1px dotted #ddd}
.gname{width:160px;flex:none;padding:2px 4px;overflow:hidden;white-space:nowrap}
.gtrack{position:relative;flex:1;min-height:18px}
.bar{position:absolute;height:14px;border-radius:3px;font-size:10px;line-height:14px;
 overflow:hidden;white-space:nowrap;padding:0 2px;box-sizing:border-box;color:#111}
.m-excl{background:#f5b971}.m-read{background:#9fd3a8}.m-write{background:#e88f8f}
.open{border-right:3px dashed #b00020}
.pmark{position:absolute;top:0;bottom:0;width:0;border-left:1px dashed #7a5cc2}
.vmark{position:absolute;top:0;bottom:0;width:0;border-left:2px solid #b00020}
table.lanes{border-collapse:collapse}
table.lanes th,table.lanes td{border:1px solid #ddd;padding:1px 4px;vertical-align:top}
table.lanes th{background:#f3f3f3;position:sticky;top:0}
td.stp{text-align:right;color:#777;white-space:nowrap}
.ev{padding:1px 3px;border-radius:3px;white-space:nowrap}
.ev .fn{color:#555}.k-lock{background:#fde6c8}.k-unlock{background:#eef3fb}
.k-read{background:#e8f5e9}.k-write{background:#fde0e0}.k-other{background:#f4f4f4}
.k-fail{background:#eee;color:#888}
tr.pre td.stp{color:#7a5cc2;font-weight:bold}
tr.violation td{background:#ffe5e5}tr.violation .ev{outline:2px solid #b00020}
tr.foldsum td{color:#777;font-style:italic;cursor:pointer;background:#fafafa}
tr.hit .ev{box-shadow:inset 3px 0 #1a73e8}
pre{background:#f7f7f7;padding:6px;border:1px solid #e3e3e3;overflow-x:auto}
"""

_JS = """
document.querySelectorAll('tr.foldsum').forEach(function(r){
 r.addEventListener('click',function(){
  var g=r.getAttribute('data-fold');
  document.querySelectorAll('tr.fold-'+g).forEach(function(x){x.hidden=!x.hidden;});
 });
});
"""


def _e(s: object) -> str:
    return html.escape(str(s), quote=True)


def _kind_class(e: Event) -> str:
    op, val = e[3], e[5]
    if op in TRYLOCK_OPS and val != "1":
        return "k-fail"
    if op in ACQUIRE_OPS or op in TRYLOCK_OPS:
        return "k-lock"
    if op in RELEASE_OPS:
        return "k-unlock"
    if op in WRITE_OPS:
        return "k-write"
    if op in READ_OPS:
        return "k-read"
    return "k-other"


def _box(e: Event) -> str:
    _s, _t, fn, op, obj, val = e
    v = f" = {val}" if val != "" else ""
    return (
        f'<div class="ev {_kind_class(e)}" title="{_e(_cell(e))}">'
        f'<span class="fn">{_e(fn)}</span> {_e(op)} {_e(obj)}{_e(v)}</div>'
    )


def _gantt(result: RunResult) -> list[str]:
    names = result.thread_names
    v = result.violation
    last = max((e[0] for e in result.events), default=-1)
    total = max(last + 1, (v.step + 1) if v is not None else 0, 1)
    ivs = lock_intervals(result.events)

    def pct(x: float) -> str:
        return f"{100.0 * x / total:.3f}%"

    marks = "".join(
        f'<div class="pmark" style="left:{pct(s)}" title="preemption at step {s}"></div>'
        for s in result.preempted
    )
    if v is not None:
        marks += (
            f'<div class="vmark" style="left:{pct(v.step)}" '
            f'title="{_e(v.id)} at step {v.step}"></div>'
        )
    out = ['<div class="gantt">']
    for tid, name in enumerate(names):
        mine = [iv for iv in ivs if iv.thread == tid]
        tracks: list[int] = []  # per track: first free step
        bars: list[str] = []
        for iv in mine:
            end = iv.end if iv.end is not None else total - 1
            for k, free in enumerate(tracks):
                if free <= iv.start:
                    tracks[k] = end + 1
                    break
            else:
                k = len(tracks)
                tracks.append(end + 1)
            until = f"step {iv.end}" if iv.end is not None else "the end of the trace"
            tip = f"{iv.lock} ({iv.op} in {iv.fn}) held from step {iv.start} to {until}"
            cls = f"bar m-{iv.mode}" + (" open" if iv.end is None else "")
            bars.append(
                f'<div class="{cls}" style="left:{pct(iv.start)};width:{pct(end - iv.start + 1)};'
                f'top:{2 + 16 * k}px" title="{_e(tip)}">{_e(iv.lock)}</div>'
            )
        height = 4 + 16 * max(len(tracks), 1)
        out.append(
            f'<div class="glane"><div class="gname">{_e(f"T{tid} {name}")}</div>'
            f'<div class="gtrack" style="height:{height}px">{marks}{"".join(bars)}</div></div>'
        )
    out.append("</div>")
    out.append(
        '<p class="where">steps 0–'
        + _e(total - 1)
        + " left to right; bars: locks held (orange exclusive, green read, red write; "
        "dashed end: still held); dashed lines: preemptions; red line: violation</p>"
    )
    return out


def _lanes(result: RunResult, rows: list[_Row]) -> list[str]:
    names = result.thread_names
    n = len(names)
    v = result.violation
    pre = set(result.preempted)
    match = object_matcher(v.objects) if v is not None else (lambda _o: False)
    head = "".join(f"<th>{_e(f'T{i} {nm}')}</th>" for i, nm in enumerate(names))
    out = ['<table class="lanes">', f"<thead><tr><th>step</th>{head}</tr></thead>", "<tbody>"]

    def tr(step: int, evs: list[Event], extra: str = "", synthetic: bool = False) -> str:
        classes = []
        if v is not None and step == v.step and (synthetic or evs[0][1] == v.thread):
            classes.append("violation")
        if step in pre:
            classes.append("pre")
        if any(match(e[4]) for e in evs) and not synthetic:
            classes.append("hit")
        if extra:
            classes.append(extra)
        mark = "!" if "violation" in classes else (">" if step in pre else "")
        cells = [""] * n
        wide = ""
        for e in evs:
            if 0 <= e[1] < n:
                cells[e[1]] += _box(e)
            else:
                msg = f" — {v.message}" if v is not None else ""
                wide = f'<td colspan="{n}"><div class="ev k-other">{_e(e[2])}: {_e(e[3])}{_e(msg)}</div></td>'
        tds = wide or "".join(f"<td>{c}</td>" for c in cells)
        cls = f' class="{" ".join(classes)}"' if classes else ""
        hidden = " hidden" if extra.startswith("fold-") else ""
        return f'<tr{cls}{hidden}><td class="stp">{_e(mark)} {step}</td>{tds}</tr>'

    for g, r in enumerate(rows):
        if r.kind == "fold":
            out.append(
                f'<tr class="foldsum" data-fold="{g}" title="click to show or hide">'
                f'<td class="stp">{r.events[0][0]}–{r.events[-1][0]}</td>'
                f'<td colspan="{n}">{_e(r.fold_text)}</td></tr>'
            )
            out += [tr(e[0], [e], extra=f"fold-{g}") for e in r.events]
        elif r.kind == "synthetic":
            out.append(tr(r.step, r.events, synthetic=True))
        else:
            out.append(tr(r.step, r.events))
    out += ["</tbody>", "</table>"]
    return out


def render_html(result: RunResult, *, protocol: str, replay: str, title: str = "") -> str:
    """One self-contained HTML document (inline CSS and JS, no external references)."""
    v = result.violation
    rows = _plan(result)
    if v is None:
        heading = (
            '<h1 class="clean">step-bound</h1>'
            if result.outcome == STEP_BOUND
            else '<h1 class="clean">clean: no invariant violated</h1>'
        )
    else:
        expl = INVARIANTS.get(v.id, "")
        heading = f'<h1 class="bad">VIOLATION {_e(v.id)} <span class="expl">{_e(expl)}</span></h1>'
    doc_title = title or (f"fuzzlock: {v.id}" if v is not None else "fuzzlock: clean")
    header = _header_lines(result, protocol, "")
    body = [
        heading,
        *(f'<p class="where">{_e(line.strip())}</p>' for line in header[1:]),
        "<h2>Locks held</h2>",
        *_gantt(result),
        "<h2>Interleaving</h2>",
        '<p class="where">one column per thread; &gt; preemption, ! violating step; '
        "click a folded row to expand it</p>",
        *_lanes(result, rows),
    ]
    detail = _detail_lines(result)
    if detail:
        body += ["<h2>Details</h2>", f"<pre>{_e(chr(10).join(detail))}</pre>"]
    body += ["<h2>Replay</h2>", f"<pre>{_e(replay)}</pre>"]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f"<title>{_e(doc_title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            *([f'<p class="where">{_e(title)}</p>'] if title else []),
            *body,
            f"<script>{_JS}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )


__all__ = ["render_html"]
