#!/usr/bin/env bash
# MCP interop: the official client SDKs against the mcp_server example, started as a process
# (examples/tests/mcp_interop.rs).
#   .ci/mcp-interop.sh install   installs the pinned SDKs only (tests/mcp-interop/node with
#                                `npm ci` from its package-lock.json; tests/mcp-interop/python/.venv
#                                from requirements.txt), for a later `cargo test --workspace`
#   .ci/mcp-interop.sh tests     runs the SDK interop tests, the in-process MCP tests
#                                (tests/tests/mcp_flows.rs, mcp_e2e.rs) and the mcp_server
#                                example's selftest, on SDKs installed before
#   .ci/mcp-interop.sh           both
# With CI set, Node and Python are installed from Debian when absent, and a Node older than
# 20 is a failure (the tests fail rather than skip without them).
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/lib.sh
dir=tests/mcp-interop
mode="${1:-}"
case "$mode" in
    "" | install | tests) ;;
    *) echo "usage: $0 [install|tests]"; exit 2 ;;
esac

if [ "$mode" != tests ]; then
if [ -n "${CI:-}" ]; then
    need_node
    need_python
fi

echo "== MCP interop: TypeScript SDKs (npm ci, $dir/node)"
if command -v node >/dev/null && command -v npm >/dev/null; then
    npm ci --prefix "$dir/node" --no-audit --no-fund
elif [ -n "${CI:-}" ]; then
    echo "node and npm are required by the MCP interop tests"; exit 1
else
    echo "node not found: the TypeScript interop tests will be skipped"
fi

echo "== MCP interop: Python SDK (pip, $dir/python/.venv)"
python=$(command -v python3 || true)
if [ -n "$python" ]; then
    if [ ! -x "$dir/python/.venv/bin/python" ] && ! "$python" -m venv "$dir/python/.venv"; then
        # Debian ships venv separately (python3-venv).
        rm -rf "$dir/python/.venv"
        apt_install python3-venv
        "$python" -m venv "$dir/python/.venv"
    fi
    "$dir/python/.venv/bin/pip" install -q --disable-pip-version-check -r "$dir/python/requirements.txt"
elif [ -n "${CI:-}" ]; then
    echo "python3 is required by the MCP interop tests"; exit 1
else
    echo "python3 not found: the Python interop tests will be skipped"
fi

fi

[ "$mode" = install ] && exit 0

echo "== MCP interop tests"
start=$(date +%s)
# One test per SDK and revision, each with its own mcp_server: all five at once.
cargo test -p oob-examples --test mcp_interop -- --test-threads 5
cargo test -p oob-tests --all-features --test mcp_flows --test mcp_e2e -- --test-threads 4
echo "== mcp_server example selftest"
cargo run -q -p oob-examples --bin mcp_server -- --selftest
echo "MCP interop done in $(( $(date +%s) - start ))s"
