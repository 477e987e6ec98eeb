#!/usr/bin/env bash
# Real-browser tests of the examples (issue 16): headless Chromium driven through
# chromedriver by examples/tests/browser.rs. Installs Debian's chromium and chromium-driver
# when absent; with CI set, a browser that cannot be installed or started is a failure
# (the tests themselves fail with CI set when either program is missing).
#   .ci/browser.sh install   installs them only
#   .ci/browser.sh           installs them, then runs the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/lib.sh
export CARGO_TERM_COLOR=never

echo "== chromium and chromedriver"
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    apt_install chromium chromium-driver
fi
if [ -n "${CI:-}" ]; then
    chromium --version
    chromedriver --version
fi
[ "${1:-}" = install ] && exit 0

echo "== browser tests (screenshots of failures: target/tmp/browser-screenshots/)"
start=$(date +%s)
# --workspace --all-features, as the README's test command builds: the same features, so the
# dependencies built here are the ones `cargo test --workspace --all-features` uses, not a
# second copy. Built first, so the time limit below counts the tests only (under five
# minutes: one browser at a time, each scenario a few seconds).
cargo test --workspace --all-features --test browser --no-run
timeout 300 cargo test --workspace --all-features --test browser -- --nocapture
echo "browser tests took $(( $(date +%s) - start ))s (including the build)"
