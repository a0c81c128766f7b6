#!/usr/bin/env sysbench
-- Foreground OLTP load for scripts/bench on MariaDB: sysbench's own
-- oltp_update_index, unchanged, plus one line per transaction in
-- $BENCH_FG_LOG.<thread>: "<end, unix seconds> <latency, ms>". scripts/bench
-- reads these to take the p99 over exactly the seconds a backfill ran, which
-- sysbench's end-of-run --percentile cannot do. The latency is the
-- transaction's execution time (without --rate queueing), as pgbench's log
-- gives it after subtracting its schedule lag.
--
--   BENCH_FG_LOG=/tmp/fg sysbench bench/fg_sysbench.lua --mysql-... run

package.path = "/usr/share/sysbench/?.lua;" .. package.path
require("oltp_common")

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_fg_timespec;
int clock_gettime(int clock_id, bench_fg_timespec *tp);
]]
local CLOCK_REALTIME = 0
local ts = ffi.new("bench_fg_timespec")

local function now()
  ffi.C.clock_gettime(CLOCK_REALTIME, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

function prepare_statements()
  prepare_index_updates()
end

local log
local oltp_thread_init = thread_init

function thread_init()
  oltp_thread_init()
  local prefix = os.getenv("BENCH_FG_LOG")
  if prefix then
    log = assert(io.open(prefix .. "." .. sysbench.tid, "w"))
    log:setvbuf("line")
  end
end

function event()
  local t0 = now()
  execute_index_updates(con)
  if log then
    local t1 = now()
    log:write(string.format("%.6f %.3f\n", t1, (t1 - t0) * 1000))
  end
end
