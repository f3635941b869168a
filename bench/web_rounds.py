#!/usr/bin/python3
"""bench_web.sh's summary: the medians of its rounds and of the ratios taken
within each round, as text and as a chart (chart.py) beside it.

    web_rounds.py ROUNDS_FILE STREAM_LINES OUT.txt OUT.svg

ROUNDS_FILE: one line per round, "off on watched" pairs of (QPS flat out, CPU
µs per answer flat out): off_qps off_cpu on_qps on_cpu watched_qps
watched_cpu."""
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
    rows = [r for r in rows if len(r) == 6 and min(r) > 0]
    if not rows:
        sys.exit("no complete round")
    med = statistics.median
    off, on, watched = (med(r[i] for r in rows) for i in (0, 2, 4))
    coff, con, cwatched = (med(r[i] for r in rows) for i in (1, 3, 5))
    text = [
        "median of %d rounds, QPS flat out: off %.0f, on %.0f, on+scraped+view %.0f"
        % (len(rows), off, on, watched),
        "median of %d rounds, CPU µs per answer flat out: off %.2f, on %.2f, "
        "on+scraped+view %.2f" % (len(rows), coff, con, cwatched),
        "tallies (metrics on, nobody looking) / off, medians of the rounds' ratios: "
        "QPS %.3f, CPU per answer %.3f" % (med(r[2] / r[0] for r in rows),
                                          med(r[3] / r[1] for r in rows)),
        "scraped every second + view open / on, medians of the rounds' ratios: "
        "QPS %.3f, CPU per answer %.3f" % (med(r[4] / r[2] for r in rows),
                                          med(r[5] / r[3] for r in rows)),
        "the last view's stream got %s entries (a sample: at most 50 a second per worker)" % lines,
    ]
    with open(text_out, "w") as f:
        f.write("\n".join(text) + "\n")
    print("\n".join(text))
    labels = ("privresd, no metrics", "privresd --metrics-listen",
              "privresd, scraped 1/s + view open")
    chart.write_chart(svg_out, "What /metrics and the live view cost", "", [
        ("QPS flat out, median of %d rounds" % len(rows), list(zip(labels, (off, on, watched)))),
        ("CPU µs per answer flat out (lower is better)",
         list(zip(labels, (coff, con, cwatched))))])


if __name__ == "__main__":
    main()
