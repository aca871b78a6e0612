#!/usr/bin/env bash
# Builds a SurrealDB 3 server binary (`surreal`) from the crates.io package
# surrealdb-server, for the remote-mode (ws://) tests:
#   scripts/build-surreal.sh && CFLOWS_TEST_SURREAL_BIN=~/.cache/cflows-surreal/bin/surreal cargo test
# It takes about 6 minutes cold on 2 cores (dev profile); .ci/run builds it once and
# caches it outside the clone.
set -euo pipefail
version="${SURREAL_VERSION:-3.3.5}"
root="${CFLOWS_SURREAL_ROOT:-$HOME/.cache/cflows-surreal}"
work="$root/wrapper"
mkdir -p "$work/src" "$root/bin"
cat > "$work/Cargo.toml" <<TOML
[package]
name = "surreal"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
surrealdb-server = { version = "=$version", default-features = false, features = ["storage-mem", "storage-surrealkv"] }

[profile.dev]
debug = false
TOML
cat > "$work/src/main.rs" <<'RS'
fn main() -> std::process::ExitCode {
    surrealdb_server::init(surrealdb_server::core::CommunityComposer())
}
RS
# The crate's own lock file pins what it was released with.
cargo build --manifest-path "$work/Cargo.toml" --target-dir "$root/target" ${SURREAL_PROFILE:+--profile "$SURREAL_PROFILE"}
cp "$root/target/${SURREAL_PROFILE:-debug}/surreal" "$root/bin/surreal"
echo "built $root/bin/surreal"
"$root/bin/surreal" version || true
