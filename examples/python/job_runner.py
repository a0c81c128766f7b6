#!/usr/bin/env python3
"""A job runner in Python over the backfill binding: runs a backfill in
slices of bounded time until it is done, as a Celery or cron task would,
and prints one JSON line per slice.

  job_runner.py --dsn URI --table T --set "c = expr" [--set ...]
                --slice-seconds N [--replica URI ...] [--max-lag D]
                [other `backfill run` flags, passed as they are]

Exits 0 when done, 3 when stopped or paused, 4 at a critical threshold; on
an error prints {"error": message, "code": N} on stderr and exits with N (2:
bad input, nothing written; 1: failed, run again once fixed).

The binding is found on PYTHONPATH (bindings/python in the source tree) and
the library through $BACKFILL_LIBRARY or where the package installed it.
"""

import argparse
import json
import signal
import sys
import threading

import backfill


def cancel_on_sigterm(job):
    """SIGTERM (a worker shutting down) ends the slice after its chunk. A
    Python signal handler would wait for the slice to return, so a thread
    waits for the signal and cancels the job from there."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})

    def wait():
        signal.sigwait({signal.SIGTERM})
        job.cancel()

    threading.Thread(target=wait, daemon=True).start()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--set", action="append", required=True)
    parser.add_argument("--slice-seconds", type=float, required=True)
    parser.add_argument("--replica", action="append")
    parser.add_argument("--max-lag")
    known, passed = parser.parse_known_args()
    try:
        job = backfill.Job(*passed, dsn=known.dsn, table=known.table,
                           set=known.set, replica=known.replica,
                           max_lag=known.max_lag)
    except backfill.BackfillError as e:
        print(json.dumps({"error": e.message, "code": int(e.code)}),
              file=sys.stderr)
        return int(e.code)
    cancel_on_sigterm(job)
    with job:
        while True:
            try:
                result = job.run_slice(known.slice_seconds)
            except backfill.BackfillError as e:
                print(json.dumps({"error": e.message, "code": int(e.code)}),
                      file=sys.stderr)
                return int(e.code)
            print(json.dumps({"outcome": result.outcome, "rows": result.rows,
                              "progress": round(result.progress, 4)}),
                  flush=True)
            if result.outcome != "slice_end":
                return int(result.code)


if __name__ == "__main__":
    sys.exit(main())
