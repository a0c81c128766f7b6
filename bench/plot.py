#!/usr/bin/env python3
"""PNG plots of scripts/bench's throttled scenario, drawn with gnuplot.

  bench/plot.py OUT [ROUND]

Reads the per-window series that bench/throttled.sh writes into
OUT/windows/DB-CONTENDER-ROUND.{fg,lag} (seconds since the contender started,
then a foreground latency in ms or a replica lag in s) and writes, per
database, into OUT/plots:

  DB-foreground.png  the foreground's p99 in each 5 s of the window
  DB-lag.png         the replica's lag from the start of the run until it
                     had applied it all

for the one-shot statement next to the engine at its default pacing, with
--max-commit-latency 1.25x, and quiet, from one round (default 1). A
contender without series in OUT is left out; a database without any is
skipped. Needs gnuplot (Debian's gnuplot-nox).
"""

import math
import os
import subprocess
import sys

DATABASES = {"pg": "PostgreSQL", "my": "MariaDB"}
# (file name part, legend), in drawing order.
CONTENDERS = [
    ("oneshot", "one-shot statement"),
    ("backfill", "backfill, default pacing"),
    ("backfill_max-commit-latency_1.25x", "backfill --max-commit-latency 1.25x"),
    ("quiet", "quiet"),
]


def read_series(path):
    points = []
    with open(path) as f:
        for line in f:
            fields = line.split()
            if len(fields) == 2:
                points.append((float(fields[0]), float(fields[1])))
    return points


BUCKET_SECONDS = 5


def p99_per_bucket(points):
    """[(bucket middle, p99 of the values in it)], nearest-rank, as the
    tables; buckets of BUCKET_SECONDS (1500 transactions at 300 tx/s)."""
    buckets = {}
    for t, v in points:
        buckets.setdefault(int(t // BUCKET_SECONDS), []).append(v)
    out = []
    for b in sorted(buckets):
        values = sorted(buckets[b])
        rank = max(1, math.ceil(0.99 * len(values)))
        out.append(((b + 0.5) * BUCKET_SECONDS, values[rank - 1]))
    return out


def write_data(path, points):
    with open(path, "w") as f:
        for t, v in points:
            f.write(f"{t:.3f} {v:.6f}\n")


def plot(png, title, ylabel, curves, logscale):
    """curves: [(data file, legend)]."""
    lines = [
        "set terminal pngcairo size 1000,420 font ',10'" if has_cairo()
        else "set terminal png size 1000,420",
        f"set output '{png}'",
        f"set title '{title}'",
        "set xlabel 'seconds since the contender started'",
        f"set ylabel '{ylabel}'",
        "set grid",
        "set key top right",
    ]
    if logscale:
        lines.append("set logscale y")
    series = ", ".join(f"'{data}' using 1:2 with lines title '{legend}'"
                       for data, legend in curves)
    lines.append(f"plot {series}")
    subprocess.run(["gnuplot"], input="\n".join(lines) + "\n", text=True,
                   check=True)


def has_cairo():
    probe = subprocess.run(["gnuplot", "-e", "set terminal"],
                           capture_output=True, text=True)
    return "pngcairo" in probe.stdout + probe.stderr


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: bench/plot.py OUT [ROUND]")
    out = sys.argv[1]
    rnd = sys.argv[2] if len(sys.argv) == 3 else "1"
    windows = os.path.join(out, "windows")
    plots = os.path.join(out, "plots")
    os.makedirs(plots, exist_ok=True)
    for db, name in DATABASES.items():
        fg, lag = [], []
        for part, legend in CONTENDERS:
            base = os.path.join(windows, f"{db}-{part}-{rnd}")
            if not os.path.exists(base + ".fg"):
                continue
            data = os.path.join(plots, f"{db}-{part}-{rnd}")
            write_data(data + ".fg.dat", p99_per_bucket(read_series(base + ".fg")))
            fg.append((data + ".fg.dat", legend))
            if part != "quiet" and os.path.exists(base + ".lag"):
                write_data(data + ".lag.dat", read_series(base + ".lag"))
                lag.append((data + ".lag.dat", legend))
        if not fg:
            continue
        written = [os.path.join(plots, f"{db}-foreground.png")]
        plot(written[0],
             f"{name}: foreground p99 in each {BUCKET_SECONDS} s (round {rnd})",
             "p99 latency (ms, log scale)", fg, logscale=True)
        if lag:
            written.append(os.path.join(plots, f"{db}-lag.png"))
            plot(written[1], f"{name}: replica lag (round {rnd})", "lag (s)",
                 lag, logscale=False)
        print("plots: " + ", ".join(written))


if __name__ == "__main__":
    main()
