"""Small inline SVG charts for the overview: no script, no CDN, readable at 390 px."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from markupsafe import Markup


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[int]
    css: str  # a class of console.css giving the colour


def bars(days: Sequence[date], series: Sequence[Series], title: str, *, height: int = 120) -> Markup:
    """Grouped bars, one group per day; a <title> on each bar gives the exact figure."""
    width = 320
    n = max(1, len(days))
    group = width / n
    bar = max(1.0, (group - 2) / max(1, len(series)))
    top = max([1, *[v for s in series for v in s.values]])
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height + 16}" role="img" '
             f'aria-label="{escape(title)}" preserveAspectRatio="none">']
    parts.append(f'<line x1="0" y1="{height}" x2="{width}" y2="{height}" class="axis"/>')
    for i, day in enumerate(days):
        for j, s in enumerate(series):
            value = s.values[i] if i < len(s.values) else 0
            h = 0 if value == 0 else max(1.0, height * value / top)
            x = i * group + 1 + j * bar
            parts.append(f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'class="{s.css}"><title>{escape(s.label)} {day.isoformat()}: {value}</title></rect>')
        if i == 0 or i == n - 1 or i == n // 2:
            anchor = "start" if i == 0 else "end" if i == n - 1 else "middle"
            x = i * group + (0 if i == 0 else group if i == n - 1 else group / 2)
            parts.append(f'<text x="{x:.1f}" y="{height + 13}" text-anchor="{anchor}" class="tick">'
                         f'{day.strftime("%d/%m")}</text>')
    parts.append(f'<text x="{width}" y="10" text-anchor="end" class="tick">{top}</text></svg>')
    return Markup("".join(parts))  # noqa: S704 - built from numbers and escaped text only
