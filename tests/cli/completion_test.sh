#!/usr/bin/env bash
# Tests contrib/bash-completion/backfill against the built binary: each case
# sets COMP_WORDS/COMP_CWORD as bash does, calls the completion function and
# compares COMPREPLY with what a user must be offered.
#
#   completion_test.sh COMPLETION_FILE BACKFILL_BINARY
set -uo pipefail
completion=$1
bin=$2
# shellcheck source=/dev/null
source "$completion"

passed=0
failed=0
# expect "WANT" WORD...: completing the last WORD offers exactly WANT
# (space-separated, sorted).
expect() {
  local want=$1
  shift
  COMP_WORDS=("$bin" "$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  _backfill
  local got
  got=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ')
  [ -n "$want" ] && want=$(printf '%s\n' $want | sort | tr '\n' ' ')
  if [ "$got" = "$want" ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: backfill $*<TAB>: want [$want], got [$got]"
  fi
}
# has FLAG 1|0 WORD...: completing the last WORD offers FLAG (1) or not (0).
has() {
  local flag=$1 want=$2
  shift 2
  COMP_WORDS=("$bin" "$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  _backfill
  local found=0 c
  for c in "${COMPREPLY[@]}"; do [ "$c" = "$flag" ] && found=1; done
  if [ "$found" = "$want" ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: backfill $*<TAB>: $flag $([ "$want" = 1 ] && echo missing || echo offered)"
  fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
touch "$tmp/job.toml" "$tmp/jobs.toml" "$tmp/pw"

expect "run verify status pause resume" ""
expect "status" st
expect "--help --version --config" --
expect "--max-lag --max-lag-bytes --max-latency --max-load" run --max-l
expect "--set" run --table users --se
expect "--dry-run" --config "$tmp/job.toml" run --dry
expect "--dry-run" run --job run --dry
expect "--columns --config" verify --co
expect "--job" pause --j
expect "auto text json" run --log-format ""
expect "json" run --log-format j
expect "$tmp/job.toml $tmp/jobs.toml" run --config "$tmp/jo"
expect "$tmp/pw" status --password-file "$tmp/p"
expect "$tmp/job.toml $tmp/jobs.toml" --config "$tmp/j"
# A value is not a flag: nothing is offered after --dsn.
expect "" run --dsn ""
# Each subcommand offers its own flags only.
has --json 1 status --
has --table 0 status --
has --show 1 verify --
has --show 0 run --
has --metrics-listen 1 run --
has --config 0 pause --
# Every long flag of `run --help` is offered.
for flag in $("$bin" run --help | sed -n 's/^  \(-h,\)\{0,1\}\(--[a-z0-9-]*\).*/\2/p'); do
  has "$flag" 1 run --
done

echo "completion: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
