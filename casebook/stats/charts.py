"""Bar charts as inline SVG drawn on the server: the browser shapes Arabic labels itself, there
is no script, and the chart prints with the page. Suppressed values are drawn as gaps."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

# A range of numbers in a label ("18–29"), isolated left to right with Unicode isolates (SVG
# text has no <bdi>), so that an Arabic chart does not draw it as "29–18".
_RANGE = re.compile(r"\d+(?:\s*[–-]\s*\d+)+")


def _isolated(label: str) -> str:
    return _RANGE.sub(lambda m: "\u2066" + m.group() + "\u2069", label)


def bar_chart(series: list[tuple[str, int | None]], rtl: bool = False, width: int = 640) -> Markup:
    bars = [(name, value) for name, value in series]
    if not bars:
        return Markup("")
    peak = max((v for _, v in bars if v), default=1) or 1
    row, label_w, pad = 22, 170, 8
    plot = width - label_w - 60
    height = row * len(bars) + pad * 2
    # the geometry is drawn for the page's direction and says so on the <svg> itself: text
    # anchored at its start runs leftwards from x on an Arabic page, whatever the page around
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'direction="{"rtl" if rtl else "ltr"}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
    ]
    for i, (name, value) in enumerate(bars):
        y = pad + i * row
        length = 0 if not value else max(1, round(plot * value / peak))
        if rtl:  # right to left: a text's start is its right edge
            label_x, anchor = width - pad, "start"
            bar_x = width - label_w - length
            value_x, value_anchor = bar_x - 4, "start"
        else:
            label_x, anchor = label_w - pad, "end"
            bar_x = label_w
            value_x, value_anchor = bar_x + length + 4, "start"
        text = "—" if value is None else str(value)
        parts.append(
            f'<text x="{label_x}" y="{y + 15}" text-anchor="{anchor}" '
            f'font-size="12">{escape(_isolated(name))}</text>'
        )
        if length:
            parts.append(
                f'<rect x="{bar_x}" y="{y + 3}" width="{length}" height="{row - 6}" '
                f'fill="#0b5394"/>'
            )
        parts.append(
            f'<text x="{value_x}" y="{y + 15}" text-anchor="{value_anchor}" '
            f'font-size="11" fill="#333">{escape(text)}</text>'
        )
    parts.append("</svg>")
    # every label and value above went through escape(); the rest is our own markup
    return Markup("".join(parts))  # noqa: S704  # nosec B704


def interval_chart(
    documented: int | None,
    estimate: int,
    interval: tuple[int | None, int | None],
    labels: tuple[str, str, str],
    rtl: bool = False,
    width: int = 640,
) -> Markup:
    """The documented count as a bar and the estimated total as a point with its interval drawn
    as a whisker, on one scale from zero. `labels`: documented, estimated, the chart's name.
    An interval without an upper end runs to the edge of the chart."""
    low, high = interval
    peak = max(estimate, high or 0, documented or 0, 1) * (1.1 if high is not None else 1.4)
    row, label_w, pad = 30, 170, 8
    plot = width - label_w - 110
    height = row * 2 + pad * 2

    def x(value: float) -> float:
        offset = plot * min(value, peak) / peak
        return round(width - label_w - offset if rtl else label_w + offset, 1)

    label_x = width - pad if rtl else label_w - pad
    anchor, value_anchor = "end", ("end" if rtl else "start")
    step = -6 if rtl else 6
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart interval-chart" role="img" '
        f'aria-label="{escape(labels[2])}" direction="ltr" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">'
    ]
    y = pad
    if documented is not None:
        parts.append(
            f'<text x="{label_x}" y="{y + 19}" text-anchor="{anchor}" font-size="12">'
            f"{escape(labels[0])}</text>"
            f'<rect x="{min(x(0), x(documented))}" y="{y + 6}" '
            f'width="{abs(x(documented) - x(0))}" height="{row - 12}" fill="#57606a"/>'
            f'<text x="{x(documented) + step}" y="{y + 19}" text-anchor="{value_anchor}" '
            f'font-size="11" fill="#333">{documented}</text>'
        )
    y += row
    lo, hi = x(low if low is not None else 0), x(high if high is not None else peak)
    mid = y + row // 2
    span = f"{low if low is not None else '?'}–{high if high is not None else '∞'}"
    parts.append(
        f'<text x="{label_x}" y="{y + 19}" text-anchor="{anchor}" font-size="12">'
        f"{escape(labels[1])}</text>"
        f'<line x1="{lo}" y1="{mid}" x2="{hi}" y2="{mid}" stroke="#0b5394" stroke-width="2"/>'
        f'<line x1="{lo}" y1="{mid - 7}" x2="{lo}" y2="{mid + 7}" stroke="#0b5394" '
        f'stroke-width="2"/>'
        f'<line x1="{hi}" y1="{mid - 7}" x2="{hi}" y2="{mid + 7}" stroke="#0b5394" '
        f'stroke-width="2"/>'
        f'<circle cx="{x(estimate)}" cy="{mid}" r="5" fill="#0b5394"/>'
        f'<text x="{(min if rtl else max)(lo, hi) + step}" y="{y + 19}" '
        f'text-anchor="{value_anchor}" font-size="11" fill="#333">'
        f"{estimate} ({escape(span)})</text>"
    )
    parts.append("</svg>")
    # the labels went through escape(); numbers are ints; the rest is our own markup
    return Markup("".join(parts))  # noqa: S704  # nosec B704
