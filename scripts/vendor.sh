#!/usr/bin/env bash
# Vendors the browser libraries from the npm registry at pinned versions, with their
# licence files, into web/static/vendor/, so `cargo run` needs no Node.js.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

vendor() { # package version file-in-package destination-dir
  local pkg=$1 version=$2 file=$3 dest=$4
  (cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null)
  local tgz
  tgz=$(ls "$tmp"/*.tgz | head -n 1)
  mkdir -p "$tmp/x" "$dest"
  tar -xzf "$tgz" -C "$tmp/x"
  cp "$tmp/x/package/$file" "$dest/"
  cp "$tmp/x/package/LICENSE" "$dest/LICENSE"
  echo "$pkg@$version" > "$dest/VERSION"
  rm -rf "$tmp/x" "$tgz"
}

# Several files of one package (paths inside it) into one directory, with its licence.
vendor_files() { # package version licence-file destination-dir files...
  local pkg=$1 version=$2 licence=$3 dest=$4
  shift 4
  (cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null)
  local tgz
  tgz=$(ls "$tmp"/*.tgz | head -n 1)
  mkdir -p "$tmp/x" "$dest"
  tar -xzf "$tgz" -C "$tmp/x"
  for f in "$@"; do
    cp "$tmp/x/package/$f" "$dest/$(echo "$f" | tr '/' '-')"
  done
  cp "$tmp/x/package/$licence" "$dest/LICENSE"
  echo "$pkg@$version" > "$dest/VERSION"
  rm -rf "$tmp/x" "$tgz"
}

vendor @msgpack/msgpack 3.1.3 dist.umd/msgpack.min.js web/static/vendor/msgpack
# FullCalendar 7 (MIT; not the premium scheduler): the no-bundler global build, its
# skeleton stylesheet and the classic theme.
vendor_files fullcalendar 7.1.0 LICENSE.md web/static/vendor/fullcalendar \
  all/global.js skeleton.css themes/classic/global.js themes/classic/theme.css themes/classic/palette.css
# SortableJS (MIT): drag and drop of board cards.
vendor sortablejs 1.15.6 Sortable.min.js web/static/vendor/sortable
# Test-only: the accessibility checker the browser tests run on every page (never served).
vendor axe-core 4.14.1 axe.min.js web/tests/api/vendor/axe-core
echo "vendored into web/static/vendor/ and web/tests/api/vendor/"
