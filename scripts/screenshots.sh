#!/usr/bin/env bash
# Saves every page of cflows, in every state worth reviewing, as PNGs at 1366 and 390 px
# wide: the real server on a fresh in-memory database with the dealership demo plus a
# dense week (six teams, long names, every lane booked, holds), driven by headless
# Chromium through chromedriver (the same as the browser tests; .ci/run installs both).
#
#   scripts/screenshots.sh [OUTPUT-DIR]      # default: target/screens
#
# It runs the ignored test `screens::save_screenshots` (web/tests/api/screens.rs), which
# lists the pages, the calendar's views and dialogs and the kiosk's panes it saves.
# Files are named `{page}-{width}.png`, e.g. calendar-week-1366.png, kiosk-capacity-390.png.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-target/screens}")
mkdir -p "$out"
CFLOWS_SHOTS_DIR="$out" cargo test -p cflows-web --test api screens::save_screenshots \
  -- --ignored --exact --nocapture
echo "screenshots in $out:"
ls "$out"
