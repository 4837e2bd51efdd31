"""HTML for the header, the advisor panel and the review page's read-only parts (the only place that formats).

State is never shown by colour alone: every coloured mark also carries a word and a symbol.
"""

from __future__ import annotations

import base64
import html
from typing import Any, Iterable

VERDICT_WORDS = {
    "fits": ("✓", "fits", "nbw-ok"),
    "tight": ("⚠", "tight", "nbw-warn"),
    "does_not_fit": ("✗", "does not fit", "nbw-bad"),
    "unknown": ("?", "unknown", "nbw-muted"),
}
SEVERITY_WORDS = {"error": ("✗", "Error", "nbw-bad"), "warning": ("⚠", "Warning", "nbw-warn"),
                  "suggestion": ("ℹ", "Suggestion", "nbw-muted")}

STYLE = """
<style>
.nbw-root { font-family: var(--jp-ui-font-family, system-ui, sans-serif); }
/* The wizard fills the window: its top (steps, header, buttons, notices) stays in view and each page scrolls on its
   own, so a new page opens at its top and Next / Previous never scroll away. */
.nbw-root.nbw-app { height: calc(100vh - 24px); min-height: 540px; }
.jp-NotebookPanel .nbw-root.nbw-app { height: calc(100vh - 180px); }
.nbw-root.nbw-app > * { flex-shrink: 0; }
.nbw-root.nbw-app > .nbw-body { flex: 1 1 auto; min-height: 0; }
.nbw-root.nbw-app > .nbw-top-slot { max-height: 35vh; overflow-y: auto; }
.nbw-stack { align-self: stretch; min-height: 0; }
.nbw-root .nbw-page { height: 100%; overflow-y: auto; overflow-x: hidden; padding-right: 10px; box-sizing: border-box; }
.nbw-root .nbw-page > * { flex-shrink: 0; }
.nbw-root .nbw-page .widget-inline-hbox { max-width: calc(100% - 4px); }
.nbw-advisor-panel { align-self: stretch; overflow-y: auto; }
.nbw-top { flex: 0 0 auto; border-bottom: 1px solid #d0d7de; margin-bottom: 6px; padding-bottom: 2px; }
/* no text is ever cut off: buttons, check-box labels and descriptions take the room their words need */
.nbw-root .jupyter-widgets.jupyter-button { width: auto; min-width: 5em; padding: 0 12px; overflow: visible; }
.nbw-root .jupyter-widgets.widget-checkbox { width: auto; }
.nbw-root .widget-checkbox label.widget-label-basic, .nbw-root .widget-checkbox label.widget-label-basic span {
  overflow: visible; white-space: normal; }
.nbw-root .widget-inline-hbox > .widget-label { white-space: normal; overflow: visible; line-height: 1.15;
  height: auto; min-height: var(--jp-widgets-inline-height, 28px); display: flex; align-items: center;
  justify-content: flex-end; text-align: right; }
.nbw-root .widget-toggle-buttons .widget-toggle-button { overflow: visible; }
.nbw-ok { color: #1b7f3b; } .nbw-warn { color: #9a6700; } .nbw-bad { color: #c62828; } .nbw-muted { color: #5f6368; }
.nbw-help { color: #5f6368; font-size: 0.85em; }
.nbw-error { color: #c62828; font-size: 0.9em; }
.nbw-note { color: #0b57d0; font-size: 0.9em; }
.nbw-header { display: flex; flex-wrap: wrap; gap: 6px 14px; padding: 6px 10px; border: 1px solid #d0d7de;
  border-radius: 6px; background: #f6f8fa; }
.nbw-badge b { font-weight: 600; }
.nbw-advisor h4 { margin: 10px 0 4px 0; font-size: 1em; }
.nbw-advisor ul { margin: 0; padding-left: 18px; } .nbw-advisor p { margin: 4px 0; }
.nbw-bar { display: flex; height: 22px; width: 100%; border: 1px solid #8c959f; border-radius: 3px; overflow: hidden;
  position: relative; }
.nbw-bar > div { height: 100%; }
.nbw-table { border-collapse: collapse; font-size: 0.9em; } .nbw-table td, .nbw-table th { border-bottom: 1px solid #d0d7de;
  padding: 2px 8px; text-align: left; vertical-align: top; }
.nbw-yaml { max-height: 420px; overflow: auto; background: #f6f8fa; padding: 8px; font-size: 0.85em; }
.nbw-notice { margin: 2px 0; }
.nbw-root .nbw-compact-number input { width: 9em; }
.nbw-page .nbw-table { max-width: 100%; } .nbw-page .nbw-table td { overflow-wrap: anywhere; }
</style>
"""

_BAR_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f", "#bab0ac")


def esc(value: Any) -> str:
    return html.escape(str(value))


def gib(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.1f} GiB"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    minutes = int(round(seconds / 60))
    if minutes < 1:
        return f"{seconds:.0f} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def verdict(prediction: Any) -> str:
    mark, word, cls = VERDICT_WORDS.get(getattr(prediction, "verdict", "unknown"), VERDICT_WORDS["unknown"])
    return f"<span class='{cls}'>{mark} {word}</span>"


def header(model_label: str, resolution: Any, steps: Any, prediction: Any) -> str:
    """The job at a glance (the error and warning counts beside it are buttons: see :func:`count`)."""
    peak = getattr(prediction, "peak_vram_gib", None)
    budget = getattr(prediction, "budget_gib", None)
    vram = f"{gib(peak)} of {gib(budget)}" if budget else gib(peak)
    res = ", ".join(map(str, resolution)) if isinstance(resolution, list) else resolution
    badges = [("Model", esc(model_label)), ("Resolution", f"{esc(res)} px"), ("Steps", esc(steps)),
              ("VRAM", f"<span id='nbw-vram'>{vram} — {verdict(prediction)}</span>")]
    return "<div class='nbw-header' role='status'>" + "".join(
        f"<span class='nbw-badge'><b>{k}:</b> {v}</span>" for k, v in badges) + "</div>"


def count(n: int, severity: str) -> str:
    """``✗ 2 errors`` / ``⚠ 1 warning`` / ``✓ 0 warnings``: a count in words and a symbol, never colour alone."""
    mark, word, _ = SEVERITY_WORDS[severity]
    return f"{mark if n else '✓'} {n} {word.lower()}{'s' * (n != 1)}"


NOTICE_ITEMS = 6  # a notice names this many changes, then "and N more"


def notice(anchor: str, mark: str, headline: str, items: list[str]) -> str:
    """A one-paragraph notice for the top bar: the headline, then the changes it is about, kept short."""
    shown = "; ".join(esc(i) for i in items[:NOTICE_ITEMS])
    more = f"; and {len(items) - NOTICE_ITEMS} more" if len(items) > NOTICE_ITEMS else ""
    return (f"<p class='nbw-note nbw-notice' role='status' id='{anchor}'>{mark} {esc(headline)}: "
            f"{shown}{more}.</p>")


def vram_bar(prediction: Any) -> str:
    """A stacked bar of the training peak's components against the card's budget, with a legend in words."""
    train = getattr(prediction, "train", None)
    items = [i for i in getattr(train, "items", ()) if i.gib > 0.005]
    budget = getattr(prediction, "budget_gib", None)
    total = getattr(train, "total_gib", 0.0) or 0.0
    scale = max(total, budget or 0.0, 1e-6)
    segments = "".join(
        f"<div title='{esc(i.name)}: {i.gib:.1f} GiB' style='width:{100 * i.gib / scale:.2f}%;"
        f"background:{_BAR_COLOURS[n % len(_BAR_COLOURS)]}'></div>" for n, i in enumerate(items))
    marker = (f"<div title='budget' style='position:absolute;left:{100 * budget / scale:.2f}%;top:0;bottom:0;"
              f"border-left:3px dashed #000'></div>") if budget else ""
    legend = "".join(
        f"<li><span style='color:{_BAR_COLOURS[n % len(_BAR_COLOURS)]}'>■</span> {esc(i.name)}: "
        f"{i.gib:.1f} GiB — <span class='nbw-help'>{esc(i.why)}</span></li>" for n, i in enumerate(items))
    caption = (f"Training peak {gib(getattr(prediction, 'peak_vram_gib', None))} "
               f"(range {gib(getattr(prediction, 'low_gib', None))}–{gib(getattr(prediction, 'high_gib', None))})"
               f" against a budget of {gib(budget)}: {verdict(prediction)}. "
               f"{esc(getattr(prediction, 'verdict_reason', ''))}")
    return f"<p>{caption}</p><div class='nbw-bar'>{segments}{marker}</div><ul>{legend}</ul>"


def prediction_lines(prediction: Any) -> str:
    sample = getattr(prediction, "sample", None)
    disk = getattr(prediction, "disk", None)
    rows = [
        ("Sampling peak", gib(getattr(sample, "total_gib", None)) if sample else "no sampling"),
        ("Step time", f"{prediction.step_seconds:.2f} s/step" if getattr(prediction, "step_seconds", None)
         else f"unknown ({esc(getattr(prediction, 'step_seconds_reason', ''))})"),
        ("Total time", duration(getattr(prediction, "total_seconds", None))),
        ("Disk", f"{gib(getattr(disk, 'total_gib', None))} written; {gib(getattr(disk, 'free_gib', None))} free"),
        ("System RAM peak", gib(getattr(prediction, "ram_peak_gib", None))),
    ]
    return table(["", ""], rows, raw=True)


def table(head: Iterable[str], rows: Iterable[Iterable[Any]], raw: bool = False) -> str:
    cell = (lambda v: str(v)) if raw else esc
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    heads = "".join(f"<th>{esc(h)}</th>" for h in head)
    return f"<table class='nbw-table'><tr>{heads}</tr>{body}</table>"


def advisor(advice: Any, title: str, elsewhere: str = "") -> str:
    """The four sections of the advisor panel from an :class:`~nbwizard.engine.advisor.Advice`; ``elsewhere``
    names the job's errors and warnings that other pages show (so the header's counts add up)."""
    parts = [f"<div class='nbw-advisor' aria-live='polite'><h3>{esc(title)}</h3>",
             "<h4>What these settings do</h4>", _paragraphs(advice.explain)]
    if advice.facts:
        parts.append(_bullets(advice.facts))
    if advice.settings:
        parts.append("<ul>" + "".join(f"<li><b>{esc(n.label)}</b> — {esc(n.text)}</li>" for n in advice.settings)
                     + "</ul>")
    parts.append("<h4>Why these values</h4>")
    parts.append(_bullets(line.text for line in advice.why) if advice.why else
                 "<p class='nbw-muted'>Nothing is chosen on this page.</p>")
    if getattr(advice, "plan", ()):
        parts.append("<h4>What the plan changed, and what it costs</h4>")
        parts.append(_bullets(advice.plan))
    parts.append("<h4>Warnings and errors</h4>")
    rows = []
    if advice.why_not:  # the plan itself failed: an error, listed with the others
        rows.append(f"<li><span class='nbw-bad'>✗ Error:</span> {esc(advice.why_not)}</li>")
    for line in advice.warnings:
        mark, word, cls = SEVERITY_WORDS.get(line.severity, SEVERITY_WORDS["warning"])
        fix = " <span class='nbw-help'>(Fix on the review page)</span>" if line.fixable else ""
        rows.append(f"<li><span class='{cls}'>{mark} {word}:</span> {esc(line.message)}{fix}</li>")
    parts.append("<ul>" + "".join(rows) + "</ul>" if rows else "<p class='nbw-ok'>✓ Nothing to fix here.</p>")
    if elsewhere:
        parts.append(f"<p class='nbw-help' id='nbw-elsewhere'>Elsewhere: {esc(elsewhere)} (the buttons at the top "
                     "take you there).</p>")
    parts.append("<h4>Performance</h4>")
    parts.append("<ul>" + "".join(
        f"<li class='{'' if p.known else 'nbw-muted'}'><b>{esc(p.label)}:</b> {esc(p.text)}</li>"
        for p in advice.performance) + "</ul>")
    parts.append("</div>")
    return "".join(parts)


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{esc(p)}</p>" for p in str(text).split("\n") if p.strip())


def _bullets(items: Iterable[str]) -> str:
    return "<ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>"


# the preview shows this much of the YAML: a real job is a few KB; a huge one (up to the 5 MiB a job file may have)
# would make the page sluggish, and the download and copy still carry all of it
PREVIEW_CHARS = 200_000


def yaml_preview(text: str) -> str:
    if len(text) <= PREVIEW_CHARS:
        return f"<pre class='nbw-yaml' id='nbw-yaml'>{esc(text)}</pre>"
    shown = text[:PREVIEW_CHARS].rsplit("\n", 1)[0]
    rest = text.count("\n") - shown.count("\n")
    return (f"<pre class='nbw-yaml' id='nbw-yaml' data-truncated='1'>{esc(shown)}</pre>"
            f"<p class='nbw-muted'>… {rest:,} more lines: download the file (or copy it) to see all of it.</p>")


def download_links(name: str, text: str) -> str:
    """A download link carrying the YAML, and a copy button (copying the preview, or the whole file when the
    preview shows only its start)."""
    data = base64.b64encode(text.encode()).decode()
    whole = ("fetch(document.getElementById('nbw-download').href).then(r => r.text())"
             ".then(t => navigator.clipboard.writeText(t))")
    preview = "navigator.clipboard.writeText(document.getElementById('nbw-yaml').innerText)"
    copy_js = whole if len(text) > PREVIEW_CHARS else preview
    return (f"<a id='nbw-download' download='{name}' href='data:text/yaml;base64,{data}'>⬇ Download {name}</a> "
            f"&nbsp; <button onclick=\"{copy_js}\">Copy YAML</button>")


def dataset_report(info: Any) -> str:
    """A dataset analysis as a small table, a size histogram and the bucket plans (text, not colour, carries it)."""
    c = info.captions
    trigger = "—" if c.with_trigger is None else f"{c.with_trigger} of {c.items}"
    rows = [
        ("Images", len(info.images)), ("Videos", len(info.videos)),
        ("Total size", f"{info.total_bytes / 2**20:.1f} MiB"),
        ("Captions", f"{c.with_caption} of {c.items} ({len(c.missing)} missing, {len(c.empty)} empty)"),
        ("Caption words", "—" if c.words_min is None else f"{c.words_min}–{c.words_max}, median {c.words_median:g}"),
        ("Trigger word in captions", trigger),
        ("Duplicates", f"{len(info.duplicates)} group(s)"),
        ("Unreadable files", len(info.corrupt)),
    ]
    most = max((b.count for b in info.size_histogram), default=0) or 1
    bars = "".join(
        f"<tr><td>{esc(b.label)}</td><td><span style='display:inline-block;height:10px;width:{160 * b.count / most:.0f}px;"
        f"background:#4e79a7'></span> {b.count}</td></tr>" for b in info.size_histogram)
    plans = [(p.resolution, ", ".join(f"{b.width}×{b.height} ({b.count})" for b in p.buckets[:4])
              + (" …" if len(p.buckets) > 4 else ""), len(p.below_resolution)) for p in info.buckets]
    return ("<h4>Dataset</h4>" + table(["", ""], rows) + _file_lists(info)
            + "<h4>Image sizes (√(width×height))</h4><table class='nbw-table'>" + bars + "</table>"
            + "<h4>Buckets per resolution</h4>" + table(["Resolution", "Largest buckets", "Below it"], plans))


DATASET_NAMES_SHOWN = 10


def _file_lists(info: Any) -> str:
    """The problem files by kind (unreadable, uncaptioned, ...): the first few by name with the reason, and a count."""
    parts = []
    for fl in info.file_lists(DATASET_NAMES_SHOWN):
        items = "".join(f"<li><code>{esc(p.path)}</code> — {esc(p.reason)}</li>" for p in fl.first)
        more = f"<li class='nbw-muted'>… and {fl.count - len(fl.first)} more</li>" if fl.count > len(fl.first) else ""
        parts.append(f"<h4>{esc(fl.title)} ({fl.count})</h4><ul class='nbw-files'>{items}{more}</ul>")
    return "".join(parts)
