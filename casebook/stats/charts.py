"""Bar charts as inline SVG drawn on the server: the browser shapes Arabic labels itself, there
is no script, and the chart prints with the page. Suppressed values are drawn as gaps."""

from __future__ import annotations

from markupsafe import Markup, escape


def bar_chart(series: list[tuple[str, int | None]], rtl: bool = False, width: int = 640) -> Markup:
    bars = [(name, value) for name, value in series]
    if not bars:
        return Markup("")
    peak = max((v for _, v in bars if v), default=1) or 1
    row, label_w, pad = 22, 170, 8
    plot = width - label_w - 60
    height = row * len(bars) + pad * 2
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
    ]
    for i, (name, value) in enumerate(bars):
        y = pad + i * row
        length = 0 if not value else max(1, round(plot * value / peak))
        if rtl:
            label_x, anchor = width - pad, "end"
            bar_x = width - label_w - length
            value_x, value_anchor = bar_x - 4, "end"
        else:
            label_x, anchor = label_w - pad, "end"
            bar_x = label_w
            value_x, value_anchor = bar_x + length + 4, "start"
        text = "—" if value is None else str(value)
        parts.append(
            f'<text x="{label_x}" y="{y + 15}" text-anchor="{anchor}" '
            f'font-size="12">{escape(name)}</text>'
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
