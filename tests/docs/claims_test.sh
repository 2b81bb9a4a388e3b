#!/bin/bash
# What the README and the man pages say meshrun does, checked against what
# it does: the sample output, MESHRUN_JOB_ID and job.name, what -v prints,
# the summary line, the test plugin's messages, and that no document names an
# option meshrun does not have.
# usage: claims_test.sh MESHRUN SOURCE_DIR
set -uo pipefail
meshrun=$1 src=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/meshrun-claims.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
# Man page text without roff's hyphen escapes and font changes.
for page in meshrun.1 meshrun.toml.5; do
  sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(dq/"/g' -e 's/\\(aq/'"'"'/g' \
    "$src/man/$page" >"$tmp/$page"
done

# 1. The README's sample output of configs/local.toml: every line it shows is
# printed, with any duration as a duration ("0.09 ms").
"$meshrun" "$src/configs/local.toml" >"$tmp/local.out" 2>"$tmp/local.err" ||
  fail "configs/local.toml failed: $(cat "$tmp/local.err")"
awk '/^That job starts/ {want = 1} want && /^```$/ {if (on) exit; on = 1; next} on' \
  "$src/README.md" >"$tmp/sample"
[ "$(wc -l <"$tmp/sample")" -ge 2 ] || fail "README: no sample output found"
while IFS= read -r line; do
  [[ $line =~ ^\ *\.\.\.$ ]] && continue
  pattern=$(printf '%s' "$line" | sed -e 's/[][\.*^$(){}+?|/]/\\&/g' \
    -e 's/[0-9][0-9.]* \(ms\|s\)$/[0-9][0-9.]* (ms|s)/')
  grep -qxE -- "$pattern" "$tmp/local.out" ||
    fail "README sample line '$line' is not what meshrun prints:"$'\n'"$(cat "$tmp/local.out")"
done <"$tmp/sample"

# 2. job.name reaches the ranks as MESHRUN_JOB_NAME; MESHRUN_JOB_ID is 16 hex
# digits, new for every run (meshrun.toml(5) job.name, meshrun(1) ENVIRONMENT).
cat >"$tmp/named.toml" <<'SPEC'
[job]
name = "claims-demo"
[procs]
command = ["sh", "-c", "echo $MESHRUN_JOB_NAME $MESHRUN_JOB_ID"]
SPEC
first=$("$meshrun" "$tmp/named.toml") || fail "named job failed"
second=$("$meshrun" "$tmp/named.toml") || fail "named job failed"
[[ $first =~ ^claims-demo\ [0-9a-f]{16}$ ]] || fail "job.name/MESHRUN_JOB_ID: got '$first'"
[ "${first#* }" != "${second#* }" ] || fail "MESHRUN_JOB_ID is the same in two runs"
sed -n '/^\.SS \[job\]/,/^\.SS /p' "$tmp/meshrun.toml.5" | grep -q MESHRUN_JOB_NAME ||
  fail "meshrun.toml(5) job.name does not name MESHRUN_JOB_NAME"
grep -q '16 hexadecimal digits' "$tmp/meshrun.1" || fail "meshrun(1) does not describe MESHRUN_JOB_ID"

# 3. -v says which launcher was chosen, as meshrun(1) shows it.
grep -q 'launcher: local (\.\.\.)' "$tmp/meshrun.1" || fail "meshrun(1) -v: no launcher example"
"$meshrun" -v -n 1 -- true 2>"$tmp/v.err" >/dev/null || fail "-v run failed"
grep -q '^meshrun: launcher: local (--launcher auto: ' "$tmp/v.err" ||
  fail "-v does not print the launcher: $(cat "$tmp/v.err")"
grep -q '^meshrun: job meshrun, id [0-9a-f]\{16\}$' "$tmp/v.err" ||
  fail "-v does not print the job's name and id: $(cat "$tmp/v.err")"

# 4. The summary line the README and meshrun(1) show is the one meshrun prints.
"$meshrun" -N 2 -n 5 -- sh -c '[ $MESHRUN_RANK = 3 ] && exit 3; exec sleep 100' \
  >/dev/null 2>"$tmp/summary.err"
got=$(tail -n 1 "$tmp/summary.err")
readme=$(grep -m1 '^    meshrun: summary:' "$src/README.md" | sed 's/^    //')
man=$(grep -m1 '^meshrun: summary:' "$tmp/meshrun.1")
[ "$got" = "$readme" ] || fail "README summary '$readme' but meshrun prints '$got'"
[ "$got" = "$man" ] || fail "meshrun(1) summary '$man' but meshrun prints '$got'"

# 5. Every message the shipped test actors handle is documented.
actors=$(grep -oE 'MESHRUN_ACTOR\([A-Za-z]+' "$src/plugins/testactors/testactors.cpp" |
  sed 's/.*(//')
[ -n "$actors" ] || fail "no actor types found in testactors.cpp"
for type in $actors; do
  grep -q "$type" "$tmp/meshrun.1" || fail "meshrun(1) does not name actor type $type"
  messages=$(sed -n "/^class $type /,/^};/p" "$src/plugins/testactors/testactors.cpp" |
    grep -oE 'Messages<[^>]*>' | sed -e 's/Messages<//' -e 's/[>,]/ /g')
  [ -n "$messages" ] || fail "no messages found for $type"
  for m in $messages; do
    sed -n '/^\.SS \[actors\]/,/^\.SS /p' "$tmp/meshrun.toml.5" | grep -qw "$m" ||
      fail "meshrun.toml(5) [actors] does not document $type's message $m"
  done
done

# 6. No document names an option meshrun does not have: every option tagged in
# meshrun(1)'s OPTIONS, and every option on a meshrun command line the README
# shows (up to its `--`), is one `meshrun --help` lists.
"$meshrun" --help >"$tmp/help" || fail "meshrun --help failed"
in_help() { grep -qE -- "(^|[ ,(])$1([ ,)]|\$)" "$tmp/help"; }
sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$tmp/meshrun.1" | awk 'tag {print; tag = 0} /^\.TP/ {tag = 1}' |
  grep -oE -- '(^|[ "])--?[a-zA-Z][a-z-]*' | tr -d ' "' | sort -u >"$tmp/man_options"
[ "$(wc -l <"$tmp/man_options")" -ge 30 ] || fail "read too few options from meshrun(1): $(cat "$tmp/man_options")"
while read -r opt; do
  in_help "$opt" || fail "meshrun(1) OPTIONS has $opt, which meshrun --help does not list"
done <"$tmp/man_options"
# A command line's options end at `--` or at the first word that is neither
# an option nor an option's value (PROG in `meshrun -n 4 PROG -c ...`).
takes_value() { grep -E -- "(^|[ ,(])$1([ ,)]|\$)" "$tmp/help" | grep -qE '^ +-[^ ]+ [A-Z]'; }
options_of() {
  local word skip=0
  for word in $1; do
    if ((skip)); then skip=0; continue; fi
    [ "$word" = -- ] && break
    [[ $word == -* ]] || break
    word=${word%%=*}
    printf '%s\n' "$word"
    takes_value "$word" && skip=1
  done
}
{
  grep -oE '`(meshrun )?-[^`]*`' "$src/README.md" | tr -d '`'
  grep -E '^ *meshrun ' "$src/README.md"
} | sed -e 's/#.*//' -e 's/"[^"]*"/X/g' -e "s/'[^']*'/X/g" -e 's/^ *meshrun //' |
  while read -r line; do options_of "$line"; done | grep -oE -- '^--?[a-zA-Z][a-z-]*' |
  grep -vxE -- '-o|--mpi' | sort -u >"$tmp/readme_options"  # ssh's -o, srun's --mpi
[ "$(wc -l <"$tmp/readme_options")" -ge 10 ] ||
  fail "read too few options from the README's meshrun lines: $(cat "$tmp/readme_options")"
while read -r opt; do
  in_help "$opt" || fail "the README runs meshrun $opt, which meshrun --help does not list"
done <"$tmp/readme_options"

[ "$failures" = 0 ] && echo "claims test: ok"
exit $((failures > 0))
