#!/usr/bin/env sysbench
-- Foreground OLTP load for scripts/bench on MariaDB: the transactions of
-- sysbench's own oltp_update_index, paced and logged the way pgbench -R and
-- --log do it, so the two databases' foreground figures mean the same thing.
--
-- Pacing: with BENCH_FG_RATE=R (transactions/s over all threads), each thread
-- starts transactions on its own Poisson schedule of R/threads per second,
-- like pgbench -R; a transaction that cannot start on time starts late, and
-- its latency counts from its scheduled start (queueing included). Without
-- BENCH_FG_RATE, threads run back to back.
--
-- Log: with BENCH_FG_LOG=prefix, each thread writes prefix.<thread>, one line
-- per transaction: "<end, unix seconds> <latency ms> <execution ms>", where
-- latency is from the scheduled start and execution from the actual start.
-- scripts/bench takes percentiles over exactly the seconds a backfill ran,
-- which sysbench's end-of-run --percentile cannot do.
--
--   BENCH_FG_RATE=600 BENCH_FG_LOG=/tmp/fg sysbench bench/fg_sysbench.lua \
--     --mysql-... --threads=4 --time=60 run

package.path = "/usr/share/sysbench/?.lua;" .. package.path
require("oltp_common")

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_fg_timespec;
int clock_gettime(int clock_id, bench_fg_timespec *tp);
int usleep(unsigned int usec);
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
local rate  -- per thread, transactions/s; nil = unpaced
local scheduled
local oltp_thread_init = thread_init

function thread_init()
  oltp_thread_init()
  local prefix = os.getenv("BENCH_FG_LOG")
  if prefix then
    log = assert(io.open(prefix .. "." .. sysbench.tid, "w"))
    log:setvbuf("line")
  end
  local total = tonumber(os.getenv("BENCH_FG_RATE") or "")
  if total and total > 0 then
    rate = total / sysbench.opt.threads
    math.randomseed(os.time() + sysbench.tid)
    scheduled = now()
  end
end

function event()
  if rate then
    -- Exponential inter-arrival times: a Poisson process, as pgbench -R.
    scheduled = scheduled - math.log(1 - math.random()) / rate
    local wait = scheduled - now()
    if wait > 0 then ffi.C.usleep(math.floor(wait * 1e6)) end
  end
  local t0 = now()
  execute_index_updates(con)
  if log then
    local t1 = now()
    local from = rate and scheduled or t0
    log:write(string.format("%.6f %.3f %.3f\n", t1, (t1 - from) * 1000,
                            (t1 - t0) * 1000))
  end
end
