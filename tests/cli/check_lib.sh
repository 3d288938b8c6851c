# Shared by the CLI check scripts (source it): a temporary folder removed on exit, pass/fail
# counting, expect_error / expect_run, json_number; finish prints the count and sets the exit status.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0; passes=0
ok() { passes=$((passes + 1)); echo "ok: $1"; }
bad() { fails=$((fails + 1)); echo "FAIL: $1"; }
# expect_error NAME SUBSTRING CMD... : CMD must exit non-zero and print SUBSTRING on stderr.
expect_error() {
  local name="$1" want="$2"; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [[ $rc -ne 0 ]] && grep -qF -- "$want" "$tmp/err"; then ok "$name"
  else bad "$name (exit $rc, stderr: $(head -c 400 "$tmp/err"))"; fi
}
# expect_run NAME CMD... : CMD must succeed (its output stays in $tmp/out and $tmp/err).
expect_run() {
  local name="$1"; shift
  if "$@" >"$tmp/out" 2>"$tmp/err"; then ok "$name"; else bad "$name: $(head -c 400 "$tmp/err")"; fi
}
# json_number FILE KEY: the top-level number KEY of a --metrics-out file (written indented by two
# spaces; train's "history" repeats per-epoch keys one level deeper).
json_number() { grep -o "^  \"$2\": *[-0-9.e+]*" "$1" | head -1 | sed 's/.*: *//'; }
finish() {
  echo "$passes passed, $fails failed"
  [[ $fails -eq 0 ]]
}
