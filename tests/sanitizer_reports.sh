# Sourced by tests/sanitize.sh and tests/sanitize_thread.sh.
# exit_with_reports WHO LOGS_DIR STATUS: prints every sanitizer report file
# under LOGS_DIR (whichever process of a job wrote it) and exits 1 if there
# was any, else with STATUS.
exit_with_reports() {
  # A file that holds only the table of suppressions used is no report.
  reports=$(for f in $(find "$2" -type f | sort); do
    grep -qvE '^(-*|Suppressions used:|[[:space:]]*count[[:space:]]+bytes[[:space:]]+template|[[:space:]]*[0-9]+[[:space:]]+[0-9]+[[:space:]]+[^[:space:]]+)$' "$f" &&
      echo "$f"
  done)
  if [ -n "$reports" ]; then
    echo "$1: sanitizer reports were written:" >&2
    for r in $reports; do
      echo "==== $r" >&2
      cat "$r" >&2
    done
    exit 1
  fi
  exit "$3"
}
