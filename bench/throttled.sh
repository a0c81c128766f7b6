# The throttled scenario of scripts/bench (PARTS pg-throttle, my-throttle):
# what a backfill costs an application that keeps running on the primary.
# Sourced by scripts/bench, whose helpers (pgp, myp, timed, engine, ...) it
# uses; not meant to run alone.
#
# A foreground OLTP load runs throughout: pgbench -c 4 -j 2 -R FG_RATE_PG
# (tpcb-like, scale 10), or sysbench's oltp_update_index transactions paced
# the same way (bench/fg_sysbench.lua, 4 threads, FG_RATE_MY tx/s). Beside it,
# a one-row write and commit on the primary 10 times a second, timed (a
# pgbench script on PostgreSQL, bench/mysql_lag_sampler.pl on MariaDB), whose
# row is read on the replica every 100ms for the replica's lag.
#
# The noise of a 2-core machine is taken out as far as it can be:
#   - the primary gets core 0 to itself (every process and thread of it, and
#     of the other primary, idle meanwhile; kernel threads that may move are
#     moved off it); the replicas, the load
#     generator, the samplers, the engine and this script run on core 1;
#   - the load generator and the write+commit probe run under chrt -f 50, so
#     their own scheduling stays out of the latencies they report;
#   - autovacuum is off for every contender alike (workers already running
#     are cancelled); the load's tables are VACUUMed between contenders. On
#     MariaDB, InnoDB's automatic statistics recalculation is off, and each
#     window waits for purge to work off the undo history (InnoDB's purge
#     cannot be switched off);
#   - before each window: a fresh table, the replica caught up, CHECKPOINT on
#     primary and replica (MariaDB: dirty pages flushed on both), sync, and
#     the disk quiet again: bench/disk_probe.py times an 8 KiB write +
#     fdatasync on the servers' filesystem every 50ms throughout, and each
#     window waits (up to 60s) until the last 5s of it had no write over
#     10ms. The probe's p99 and max in each window are reported, since this
#     machine's disk stalls now and then on its own (seen: p99 19ms, max
#     0.6s, with nothing else running);
#   - the window opens WARM_SECS after the contender starts and lasts
#     WINDOW_SECS; contenders alternate over THROTTLE_ROUNDS rounds.
# Pinning and autovacuum are restored when the benchmark ends.
#
# Contenders (THROTTLE_CONTENDERS, or THROTTLE_CONTENDERS_PG / _MY per db):
#   quiet       the load alone, for WARM_SECS + WINDOW_SECS
#   spin        the control: a busy loop on the primary's core, no database work
#   oneshot     the one-shot UPDATE, run again and again (upper, then lower)
#               until the window has passed
#   backfill[:FLAG=VALUE...]   `backfill run` with --replica and --max-lag 1s
#               plus --FLAG VALUE for each word, e.g.
#               backfill:max-rows-per-second=5000:chunk-rows=500; the words
#               rows=N (table size), bin=PATH (another binary) and noreplica
#               (no --replica) are the benchmark's own. A run is stopped
#               (SIGTERM, a clean stop) when the window closes.
# Reported per contender: rows/s, the foreground latency (from the scheduled
# start: what the application sees) p50/p95/p99 pooled over its windows, the
# write+commit probe's p95, the replica lag p99 and max from the start of the
# run until the replica has applied it all; each as a ratio to quiet and to
# the one-shot.

THROTTLE_ROUNDS=${THROTTLE_ROUNDS:-3}
WINDOW_SECS=${WINDOW_SECS:-60}
WARM_SECS=${WARM_SECS:-10}
THROTTLE_SWEEP=${THROTTLE_SWEEP:-2500 5000 10000 20000 40000}
DEFAULT_CONTENDERS="quiet spin oneshot backfill backfill:max-commit-latency=1.25x"
# The load signal and the sweep alone, without the default commit latency.
SWEEP=$(printf 'backfill:max-commit-latency=0:max-rows-per-second=%s ' $THROTTLE_SWEEP)
THROTTLE_CONTENDERS_PG=${THROTTLE_CONTENDERS_PG:-${THROTTLE_CONTENDERS:-$DEFAULT_CONTENDERS backfill:max-commit-latency=0:max-load=active_sessions=${THROTTLE_LOAD_PG:-3} $SWEEP}}
THROTTLE_CONTENDERS_MY=${THROTTLE_CONTENDERS_MY:-${THROTTLE_CONTENDERS:-$DEFAULT_CONTENDERS backfill:max-commit-latency=0:max-load=Threads_running=${THROTTLE_LOAD_MY:-3} $SWEEP}}
DEVDB=${BACKFILL_DEV_DB_DIR:-/tmp/backfill-dev-db}

THROTTLE=$OUT/throttle.tsv
WIN=$OUT/windows
mkdir -p "$WIN"
# What the load generator, the probes and the samplers write goes to RAM
# while they run: on a disk that stalls, a pgbench thread appending to its
# --log blocks too, and the stall lands in the latencies it reports. Moved
# into $OUT when the benchmark ends.
SHM=$(mktemp -d /dev/shm/backfill-bench.XXXXXX)
for d in pgbench-log probe-log sysbench-log; do
  mkdir -p "$SHM/$d"
  ln -sfn "$SHM/$d" "$OUT/$d"
done
for f in pg-throttle-lag.txt my-throttle-lag.txt disk-probe.txt; do
  : >"$SHM/$f"
  ln -sf "$SHM/$f" "$OUT/$f"
done
printf "db\tcontender\tround\trows\tseconds\trows_s\twindow_s\tfg_n\tfg_p50\tfg_p95\tfg_p99\tprobe_p95\tlag_p99\tlag_max\tdisk_p99\tdisk_max\tnote\n" >"$THROTTLE"
DISK_LOG=$OUT/disk-probe.txt

# Percentile P (0-100) of the numbers on stdin (nearest rank).
pctl() { sort -g | awk -v p="$1" '{a[NR]=$1} END {if (!NR) {print "NA"; exit} i=int(NR*p/100+0.999999); if (i<1) i=1; print a[i]}'; }

# ---------------------------------------------------------------- the machine

# pin CORES PID...: every thread of each PID and of its child processes.
pin() {
  local cores=$1 pid p
  shift
  for pid in "$@"; do
    for p in "$pid" $(pgrep -P "$pid"); do taskset -a -c -p "$cores" "$p" >/dev/null 2>&1 || true; done
  done
}
server_pids() {  # server_pids primary|replica: the PostgreSQL and MariaDB server of that role
  head -1 "$DEVDB/pg-$1/postmaster.pid"
  cat "$DEVDB/my-$1/mysqld.pid"
}
# The kernel threads that may run anywhere (not the per-CPU ones, which the
# kernel does not let move): off the primary's core too. On this VM DAMON's
# kdamond scans memory from core 0 now and then; quiet MariaDB windows read a
# foreground p99 of 12.8ms with it there and about half that without.
movable_kthreads() {
  local p
  for p in $(pgrep -P 2); do
    if grep -q '^Cpus_allowed_list:[[:space:]]*0-1$' "/proc/$p/status" 2>/dev/null; then
      echo "$p"
    fi
  done
}
pin_machine() {
  pin 0 $(server_pids primary)
  pin 1 $(server_pids replica)
  KTHREADS=$(movable_kthreads)
  for p in $KTHREADS; do taskset -c -p 1 "$p" >/dev/null 2>&1 || true; done
  taskset -c -p 1 $$ >/dev/null  # this script and all it starts
  PINNED=1
}
SAVED_STATS_RECALC=""
throttled_cleanup() {  # called by scripts/bench's cleanup
  local f
  for f in "$SHM"/*; do
    [ -e "$f" ] || continue
    rm -rf "${OUT:?}/$(basename "$f")"
    mv "$f" "$OUT/"
  done
  rmdir "$SHM" 2>/dev/null || true
  if [ "${PINNED:-0}" = 1 ]; then
    pin 0-1 $(server_pids primary) $(server_pids replica)
    for p in ${KTHREADS:-}; do taskset -c -p 0-1 "$p" >/dev/null 2>&1 || true; done
  fi
  if [ "${AUTOVACUUM_OFF:-0}" = 1 ]; then
    "${PSQL[@]}" -p "$PG_PORT" -d postgres -c "ALTER SYSTEM RESET autovacuum" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
  fi
  [ -z "$SAVED_STATS_RECALC" ] ||
    "${MARIADB[@]}" -P "$MY_PORT" -e "SET GLOBAL innodb_stats_auto_recalc = $SAVED_STATS_RECALC" 2>/dev/null || true
}

# The load generator and the probe: their own scheduling out of their numbers.
rt() { chrt -f 50 "$@"; }

# ------------------------------------------------------------------- settling

pg_quiet_down() {  # autovacuum off for all contenders alike
  AUTOVACUUM_OFF=1
  pgp -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null
  sleep 1
  pgp -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'" >/dev/null
}

my_quiet_down() {
  SAVED_STATS_RECALC=$(myp -e "SELECT @@innodb_stats_auto_recalc")
  myp -e "SET GLOBAL innodb_stats_auto_recalc = OFF"
}

# disk_quiet: waits (up to 60s) until the disk probe saw no write over 10ms
# in the last 5s.
disk_quiet() {
  local now_s worst
  for _ in $(seq 120); do
    now_s=$(date +%s.%N)
    worst=$(awk -v a="$(echo "$now_s - 5" | bc -l)" '$1 >= a {if ($2 > m) m = $2} END {print m + 0}' "$DISK_LOG")
    awk -v w="$worst" 'BEGIN {exit !(w < 10)}' && return 0
    sleep 0.5
  done
  log "warning: the disk did not settle (a write took ${worst}ms in the last 5s)"
}

pg_window_settle() {
  pgp -c "VACUUM pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history, bench_heartbeat" >/dev/null
  pg_settle
  sync
  disk_quiet
}

# my_purged: waits (up to 60s) until InnoDB's purge has worked off the undo
# history of the previous contender.
my_purged() {
  local n
  for _ in $(seq 120); do
    n=$(myp -e "SELECT count FROM information_schema.INNODB_METRICS WHERE name = 'trx_rseg_history_len'")
    [ "${n:-0}" -lt 5000 ] && return 0
    sleep 0.5
  done
  log "warning: InnoDB history length still $n after 60s"
}

my_window_settle() {
  my_settle 20
  # The binlogs of the replica's applied past: in RAM a few one-shot rounds'
  # row images (4 GB a round) would fill the tmpfs, and memory.
  my_purge_binlogs
  my_purged
  sync
  disk_quiet
}

# ------------------------------------------------------------------ contenders

# parse_engine SPEC: sets C_ARGS (flags for `backfill run`), C_ROWS, C_BIN and
# C_REPLICA from a backfill[:FLAG=VALUE...] contender.
parse_engine() {
  local words w k rate=""
  C_ARGS=()
  C_ROWS=$THROTTLE_ROWS
  C_BIN=$BACKFILL
  C_REPLICA=1
  IFS=: read -ra words <<<"${1#backfill}"
  for w in "${words[@]}"; do
    [ -n "$w" ] || continue
    k=${w%%=*}
    case $k in
      rows) C_ROWS=${w#*=} ;;
      bin) C_BIN=${w#*=} ;;
      noreplica) C_REPLICA=0 ;;
      *)
        if [ "$k" = "$w" ]; then C_ARGS+=("--$k"); else C_ARGS+=("--$k" "${w#*=}"); fi
        [ "$k" != max-rows-per-second ] || rate=${w#*=}
        ;;
    esac
  done
  # A capped run needs no more rows than it can walk before the window closes.
  if [ -n "$rate" ]; then
    local need=$((rate * (WARM_SECS + WINDOW_SECS + 20)))
    [ "$need" -ge "$C_ROWS" ] || C_ROWS=$need
  fi
}

# oneshot_loop SECS CLIENT...: the one-shot UPDATE again and again until SECS
# have passed (the last one may run past them); prints passes=N.
ONESHOT_LOOP='end=$((SECONDS + $1)); flag=$2; shift 2; n=0
while [ $SECONDS -lt $end ]; do
  fn=upper; [ $((n % 2)) = 0 ] || fn=lower
  "$@" "$flag" "UPDATE users SET login_name = $fn(username)" || exit 1
  n=$((n + 1))
done
echo "passes=$n"'

# run_contender DB ROUND CONTENDER LOGFILE: one timed run (T_START, SECS from
# timed); sets ROWS_DONE and NOTE.
run_contender() {
  local db=$1 r=$2 c=$3 f=$4 secs=$((WARM_SECS + WINDOW_SECS)) dsn=$PG_DSN replica=$PG_REPLICA_DSN
  [ "$db" = pg ] || { dsn=$MY_DSN replica=$MY_REPLICA_DSN; }
  NOTE=""
  case $c in
    quiet)
      timed "$f" sleep "$secs"
      ROWS_DONE=0
      ;;
    spin)
      OK_CODES=124 timed "$f" taskset -c 0 timeout "$secs" sh -c 'while :; do :; done'
      ROWS_DONE=0
      NOTE="a busy loop on the primary's core, no database work"
      ;;
    oneshot)
      if [ "$db" = pg ]; then
        timed "$f" bash -c "$ONESHOT_LOOP" _ "$secs" -c "${PSQL[@]}" -p "$PG_PORT" -d "$DB"
      else
        timed "$f" bash -c "$ONESHOT_LOOP" _ "$secs" -e "${MARIADB[@]}" -P "$MY_PORT" "$DB"
      fi
      [ "$RETRY" = 0 ] || return 0
      local passes
      passes=$(sed -n 's/^passes=//p' "$f")
      ROWS_DONE=$((passes * THROTTLE_ROWS))
      NOTE="$passes passes"
      ;;
    backfill | backfill:*)
      local replica_args=()
      [ "$C_REPLICA" = 0 ] || replica_args=(--replica "$replica" --max-lag 1s)
      BACKFILL=$C_BIN CAP_SECS=$secs engine "$f" --dsn "$dsn" --job "throttle-${c//[:=\/,]/_}-$r" --table users \
        --set "login_name = upper(username)" "${replica_args[@]}" "${C_ARGS[@]}"
      NOTE=$ENGINE_NOTE
      ;;
    *) die "unknown throttled contender $c (quiet, spin, oneshot, backfill[:FLAG=VALUE...])" ;;
  esac
}

# The foreground's latencies (ms, from the scheduled start) of transactions
# that ended in [A, B]: pgbench --log lines "client tx latency_us script
# epoch us schedule_lag_us", or the sysbench wrapper's "end latency_ms
# exec_ms". fg_series A B T0 DB FILE...: "seconds since T0, latency" pairs.
fg_series() {
  local a=$1 b=$2 t0=$3 db=$4
  shift 4
  if [ "$db" = pg ]; then
    awk -v a="$a" -v b="$b" -v t0="$t0" '{t = $5 + $6 / 1e6; if (t >= a && t <= b) printf "%.3f %.3f\n", t - t0, $3 / 1000}' "$@"
  else
    awk -v a="$a" -v b="$b" -v t0="$t0" '$1 >= a && $1 <= b {printf "%.3f %.3f\n", $1 - t0, $2}' "$@"
  fi | sort -g
}
# logs_past T DB FILE...: waits (up to 30s) until the foreground logs and the
# probe's log hold a line past T; pgbench writes its logs through a buffer.
logs_past() {
  local t=$1 db=$2
  shift 2
  for _ in $(seq 60); do
    [ "$(fg_series "$t" 1e12 0 "$db" "$@" | head -1)" != "" ] &&
      [ "$(probe_series "$t" 1e12 0 "$db" | head -1)" != "" ] && return 0
    sleep 0.5
  done
  log "warning: the foreground or probe log has nothing past the window's end"
}
# probe_series A B T0 DB: the write+commit probe's latencies (ms), as pairs.
probe_series() {
  if [ "$4" = pg ]; then
    fg_series "$1" "$2" "$3" pg "$OUT"/probe-log/hb.*
  else
    awk -v a="$1" -v b="$2" -v t0="$3" '$1 >= a && $1 <= b && $4 != "NA" {printf "%.3f %.3f\n", $1 - t0, $4}' "$OUT/my-throttle-lag.txt"
  fi
}
# lag_series A B T0 FILE: replica lag samples ("time lag ...") as pairs.
lag_series() { awk -v a="$1" -v b="$2" -v t0="$3" '$1 >= a && $1 <= b && $2 != "NA" {printf "%.3f %s\n", $1 - t0, $2}' "$4"; }

# caught_up_after pg|my FILE: waits until the replica has applied everything
# the primary has written so far (replica_wait), then prints the time of the
# first lag sample after that below 0.3s, waiting up to 10 more minutes. (A
# MySQL replica receives a one-shot statement only when it commits; its lag
# climbs while it applies it.)
caught_up_after() {
  local file=$2 applied t
  applied=$(replica_wait "$1")
  for _ in $(seq 6000); do
    t=$(awk -v a="$applied" '$1 > a && $2 != "NA" && $2 < 0.3 {print $1; exit}' "$file")
    [ -n "$t" ] && { echo "$t"; return; }
    sleep 0.1
  done
  log "warning: replica did not catch up within 10 minutes"
  now
}

# throttled_contender DB ROUND CONTENDER: build, settle, run, measure.
throttled_contender() {
  local db=$1 r=$2 c=$3 name=${3//[:=\/,]/_} lagf=$OUT/$1-throttle-lag.txt
  local f=$OUT/$1-throttle-$2-$name.log base=$WIN/$1-$name-$2 t0 t_end w0 w1 t_caught
  C_ROWS=$THROTTLE_ROWS
  [[ $c != backfill* ]] || parse_engine "$c"
  log "$db-throttle round $r: $c, $C_ROWS rows"
  if [ "$db" = pg ]; then
    pg_make_users "$C_ROWS"
    pg_window_settle
  else
    my_make_users "$C_ROWS"
    my_window_settle
  fi
  run_contender "$db" "$r" "$c" "$f"
  [ "$RETRY" = 0 ] || return 0
  t0=$T_START
  t_end=$(echo "$T_START + $SECS" | bc -l)
  w0=$(echo "$t0 + $WARM_SECS" | bc -l)
  w1=$(echo "if ($t0 + $WARM_SECS + $WINDOW_SECS < $t_end) $t0 + $WARM_SECS + $WINDOW_SECS else $t_end" | bc -l)
  t_caught=$(caught_up_after "$db" "$lagf")
  local logs
  if [ "$db" = pg ]; then logs=("$OUT"/pgbench-log/fg.*); else logs=("$OUT"/sysbench-log/fg.*); fi
  logs_past "$w1" "$db" "${logs[@]}"
  fg_series "$w0" "$w1" "$t0" "$db" "${logs[@]}" >"$base.fg"
  probe_series "$w0" "$w1" "$t0" "$db" >"$base.probe"
  lag_series "$w0" "$w1" "$t0" "$DISK_LOG" >"$base.disk"
  # Lag counts from the start of the run until the replica has applied it.
  if [ "$c" = quiet ] || [ "$c" = spin ]; then
    lag_series "$w0" "$w1" "$t0" "$lagf" >"$base.lag"
  else
    lag_series "$t0" "$t_caught" "$t0" "$lagf" >"$base.lag"
  fi
  local window rows_s fg_n p50 p95 p99 probe95 lag99 lagmax disk99 diskmax
  window=$(echo "$w1 - $w0" | bc -l)
  rows_s=$(echo "$ROWS_DONE / $SECS" | bc -l)
  fg_n=$(wc -l <"$base.fg")
  p50=$(cut -d' ' -f2 "$base.fg" | pctl 50)
  p95=$(cut -d' ' -f2 "$base.fg" | pctl 95)
  p99=$(cut -d' ' -f2 "$base.fg" | pctl 99)
  probe95=$(cut -d' ' -f2 "$base.probe" | pctl 95)
  lag99=$(cut -d' ' -f2 "$base.lag" | pctl 99)
  lagmax=$(cut -d' ' -f2 "$base.lag" | pctl 100)
  disk99=$(cut -d' ' -f2 "$base.disk" | pctl 99)
  diskmax=$(cut -d' ' -f2 "$base.disk" | pctl 100)
  NOTE="$NOTE caught_up=$(printf '%.1f' "$(echo "$t_caught - $t_end" | bc -l)")s_after_end"
  [ "$(printf '%.0f' "$window")" -ge "$WINDOW_SECS" ] || NOTE="$NOTE; window only $(printf '%.0f' "$window")s (the run ended)"
  printf "%s\t%s\t%s\t%s\t%.2f\t%.0f\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$db" "$c" "$r" "$ROWS_DONE" \
    "$SECS" "$rows_s" "$window" "$fg_n" "$p50" "$p95" "$p99" "$probe95" "$lag99" "$lagmax" "$disk99" "$diskmax" \
    "$NOTE" >>"$THROTTLE"
  log "$db-throttle round $r: $c $(printf '%.0f' "$rows_s") rows/s, fg p50/p95/p99 $p50/$p95/$p99 ms," \
    "write+commit p95 $probe95 ms, lag p99 ${lag99}s max ${lagmax}s, disk p99/max $disk99/$diskmax ms ($NOTE)"
}

# throttled pg|my: the scenario on one database.
throttled() {
  local db=$1 r c lagf=$OUT/$1-throttle-lag.txt fg_pid pids=() contenders
  : >"$lagf"
  [ "${PINNED:-0}" = 1 ] || pin_machine
  if [ -z "${DISK_PID:-}" ]; then
    python3 "$ROOT/bench/disk_probe.py" "$DEVDB" 0.05 >"$DISK_LOG" &
    DISK_PID=$!
    BG_PIDS+=("$DISK_PID")
  fi
  if [ "$db" = pg ]; then
    contenders=$THROTTLE_CONTENDERS_PG
    pg_quiet_down
    log "pg-throttle: pgbench -i -s 10"
    retrying "$PGBENCH" -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -i -s 10 -q "$DB" >"$OUT/pgbench-init.log"
    pgp -c "DROP TABLE IF EXISTS bench_heartbeat" \
      -c "CREATE TABLE bench_heartbeat (id int PRIMARY KEY, ts timestamptz NOT NULL)" \
      -c "INSERT INTO bench_heartbeat VALUES (1, clock_timestamp())"
    pg_settle
    # The write+commit probe, which also writes the heartbeat row: one
    # autocommit UPDATE, 10 times a second, each logged with its latency.
    echo "UPDATE bench_heartbeat SET ts = clock_timestamp() WHERE id = 1;" >"$OUT/probe.sql"
    mkdir -p "$OUT/probe-log" "$OUT/pgbench-log"
    (cd "$OUT/probe-log" && exec chrt -f 50 "$PGBENCH" -n -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -c 1 \
      -R 10 -T 36000 -f "$OUT/probe.sql" --log --log-prefix=hb "$DB") >"$OUT/probe.log" 2>&1 &
    pids+=($!)
    # Lag: the replica's clock minus the newest heartbeat it sees.
    echo "SELECT extract(epoch FROM clock_timestamp()), extract(epoch FROM clock_timestamp() - ts)
          FROM bench_heartbeat WHERE id = 1 \\watch 0.1" |
      "${PSQL[@]}" -F ' ' -p "$PG_REPLICA_PORT" -d "$DB" >"$lagf" 2>"$OUT/pg-lag.err" &
    pids+=($!)
    (cd "$OUT/pgbench-log" && exec chrt -f 50 "$PGBENCH" -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -c 4 -j 2 \
      -R "$FG_RATE_PG" -T 36000 --log --log-prefix=fg "$DB") >"$OUT/pgbench.log" 2>&1 &
    fg_pid=$!
  else
    contenders=$THROTTLE_CONTENDERS_MY
    my_quiet_down
    log "my-throttle: sysbench oltp_update_index prepare"
    local sb=(sysbench --db-driver=mysql --mysql-host="$MY_HOST" --mysql-port="$MY_PORT"
      --mysql-user="$MY_USER" --mysql-password="$MYSQL_PWD" --mysql-db="$DB"
      --tables=4 --table-size=100000)
    retrying "${sb[@]}" "$ROOT/bench/fg_sysbench.lua" prepare >"$OUT/sysbench-prepare.log"
    chrt -f 50 perl "$ROOT/bench/mysql_lag_sampler.pl" "$MY_PORT" "$MY_REPLICA_PORT" "$DB" "$MY_CNF" \
      >"$lagf" 2>"$OUT/my-lag.err" &
    pids+=($!)
    mkdir -p "$OUT/sysbench-log"
    BENCH_FG_RATE=$FG_RATE_MY BENCH_FG_LOG=$OUT/sysbench-log/fg chrt -f 50 "${sb[@]}" --threads=4 --time=36000 \
      "$ROOT/bench/fg_sysbench.lua" run >"$OUT/sysbench.log" 2>&1 &
    fg_pid=$!
  fi
  pids+=("$fg_pid")
  BG_PIDS+=("${pids[@]}")
  sleep 5
  kill -0 "$fg_pid" 2>/dev/null || die "the foreground load did not start (see $OUT/pgbench.log / sysbench.log)"
  sleep "$WARMUP_SECS"  # a fresh load stalls now and then in its first half minute
  for r in $(seq 1 "$THROTTLE_ROUNDS"); do
    for c in $(rotate "$r" $contenders); do
      attempts throttled_contender "$db" "$r" "$c"
      kill -0 "$fg_pid" 2>/dev/null || die "the foreground load died (see $OUT/pgbench.log / sysbench.log)"
    done
  done
  stop_bg "${pids[@]}"
  if [ "$db" = pg ]; then
    pgp -c "DROP TABLE IF EXISTS users, bench_heartbeat, pgbench_accounts, pgbench_branches,
              pgbench_history, pgbench_tellers"
  else
    myp -e "DROP TABLE IF EXISTS users, bench_heartbeat, sbtest1, sbtest2, sbtest3, sbtest4"
  fi
}

# ------------------------------------------------------------------- report

# pooled DB CONTENDER KIND P: percentile P of a contender's windows pooled.
pooled() { { cat "$WIN/$1-${2//[:=\/,]/_}"-*."$3" 2>/dev/null || true; } | cut -d' ' -f2 | pctl "$4"; }

throttled_summary() {
  local db c quiet_p99 one_p99 one_rows
  [ "$(wc -l <"$THROTTLE")" -gt 1 ] || return 0
  echo "### Throttled: the foreground on the primary while a column backfill runs"
  echo
  echo "Table: users, $THROTTLE_ROWS rows (fewer for a capped run: what it can walk); \`login_name = upper(username)\`; engine runs with \`--replica … --max-lag 1s\`."
  echo "Foreground: PostgreSQL pgbench -c 4 -j 2 -R $FG_RATE_PG (tpcb-like, scale 10); MariaDB sysbench oltp_update_index, 4 threads, $FG_RATE_MY tx/s (bench/fg_sysbench.lua); both under chrt -f 50 on core 1, the primary alone on core 0."
  echo "Windows: $WINDOW_SECS s, opening $WARM_SECS s after the contender starts; $THROTTLE_ROUNDS rounds, contenders alternating. Latency from the scheduled start, pooled over the windows; the per-window p99 range beside it."
  echo "Write+commit: a one-row autocommit write on the primary 10 times a second. Lag: from the start of the run until the replica had applied it all (quiet and spin: the window)."
  echo
  for db in pg my; do
    local list
    [ "$db" = pg ] && list=$THROTTLE_CONTENDERS_PG || list=$THROTTLE_CONTENDERS_MY
    awk -F'\t' -v d="$db" '$1 == d' "$THROTTLE" | grep -q . || continue
    quiet_p99=$(pooled "$db" quiet fg 99)
    one_p99=$(pooled "$db" oneshot fg 99)
    one_rows=$(awk -F'\t' -v d="$db" '$1 == d && $2 == "oneshot" {print $6}' "$THROTTLE" | pctl 50)
    echo "#### $([ "$db" = pg ] && echo PostgreSQL || echo MariaDB)"
    echo
    echo "| contender | windows | rows/s (median, min–max) | × one-shot | fg p50 | fg p95 | fg p99 | × quiet | × one-shot | p99 per window | write+commit p95 | lag p99 (median of runs) | lag max | disk fsync p99 / max, pooled |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    for c in $list; do
      awk -F'\t' -v d="$db" -v c="$c" '$1 == d && $2 == c' "$THROTTLE" | grep -q . || continue
      local p99 rows_med rows_rng wins p99rng lag99 lagmax
      p99=$(pooled "$db" "$c" fg 99)
      rows_med=$(awk -F'\t' -v d="$db" -v c="$c" '$1 == d && $2 == c {print $6}' "$THROTTLE" | pctl 50)
      rows_rng=$(awk -F'\t' -v d="$db" -v c="$c" '$1 == d && $2 == c {print $6}' "$THROTTLE" | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {print lo "-" hi}')
      wins=$(awk -F'\t' -v d="$db" -v c="$c" '$1 == d && $2 == c' "$THROTTLE" | wc -l)
      p99rng=$(awk -F'\t' -v d="$db" -v c="$c" '$1 == d && $2 == c {print $11}' "$THROTTLE" | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {print lo "-" hi}')
      lag99=$(awk -F'\t' -v d="$db" -v c="$c" '$1 == d && $2 == c {print $13}' "$THROTTLE" | pctl 50)
      lagmax=$(awk -F'\t' -v d="$db" -v c="$c" '$1 == d && $2 == c {print $14}' "$THROTTLE" | pctl 100)
      awk -v c="$c" -v w="$wins" -v rm="$rows_med" -v rr="$rows_rng" -v om="$one_rows" \
        -v p50="$(pooled "$db" "$c" fg 50)" -v p95="$(pooled "$db" "$c" fg 95)" -v p99="$p99" \
        -v q="$quiet_p99" -v o="$one_p99" -v pr="$p99rng" -v pb="$(pooled "$db" "$c" probe 95)" \
        -v l99="$lag99" -v lm="$lagmax" -v d99="$(pooled "$db" "$c" disk 99)" -v dm="$(pooled "$db" "$c" disk 100)" \
        'function r(a, b) { return (b + 0 > 0 && a != "NA") ? sprintf("%.2f", a / b) : "-" }
        BEGIN { printf "| %s | %d | %.0f (%s) | %s | %s ms | %s ms | **%s ms** | **%s** | %s | %s ms | %s ms | %s s | %s s | %s / %s ms |\n",
          c, w, rm, rr, (rm > 0 ? r(rm, om) : "-"), p50, p95, p99, r(p99, q), r(p99, o), pr, pb, l99, lm, d99, dm }'
    done
    echo
    throttled_verdicts "$db" "$list" "$quiet_p99"
  done
}

# throttled_verdicts DB CONTENDERS QUIET_P99: the issue's targets, checked.
throttled_verdicts() {
  local db=$1 list=$2 q=$3 c p99 best=0 rate mcl_rows
  for c in $list; do
    [[ $c =~ ^backfill:max-commit-latency=0:max-rows-per-second=([0-9]+)$ ]] || continue
    rate=${BASH_REMATCH[1]}
    p99=$(pooled "$db" "$c" fg 99)
    [ "$p99" != NA ] && awk -v p="$p99" -v q="$q" 'BEGIN {exit !(p <= 1.25 * q)}' && [ "$rate" -gt "$best" ] && best=$rate
  done
  echo "Targets:"
  p99=$(pooled "$db" backfill fg 99)
  [ "$p99" = NA ] || echo "- default pacing: fg p99 $p99 ms vs quiet $q ms ($(awk -v p="$p99" -v q="$q" 'BEGIN {printf "%+.0f%%", (p / q - 1) * 100}'); target +50%)"
  for c in $list; do
    [[ $c =~ ^backfill:max-commit-latency=[0-9.]+x$ ]] || continue
    p99=$(pooled "$db" "$c" fg 99)
    mcl_rows=$(awk -F'\t' -v d="$db" -v c="$c" '$1 == d && $2 == c {print $6}' "$THROTTLE" | pctl 50)
    echo "- $c: fg p99 $p99 ms ($(awk -v p="$p99" -v q="$q" 'BEGIN {printf "%+.0f%%", (p / q - 1) * 100}'); target +25%), $(printf '%.0f' "$mcl_rows") rows/s vs the best sweep rate within +25%: $best ($(awk -v a="$mcl_rows" -v b="$best" 'BEGIN {if (b > 0) printf "%.0f%%", a / b * 100; else print "-"}'); target 80%)"
  done
  echo "- replica lag p99 of every engine run below 1 s: $(awk -F'\t' -v d="$db" '$1 == d && $2 ~ /^backfill/ && $13 + 0 >= 1 {bad++} END {print bad ? "no (" bad " runs at or above)" : "yes"}' "$THROTTLE")"
  echo
}
