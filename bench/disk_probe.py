#!/usr/bin/env python3
"""Times one 8 KiB write + fdatasync every INTERVAL seconds in DIR, printing
"<unix seconds> <ms>" per write: the disk's own commit latency, beside the
database's. Used by scripts/bench (the throttled scenario) to wait for a quiet
disk before each window and to report what the disk did during it.

    bench/disk_probe.py DIR [INTERVAL] [SECONDS]
"""
import os
import sys
import time

directory = sys.argv[1]
interval = float(sys.argv[2]) if len(sys.argv) > 2 else 0.05
duration = float(sys.argv[3]) if len(sys.argv) > 3 else float("inf")
path = os.path.join(directory, ".backfill-disk-probe")
fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
block = b"\0" * 8192
end = time.time() + duration
try:
    while time.time() < end:
        t0 = time.time()
        os.pwrite(fd, block, 0)
        os.fdatasync(fd)
        t1 = time.time()
        print("%.3f %.3f" % (t1, (t1 - t0) * 1000), flush=True)
        time.sleep(max(0.0, interval - (time.time() - t0)))
finally:
    os.close(fd)
    os.unlink(path)
