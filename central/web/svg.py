"""Charts drawn on the server as SVG, each followed by the same numbers as an HTML table.

No script and no library: a bar chart and a stacked bar are a few rectangles, and a table
after each one gives screen readers (and anyone copying figures) the exact values. The SVG has
role="img" with a <title> and <desc>, and scales to its container (viewBox, no fixed width),
so it reads on a phone as on a desktop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# Colours with at least 4.5:1 contrast against white for the text drawn beside them.
PALETTE = ("#1a5fb4", "#a33a00", "#1a7f37", "#7d0f14", "#5e3c99", "#7a5300", "#3d3846")
_WIDTH = 480
_ROW_H = 28
_LABEL_W = 170
_VALUE_W = 50


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int


def _fmt(value: int) -> str:
    return f"{value:,}".replace(",", ".")  # Indonesian grouping: 12.345


def _head(title: str, desc: str, height: int, ident: str) -> str:
    return (
        f'<svg class="chart" role="img" viewBox="0 0 {_WIDTH} {height}" '
        f'aria-labelledby="{ident}-t" aria-describedby="{ident}-d" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{ident}-t">{escape(title)}</title><desc id="{ident}-d">{escape(desc)}</desc>'
    )


def _table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = "".join(
        "<tr>"
        + f'<th scope="row">{escape(r[0])}</th>'
        + "".join(f'<td class="num">{escape(c)}</td>' for c in r[1:])
        + "</tr>"
        for r in rows
    )
    return (
        f'<table class="chart-table"><caption>{escape(title)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def bar_chart(
    ident: str, title: str, desc: str, bars: Sequence[Bar], headers: tuple[str, str]
) -> Markup:
    """Horizontal bars, one row each, with the value written at the bar's end."""
    height = max(1, len(bars)) * _ROW_H + 8
    top = max((b.value for b in bars), default=0)
    span = _WIDTH - _LABEL_W - _VALUE_W
    parts = [_head(title, desc, height, ident)]
    for index, bar in enumerate(bars):
        y = 4 + index * _ROW_H
        length = 0 if top == 0 else round(span * bar.value / top)
        parts.append(
            f'<text x="{_LABEL_W - 8}" y="{y + 18}" text-anchor="end">{escape(bar.label)}</text>'
            f'<rect x="{_LABEL_W}" y="{y + 4}" width="{length}" height="{_ROW_H - 8}" '
            f'fill="{PALETTE[0]}"/>'
            f'<text x="{_LABEL_W + length + 6}" y="{y + 18}">{_fmt(bar.value)}</text>'
        )
    parts.append("</svg>")
    rows = [(b.label, _fmt(b.value)) for b in bars]
    return Markup("".join(parts) + _table(title, headers, rows))  # noqa: S704 (all escaped above)


def stacked_bar(
    ident: str, title: str, desc: str, parts_in: Sequence[Bar], headers: tuple[str, str]
) -> Markup:
    """One bar split into its parts, with a legend below (a part's share is its width)."""
    legend_rows = len(parts_in)
    height = 48 + legend_rows * 22
    total = sum(p.value for p in parts_in)
    out = [_head(title, desc, height, ident)]
    x = 0.0
    for index, part in enumerate(parts_in):
        colour = PALETTE[index % len(PALETTE)]
        width = 0.0 if total == 0 else _WIDTH * part.value / total
        if width > 0:
            out.append(f'<rect x="{x:.1f}" y="4" width="{width:.1f}" height="32" fill="{colour}"/>')
        x += width
        y = 48 + index * 22
        out.append(
            f'<rect x="0" y="{y}" width="14" height="14" fill="{colour}"/>'
            f'<text x="22" y="{y + 12}">{escape(part.label)}: {_fmt(part.value)}</text>'
        )
    if total == 0:
        out.append(f'<rect x="0" y="4" width="{_WIDTH}" height="32" fill="#deddda"/>')
    out.append("</svg>")
    rows = [(p.label, _fmt(p.value)) for p in parts_in]
    return Markup("".join(out) + _table(title, headers, rows))  # noqa: S704 (all escaped above)
