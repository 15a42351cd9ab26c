#!/usr/bin/env bash
# ci/collect_artifacts.sh [DEST]: gather what a CI job publishes into DEST (default artifacts/):
# the results directory (cells.json, junit.xml, allure/, grid.html/.md, per-cell failure
# artifacts, soak reports with their timelines, chaos journals, prove runs), the VMs' serial logs; and append the grid and the
# soak summary (Markdown) to the job page when the runner offers one ($GITHUB_STEP_SUMMARY).
# Never fails the job: a missing piece is listed in DEST/MISSING.txt instead.
set -uo pipefail
cd "$(dirname "$0")/.."
dest=${1:-artifacts}
results=${RESULTS:-results}
run_root=${ARCHY_RUN:-$(python3 -c 'from node.names import HARNESS; print(HARNESS.run_root)')}
mkdir -p "$dest"
: >"$dest/MISSING.txt"

copy() {  # copy SRC into DEST/NAME, or note it as missing
  if [ -e "$1" ]; then cp -a "$1" "$dest/$2"; else echo "$2: $1 not found" >>"$dest/MISSING.txt"; fi
}

copy "$results/cells.json" cells.json
copy "$results/junit.xml" junit.xml
copy "$results/allure" allure-results
copy "$results/grid.html" grid.html
copy "$results/grid.md" grid.md
# grid.html and grid.md link the cells' artifacts as artifacts/<node>/<cell>/...: keep that path
[ -d "$results/artifacts" ] && cp -a "$results/artifacts" "$dest/artifacts"
[ -d "$results/allure-report" ] && cp -a "$results/allure-report" "$dest/allure-report"
if [ -d "$results/soak" ]; then
  # soak/latest/ as in results/, so the grid page's link to soak/latest/report.html holds in the bundle
  mkdir -p "$dest/soak/latest"
  if [ -e "$results/soak/latest" ]; then
    cp -aL "$results/soak/latest/." "$dest/soak/latest/"
  else
    echo "soak: no latest soak run" >>"$dest/MISSING.txt"
  fi
fi
for d in "$results"/chaos "$results"/test-grid "$results"/prove; do
  [ -d "$d" ] && cp -a "$d" "$dest/$(basename "$d")"
done
if compgen -G "$run_root/_logs/*.serial.log" >/dev/null; then
  mkdir -p "$dest/serial-logs" && cp -a "$run_root"/_logs/*.serial.log "$dest/serial-logs/"
fi
[ -s "$dest/MISSING.txt" ] || rm -f "$dest/MISSING.txt"

if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  for md in "$dest/grid.md" "$dest/soak/latest/summary.md"; do
    [ -f "$md" ] && { cat "$md"; echo; } >>"$GITHUB_STEP_SUMMARY"
  done
fi
echo "collect_artifacts: $(find "$dest" -type f | wc -l) files in $dest/"
[ -f "$dest/MISSING.txt" ] && sed 's/^/collect_artifacts: missing /' "$dest/MISSING.txt"
exit 0
