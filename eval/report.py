"""A self-contained HTML report: metric tables and matplotlib plots embedded as base64 PNGs.

Figures are drawn on ``matplotlib.figure.Figure`` objects directly (no pyplot
global state, no display needed).  The page has no external assets, so it can be
mailed or archived as one file.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_PALETTE = ("#1f5f8b", "#8c8c8c", "#d98b2b", "#4c9a5b", "#a03c3c", "#6a4c93", "#2b8c8c")

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1d1d1d;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0 1rem}th,td{border:1px solid #ccc;padding:.3rem .6rem;
text-align:right}th:first-child,td:first-child{text-align:left}thead th{background:#f1f4f7}
img{max-width:100%;margin:.4rem 0}.note{color:#555;font-size:.9rem}pre{background:#f6f6f6;padding:.6rem;
overflow:auto;font-size:.8rem}table.text td,table.text th{text-align:left;vertical-align:top}
"""


@dataclass(slots=True)
class Section:
    """A titled part of the report made of HTML fragments (tables, figures, notes)."""

    title: str
    parts: list[str] = field(default_factory=list)


def fmt(value: Any) -> str:
    """A table cell: floats with three decimals, None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape(str(value))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, text: bool = False) -> str:
    """An HTML table; the first column is a row label. ``text`` left-aligns every cell (sentences, not numbers)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{fmt(c)}</td>" for c in row) + "</tr>" for row in rows)
    css = ' class="text"' if text else ""
    return f"<table{css}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def metric_table(systems: Mapping[str, Mapping[str, float]], metrics: Sequence[str]) -> str:
    """One row per system, one column per metric (missing values as a dash)."""
    return table(["method", *metrics], [[name, *(values.get(m) for m in metrics)] for name, values in
                                        systems.items()])


def note(text: str) -> str:
    """A short explanatory paragraph."""
    return f'<p class="note">{html.escape(text)}</p>'


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{encoded}">'


def _figure(width: float = 7.0, height: float = 3.6) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def bar_chart(groups: Mapping[str, Mapping[str, float]], metrics: Sequence[str], title: str) -> str:
    """Grouped bars: one group per metric, one bar per method, values printed on the bars."""
    figure = _figure(max(6.0, 1.6 * len(metrics) + 2.5))
    axes = figure.add_subplot()
    names = list(groups)
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        xs = [m + (i - (len(names) - 1) / 2) * width for m in range(len(metrics))]
        ys = [float(groups[name].get(metric) or 0.0) for metric in metrics]
        bars = axes.bar(xs, ys, width, label=name, color=_PALETTE[i % len(_PALETTE)])
        axes.bar_label(bars, labels=[f"{y:.2f}" for y in ys], fontsize=7, padding=1)
    axes.set_xticks(range(len(metrics)), list(metrics))
    axes.set_title(title)
    axes.legend(fontsize=8, ncols=min(len(names), 5), loc="upper center", bbox_to_anchor=(0.5, -0.12))
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def distributions(values: Mapping[str, Sequence[float]], title: str, ylabel: str) -> str:
    """Box plots of per-item scores, one box per method, with the mean marked."""
    figure = _figure(max(6.0, 1.2 * len(values) + 2.0))
    axes = figure.add_subplot()
    names = [n for n in values if len(values[n])]
    if names:
        axes.boxplot([list(values[n]) for n in names], tick_labels=names, showmeans=True)
    axes.set_title(title)
    axes.set_ylabel(ylabel)
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def histogram(values: Sequence[float], title: str, xlabel: str, bins: int = 30) -> str:
    """A histogram with the median and 95th percentile marked."""
    from eval.metrics import percentile

    figure = _figure()
    axes = figure.add_subplot()
    if values:
        axes.hist(list(values), bins=bins, color=_PALETTE[0], alpha=0.85)
        for q, style in ((50, "--"), (95, ":")):
            x = percentile(values, q)
            axes.axvline(x, color="black", linestyle=style, linewidth=1, label=f"p{q} = {x:.0f}")
        axes.legend(fontsize=8)
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("questions")
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def write_report(path: Path, title: str, info: Mapping[str, Any], sections: Sequence[Section],
                 metrics: Mapping[str, Any]) -> Path:
    """Write the report page: header, sections, then the raw metrics and run information."""
    blocks = [f"<h1>{html.escape(title)}</h1>"]
    options = info.get("options", {}) if isinstance(info.get("options"), dict) else {}
    summary = {k: info.get(k) for k in ("dataset", "backend", "snapshot_id", "encoder", "scorer", "created",
                                         "seconds")}
    summary.update({k: options.get(k) for k in ("split", "limit", "max_sentences", "seed")})
    blocks.append(table(["run", "value"], [[k, v] for k, v in summary.items() if v is not None]))
    for section in sections:
        blocks.append(f"<h2>{html.escape(section.title)}</h2>")
        blocks.extend(section.parts)
    blocks.append("<h2>metrics.json</h2>")
    blocks.append(f"<pre>{html.escape(json.dumps(metrics, indent=2, sort_keys=True, default=str))}</pre>")
    page = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(blocks)}</body></html>\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
