# Shell helpers shared by weir.sh and bench/run.sh. Source it after setting LOG_PREFIX.

log() { printf '\033[1m%s:\033[0m %s\n' "${LOG_PREFIX:-weir}" "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        log "need root (or sudo) to run: $*"; return 1; fi
}

# Installs only the Debian packages that are missing.
apt_install() {
    local missing=()
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null; then
        log "please install: ${missing[*]} (no apt-get here)"; return 1
    fi
    log "installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
