#!/bin/bash
# The exit statuses are written down once (runtime/util/exit_status.hpp);
# --help's footer, meshrun(1), the README and configs/slurm.sbatch each
# print that table row for row, word for word.
# usage: exit_status_docs_test.sh TABLE_PROGRAM MESHRUN SOURCE_DIR
set -uo pipefail
table=$1 meshrun=$2 src=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/meshrun-exit-docs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

"$table" >"$tmp/table" || fail "the table program failed"
[ "$(wc -l <"$tmp/table")" -ge 8 ] || fail "the table has too few rows: $(cat "$tmp/table")"
# Every status the code names has a row.
for status in 0 1 2 124 125 126 127 128+N; do
  grep -q "^$status|" "$tmp/table" || fail "exit_status.hpp's table has no row $status"
done

compare() {  # compare WHAT FILE: FILE's rows are the table's
  if ! diff -u "$tmp/table" "$2" >"$tmp/diff"; then
    fail "$1 differs from runtime/util/exit_status.hpp:"$'\n'"$(cat "$tmp/diff")"
  fi
}

# --help: "  STATUS<padded to 19>MEANING", continued in the same column.
"$meshrun" --help >"$tmp/help.txt" || fail "meshrun --help failed"
awk '/^Exit status:/ {on = 1; next} on && /^$/ {on = 0}
     on && /^  [^ ]/ {if (row != "") print row; s = substr($0, 3, 19); sub(/ +$/, "", s);
                      row = s "|" substr($0, 22); next}
     on && /^                     [^ ]/ {row = row " " substr($0, 22)}
     END {if (row != "") print row}' "$tmp/help.txt" >"$tmp/help"
compare "meshrun --help's exit statuses" "$tmp/help"

# meshrun(1): the .TP entries of EXIT STATUS, tag and body, roff undone.
sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$src/man/meshrun.1" |
  sed -e 's/\\-/-/g' -e "s/\\\\(aq/'/g" -e 's/\\f[BIRP]//g' |
  awk '/^\.TP/ {if (row != "") print row; row = ""; tag = 1; next}
       /^\.(PP|SH)/ {if (row != "") print row; row = ""; tag = 0; on = 0; next}
       /^\.\\"/ {next}
       tag {sub(/^\.B[IR]? /, ""); row = $0 "|"; tag = 0; on = 1; next}
       on {row = row (row ~ /\|$/ ? "" : " ") $0}
       END {if (row != "") print row}' >"$tmp/man"
compare "meshrun(1) EXIT STATUS" "$tmp/man"

# README: the table after "Exit statuses", backquotes dropped.
awk '/^Exit statuses/ {on = 1; next} on && /^$/ && seen {exit}
     on && /^\| / {seen = 1; print}' "$src/README.md" | tail -n +2 |
  sed -e 's/`//g' -e 's/^| //' -e 's/ |$//' -e 's/ | /|/' >"$tmp/readme"
compare "README.md's exit status table" "$tmp/readme"

# configs/slurm.sbatch: "#   STATUS  MEANING" comment lines.
grep -E '^#   [^ ]' "$src/configs/slurm.sbatch" | sed -e 's/^#   //' -e 's/  \+/|/' >"$tmp/sbatch"
compare "configs/slurm.sbatch's exit statuses" "$tmp/sbatch"

[ "$failures" = 0 ] && echo "exit status docs test: ok"
exit $((failures > 0))
