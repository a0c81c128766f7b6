#!/usr/bin/env bash
# `backfill --version` names the version and the commit the binary was built
# from; cmake/version_info.cmake says "unknown" without git.
#
#   version_test.sh BACKFILL_BINARY SOURCE_DIR VERSION CMAKE
set -uo pipefail
bin=$1 src=$2 version=$3 cmake=$4
passed=0 failed=0
check() {  # check WHAT GOT WANT_REGEX
  if [[ $2 =~ $3 ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $1: got [$2], want /$3/"
  fi
}

got=$("$bin" --version)
if head=$(git -C "$src" rev-parse --short=12 HEAD 2>/dev/null); then
  # A build of uncommitted changes says so; git status is the judge.
  dirty=
  [ -n "$(git -C "$src" status --porcelain --untracked-files=no)" ] && dirty=-dirty
  check "--version of a checkout" "$got" "^backfill ${version//./\\.} \\(commit $head$dirty\\)\$"
else
  check "--version outside a checkout" "$got" "^backfill ${version//./\\.} \\(commit unknown\\)\$"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gen() {  # gen ARGS...: the commit that version_info.cmake writes
  "$cmake" -DSOURCE_DIR="$src" -DOUTPUT="$tmp/v.cc" -DVERSION="$version" "$@" \
    -P "$src/cmake/version_info.cmake" &&
    sed -n 's/.*BuildCommit() { return "\(.*\)"; }/\1/p' "$tmp/v.cc"
}
check "without git" "$(gen -DGIT_EXECUTABLE=/nonexistent/git)" '^unknown$'
check "outside a checkout" "$(gen -DGIT_EXECUTABLE=git -DSOURCE_DIR="$tmp")" '^unknown$'
check "given commit" "$(gen -DGIT_EXECUTABLE=git -DGIT_COMMIT=0123abcd)" '^0123abcd$'
if [ -n "${head:-}" ]; then
  check "checkout" "$(gen -DGIT_EXECUTABLE=git)" "^$head(-dirty)?\$"
fi
# Rewritten only when the text changes (an unchanged commit relinks nothing).
gen -DGIT_EXECUTABLE=/nonexistent/git >/dev/null
touch -d '2000-01-01' "$tmp/v.cc"
gen -DGIT_EXECUTABLE=/nonexistent/git >/dev/null
check "unchanged text not rewritten" "$(stat -c %y "$tmp/v.cc")" '^2000-01-01'

echo "version: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
