#!/usr/bin/env bash
# Real-browser tests of the examples (issue 16): headless Chromium driven through
# chromedriver by examples/tests/browser.rs. Installs Debian's chromium and chromium-driver
# when absent; with CI set, a browser that cannot be installed or started is a failure
# (the tests themselves fail with CI set when either program is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

echo "== chromium and chromedriver"
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver
    else
        sudo DEBIAN_FRONTEND=noninteractive apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver
    fi
fi
if [ -n "${CI:-}" ]; then
    chromium --version
    chromedriver --version
fi

echo "== browser tests (screenshots of failures: target/tmp/browser-screenshots/)"
start=$(date +%s)
# Under five minutes: one browser at a time, each scenario a few seconds.
# --workspace --all-features, as the README's test command builds: the same features, so the
# dependencies built here are the ones the later `cargo test` uses, not a second copy.
timeout 300 cargo test --workspace --all-features --test browser -- --nocapture
echo "browser tests took $(( $(date +%s) - start ))s (including the build)"
