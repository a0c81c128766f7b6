#!/usr/bin/env bash
# Column shape on PostgreSQL: this engine vs the one-shot statement.
#
#   bench/pg_column_vs_oneshot.sh [ROWS] [ROUNDS]     (default 2000000 3)
#
# Each round builds two identical fresh tables (ROWS rows, vacuumed, then a
# CHECKPOINT) and times, in alternating order, the one-shot
#   UPDATE t SET login_name = upper(username)
# and `backfill run --table t --set "login_name = upper(username)"` with its
# default pacing (500ms chunks, adaptive; no replica). Reports the median
# rows/s of each, their ratio, and the engine's peak RSS at ROWS and ROWS/10
# (memory must not grow with the table). Needs the dev databases and a build
# (scripts/test or scripts/demo have made both).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-2000000}
ROUNDS=${2:-3}
BACKFILL=${BACKFILL:-build/cli/backfill}
eval "$(BACKFILL_DEV_DB_ONLY=postgres scripts/dev-db 2>/dev/null)"
DSN=$BACKFILL_PG_DSN
SQL() { psql -qtAX -v ON_ERROR_STOP=1 "$DSN" -c "SET client_min_messages = warning" -c "$1"; }

make_table() {  # make_table NAME ROWS
  SQL "DROP TABLE IF EXISTS $1;
       CREATE TABLE $1 (id bigint PRIMARY KEY, username text NOT NULL, email text,
                        created_at timestamptz NOT NULL DEFAULT now(), login_name text);
       INSERT INTO $1 (id, username, email)
         SELECT g, 'user_' || g, 'user_' || g || '@example.com' FROM generate_series(1, $2) g;"
  SQL "VACUUM ANALYZE $1"
  SQL "DELETE FROM backfill_checkpoints WHERE job = '$1'" 2>/dev/null || true
}

now() { date +%s.%N; }

run_oneshot() {  # prints seconds
  SQL "CHECKPOINT"
  local t0 t1
  t0=$(now)
  SQL "UPDATE bench_oneshot SET login_name = upper(username)" >/dev/null
  t1=$(now)
  echo "$t1 - $t0" | bc -l
}

run_engine() {  # run_engine TABLE -> prints "seconds peak_rss_kb"
  SQL "CHECKPOINT"
  local t0 t1 rss
  t0=$(now)
  /usr/bin/time -f "%M" -o /tmp/bench-rss "$BACKFILL" run --dsn "$DSN" --table "$1" \
    --set "login_name = upper(username)" --log-format text 2>/tmp/bench-engine.log
  t1=$(now)
  rss=$(tail -1 /tmp/bench-rss)
  echo "$(echo "$t1 - $t0" | bc -l) $rss"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

command -v bc >/dev/null || apt-get install -y -qq bc >/dev/null
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null

declare -a one eng rss
for r in $(seq 1 "$ROUNDS"); do
  make_table bench_oneshot "$ROWS"
  make_table bench_engine "$ROWS"
  if [ $((r % 2)) -eq 1 ]; then
    o=$(run_oneshot); read -r e m <<<"$(run_engine bench_engine)"
  else
    read -r e m <<<"$(run_engine bench_engine)"; o=$(run_oneshot)
  fi
  one+=("$o"); eng+=("$e"); rss+=("$m")
  printf "round %d: one-shot %.2fs (%.0f rows/s)  engine %.2fs (%.0f rows/s, peak RSS %d KiB)\n" \
    "$r" "$o" "$(echo "$ROWS / $o" | bc -l)" "$e" "$(echo "$ROWS / $e" | bc -l)" "$m"
done
SQL "DROP TABLE bench_oneshot"

small=$((ROWS / 10))
make_table bench_engine "$small"
read -r _ small_rss <<<"$(run_engine bench_engine)"
SQL "DROP TABLE bench_engine"

o=$(printf "%s\n" "${one[@]}" | median)
e=$(printf "%s\n" "${eng[@]}" | median)
big_rss=$(printf "%s\n" "${rss[@]}" | median)
echo
echo "PostgreSQL column shape, $ROWS rows, median of $ROUNDS alternating rounds"
printf "  one-shot UPDATE   %9.0f rows/s\n" "$(echo "$ROWS / $o" | bc -l)"
printf "  backfill          %9.0f rows/s   ratio %.3f of one-shot\n" \
  "$(echo "$ROWS / $e" | bc -l)" "$(echo "$o / $e" | bc -l)"
printf "  peak RSS          %9d KiB at %d rows, %d KiB at %d rows\n" "$big_rss" "$ROWS" "$small_rss" "$small"
