#!/usr/bin/python3
"""Write a benchmark's figures as an SVG bar chart beside its text.

    chart.py OUT.svg TITLE UNIT < figures

figures: one "group<TAB>label<TAB>value" line per bar (a group is one
comparison, e.g. "cache miss"; its bars are privresd and the peers measured in
the same run). Each group is scaled to its own largest bar, so a group reads
as ratios; the values are printed on the bars. A value that is not a number
("-", a failed run) is drawn as an empty bar marked "n/a"."""
import html
import sys

BAR_H, GAP, LEFT, WIDTH = 18, 6, 230, 460
COLORS = {"privresd": "#0969da"}
PEER_COLOR = "#8c959f"


def read_groups(lines):
    """[(group, [(label, value or None)])] from "group<TAB>label<TAB>value" lines."""
    groups = []
    for line in lines:
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 3:
            continue
        group, label, value = parts
        try:
            v = float(value)
        except ValueError:
            v = None
        if not groups or groups[-1][0] != group:
            groups.append((group, []))
        groups[-1][1].append((label, v))
    return groups


def write_chart(out, title, unit, groups):
    y = 40
    body = []
    for group, bars in groups:
        body.append('<text x="10" y="%d" class="g">%s</text>' % (y + 12, html.escape(group)))
        y += 20
        top = max([v for _, v in bars if v is not None] or [1]) or 1
        for label, v in bars:
            color = COLORS["privresd"] if label.startswith("privresd") else PEER_COLOR
            w = 0 if v is None else max(1, WIDTH * v / top)
            body.append('<text x="%d" y="%d" class="l" text-anchor="end">%s</text>'
                        % (LEFT - 8, y + 13, html.escape(label)))
            body.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>'
                        % (LEFT, y, w, BAR_H, color))
            text = "n/a" if v is None else "{:,.0f} {}".format(v, unit) if v >= 100 else \
                "{:.3g} {}".format(v, unit)
            body.append('<text x="%.1f" y="%d" class="v">%s</text>'
                        % (LEFT + w + 6, y + 13, html.escape(text)))
            y += BAR_H + GAP
        y += 10
    svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (LEFT + WIDTH + 140, y + 10),
           '<style>.g{font-weight:bold}.v{fill:#1b1f24}.l{fill:#1b1f24}</style>',
           '<rect width="100%" height="100%" fill="#fff"/>',
           '<text x="10" y="22" font-size="15" font-weight="bold">%s</text>' % html.escape(title)]
    with open(out, "w") as f:
        f.write("\n".join(svg + body + ["</svg>\n"]))


def main():
    write_chart(sys.argv[1], sys.argv[2], sys.argv[3], read_groups(sys.stdin))


if __name__ == "__main__":
    main()
