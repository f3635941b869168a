#!/usr/bin/python3
"""bench_web.sh's summary: the medians of its rounds and of the ratios taken
within each round, as text and as a chart (chart.py) beside it.

    web_rounds.py ROUNDS_FILE STREAM_LINES OUT.txt OUT.svg

ROUNDS_FILE: one "off on watched" line of QPS per round."""
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chart  # noqa: E402


def main():
    rounds_file, lines, text_out, svg_out = sys.argv[1:5]
    rows = []
    for line in open(rounds_file):
        try:
            rows.append([float(x) for x in line.split()])
        except ValueError:
            continue  # a failed run: no figure
    rows = [r for r in rows if len(r) == 3 and min(r) > 0]
    if not rows:
        sys.exit("no complete round")
    off, on, watched = (statistics.median(c) for c in zip(*rows))
    text = [
        "median QPS of %d rounds: off %.0f, on %.0f, on+scraped+view %.0f" % (len(rows), off, on, watched),
        "tallies (metrics on, nobody looking) / off, median of the rounds' ratios: %.3f"
        % statistics.median(b / a for a, b, c in rows),
        "scraped every second + view open / on, median of the rounds' ratios: %.3f"
        % statistics.median(c / b for a, b, c in rows),
        "the last view's stream got %s entries (a sample: at most 200 a second per worker)" % lines,
    ]
    with open(text_out, "w") as f:
        f.write("\n".join(text) + "\n")
    print("\n".join(text))
    group = "private-zone answer, median of %d rounds" % len(rows)
    chart.write_chart(svg_out, "What /metrics and the live view cost", "QPS", [
        (group, [("privresd, no metrics", off), ("privresd --metrics-listen", on),
                 ("privresd, scraped 1/s + view open", watched)])])


if __name__ == "__main__":
    main()
