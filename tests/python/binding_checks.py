#!/usr/bin/env python3
"""Checks of the Python binding that need a thread or the exceptions
themselves, for tests/integration/python_binding_test.cc (which prepares the
tables on the dev servers and asserts on the "key=value" lines this prints):

  binding_checks.py cancel SECONDS ARG...  cancel from another thread after
      SECONDS of a long slice: outcome, rows, after_cancel (seconds)
  binding_checks.py error ARG...  open the job and run a slice: raised (the
      exception's class, or None), code, message, text (str(e))
  binding_checks.py events ARG...  run to the end, events to a callback:
      outcome (or raised), message, and an event=JSON line per event

ARGs are `backfill run`'s flags.
"""

import json
import sys
import threading
import time

import backfill


def cancel(seconds, args):
    job = backfill.Job(*args)
    cancelled_at = []

    def cancel_later():
        time.sleep(seconds)
        cancelled_at.append(time.monotonic())
        job.cancel()

    threading.Thread(target=cancel_later).start()
    result = job.run_slice(600)
    ended = time.monotonic()
    job.close()
    return {"outcome": result.outcome, "rows": result.rows,
            "after_cancel": ended - cancelled_at[0] if cancelled_at else None}


def error(args):
    try:
        with backfill.Job(*args) as job:
            job.run_slice(5)
    except backfill.BackfillError as e:
        return {"raised": type(e).__name__, "code": int(e.code),
                "message": e.message, "text": str(e)}
    return {"raised": None}


def events(args):
    seen = []
    try:
        with backfill.Job(*args,
                          on_event=lambda e: seen.append(json.dumps(e))) as job:
            result = job.run_slice(None)
    except backfill.BackfillError as e:
        return {"raised": type(e).__name__, "message": e.message,
                "event": seen}
    return {"outcome": result.outcome, "message": result.message,
            "event": seen}


def main():
    check, args = sys.argv[1], sys.argv[2:]
    if check == "cancel":
        out = cancel(float(args[0]), args[1:])
    elif check == "error":
        out = error(args)
    else:
        out = events(args)
    for key, value in out.items():
        for item in value if isinstance(value, list) else [value]:
            print(f"{key}={item}")


if __name__ == "__main__":
    main()
