# Shared by .ci/run, .ci/browser.sh and .ci/mcp-interop.sh (sourced, not run).

# apt_install PACKAGE...: installs Debian packages, as root or through sudo.
apt_install() {
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

# need_node: Node 20 or later and npm (the MCP TypeScript SDK's lock file asks for >=20),
# from Debian when absent. Debian 12 ships Node 18: then the run says so and fails under CI.
need_node() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        apt_install nodejs npm
    fi
    local major
    major=$(node -p 'process.versions.node.split(".")[0]')
    if [ "$major" -lt 20 ]; then
        echo "node $(node --version) found; the OAuth and MCP interop tests need Node 20 or later"
        [ -z "${CI:-}" ] || exit 1
    fi
}

# need_python: python3 with venv (Debian ships venv apart, as python3-venv).
need_python() {
    command -v python3 >/dev/null || apt_install python3 python3-venv
}
