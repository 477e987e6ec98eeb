# Shared by .ci/run, .ci/browser.sh and .ci/mcp-interop.sh (sourced, not run).

# apt_install PACKAGE...: installs Debian packages, as root or through sudo (the package
# lists are updated once per run).
apt_install() {
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    if [ -z "${OOB_CI_APT_UPDATED:-}" ]; then
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
        export OOB_CI_APT_UPDATED=1
    fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

# The Node release fetched when the machine has none of 20 or later (Debian 12 ships 18).
NODE_PINNED=v20.20.2

node_major() {
    node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

# need_node: Node 20 or later and npm (the MCP TypeScript SDK's lock file asks for >=20):
# Debian's when absent, and when that is older, the pinned official release (checked
# against its published SHA-256) under ~/.cache/oob-ci, put first on PATH.
need_node() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        apt_install nodejs npm
    fi
    [ "$(node_major)" -ge 20 ] && return 0
    local arch
    case "$(uname -m)" in
        x86_64) arch=x64 ;;
        aarch64) arch=arm64 ;;
        *) echo "node $(node --version) is older than 20 and no release is pinned for $(uname -m)"; exit 1 ;;
    esac
    local name="node-$NODE_PINNED-linux-$arch"
    local dir="$HOME/.cache/oob-ci"
    if [ ! -x "$dir/$name/bin/node" ]; then
        command -v curl >/dev/null && command -v xz >/dev/null || apt_install curl xz-utils ca-certificates
        mkdir -p "$dir"
        (
            cd "$dir"
            curl -fsSLO "https://nodejs.org/dist/$NODE_PINNED/$name.tar.xz"
            curl -fsSL "https://nodejs.org/dist/$NODE_PINNED/SHASUMS256.txt" | grep " $name.tar.xz\$" | sha256sum -c -
            tar -xJf "$name.tar.xz"
            rm "$name.tar.xz"
        )
    fi
    export PATH="$dir/$name/bin:$PATH"
    if [ "$(node_major)" -lt 20 ]; then
        echo "node $(node --version) found; the OAuth and MCP interop tests need Node 20 or later"
        exit 1
    fi
}

# need_python: python3 with venv (Debian ships venv apart, as python3-venv).
need_python() {
    command -v python3 >/dev/null || apt_install python3 python3-venv
}
