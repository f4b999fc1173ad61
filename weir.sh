#!/usr/bin/env bash
# Weir's one entry point for newcomers and CI, on Debian 12 with a Rust toolchain.
#
#   ./weir.sh run [ARGS]   install what is missing, build (release) and run the server;
#                          with no ARGS it runs on embedded defaults (RTMP 1935, HTTP 8080)
#   ./weir.sh test         install what the tests need and run the whole test suite
#   ./weir.sh setup        only install system packages (ffmpeg, chromium, npm) and the player libraries
#   ./weir.sh fuzz-smoke   build every cargo-fuzz target and run each briefly
set -euo pipefail
cd "$(dirname "$0")"

LOG_PREFIX=weir.sh
# shellcheck source=scripts/common.sh
. scripts/common.sh

# The player libraries (hls.js, dash.js) from the npm registry, embedded into the binary at build
# time, and playwright-core, which drives the system Chromium in the browser tests (it never
# downloads a browser).
web_setup() {
    if [ -f web/node_modules/hls.js/dist/hls.min.js ] \
        && [ -f web/node_modules/dashjs/dist/modern/umd/dash.all.min.js ] \
        && [ -f web/node_modules/playwright-core/package.json ]; then return 0; fi
    if ! command -v npm >/dev/null; then
        apt_install nodejs npm || { log "npm unavailable: the player pages will play HLS only natively"; return 0; }
    fi
    log "installing the web player libraries (npm ci in web/)"
    (cd web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) \
        || log "npm install failed: the player pages will play HLS only natively"
}

# Build dependencies: libsrt (the SRT engine, linked through weir-srt's FFI) and pkg-config.
setup_build() {
    apt_install libsrt-openssl-dev pkg-config
}

setup_test() {
    setup_build
    # srt-live-transmit and iproute2 (network namespaces, tc netem) for the SRT tests.
    apt_install srt-tools iproute2
    # ffmpeg/ffprobe are the real peers of the end-to-end tests.
    command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || apt_install ffmpeg
    # Headless Chromium plays the landing page and the /play/ page (driven by playwright-core).
    command -v chromium >/dev/null || apt_install chromium
    web_setup
}

cmd=${1:-run}
[ $# -gt 0 ] && shift
case "$cmd" in
    run)
        setup_build
        web_setup
        exec cargo run --release -p weir -- "$@"
        ;;
    test)
        setup_test
        exec cargo test --workspace "$@"
        ;;
    setup)
        setup_test
        ;;
    fuzz-smoke)
        secs=${FUZZ_SECONDS:-15}
        command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
        for target in $(cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz list); do
            log "fuzzing $target for ${secs}s"
            mkdir -p "fuzz/corpus/$target"
            seeds=()
            [ -d "fuzz/seeds/$target" ] && seeds=("fuzz/seeds/$target")
            out="fuzz/$target.log"
            if ! (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "corpus/$target" "${seeds[@]/#fuzz\//}" -- \
                -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1) >"$out" 2>&1; then
                tail -n 60 "$out"
                log "fuzz target $target failed; the crash input is in fuzz/artifacts/$target/"
                exit 1
            fi
            grep -E '^stat::number_of_executed_units' "$out" || true
        done
        ;;
    *)
        log "unknown command '$cmd' (use run, test, setup or fuzz-smoke)"; exit 2
        ;;
esac
