#!/bin/sh
# What help2man reads as `backfill --help` and `backfill --version`: the real
# output of $BACKFILL (the built binary). --help is the main help followed by
# the help of every subcommand it lists, each as a help2man subsection
# ("backfill run:" over an indented description; the usage line is dropped,
# the SYNOPSIS is hand-written in backfill.h2m).
set -eu
case "${1:-}" in
--version)
  exec "$BACKFILL" --version
  ;;
--help)
  "$BACKFILL" --help
  # The subcommands are the lines under "Subcommands:" in the main help.
  subs=$("$BACKFILL" --help | sed -n '/^Subcommands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p')
  [ -n "$subs" ] || { echo "$0: no subcommands in $BACKFILL --help" >&2; exit 1; }
  for sub in $subs; do
    printf '\nbackfill %s:\n' "$sub"
    "$BACKFILL" "$sub" --help | sed -e '1s/^/  /' -e '/^Usage:/d' -e '/^Options:$/d'
  done
  ;;
*)
  echo "usage: BACKFILL=path/to/backfill $0 --help|--version" >&2
  exit 2
  ;;
esac
