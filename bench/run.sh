#!/usr/bin/env bash
# Weir and nginx-rtmp side by side (issue 6). See bench/README.md.
#
#   bench/run.sh           full run: N in {0, 50, 200, 500, 1000}, 10 s warm-up + 20 s window (~9 min)
#   bench/run.sh --quick   spot check: N in {0, 200}, 5 s warm-up + 10 s window (< 3 min)
#
# Options: --no-build (use the existing target/release binaries), --no-install,
#          --players "0 50 200" (override the N list), --keep (keep the temp dir),
#          --ffmpeg-publisher (publish with ffmpeg even when `weir-loadgen publish` exists).
# Environment: BENCH_CACHE (where the source clip is cached, default ${TMPDIR:-/tmp}/weir-bench-cache).
#
# Each server (Weir, nginx-rtmp) is started fresh for every run, pinned to CPU 0 with
# `taskset -c 0`; the publisher and weir-loadgen run on CPU 1. Results go to
# bench/results/<date>-<mode>.jsonl (one line per run: {"bench": {...}, "report": <loadgen JSON>})
# and bench/report.py prints the table.
#
# Then the overload case (Weir): healthy players plus as many stalled ones (measure_overload),
# and HLS: wrk against Weir and nginx's static path, segment and part availability (measure_hls).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

LOG_PREFIX=bench
# shellcheck source=scripts/common.sh
. "$ROOT/scripts/common.sh"

MODE=full
BUILD=1
INSTALL=1
KEEP=0
PLAYERS=""
PUB_CHOICE=auto
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) MODE=quick ;;
        --no-build) BUILD=0 ;;
        --no-install) INSTALL=0 ;;
        --keep) KEEP=1 ;;
        --players) PLAYERS=$2; shift ;;
        --ffmpeg-publisher) PUB_CHOICE=ffmpeg ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) log "unknown option $1"; exit 2 ;;
    esac
    shift
done

if [ "$MODE" = quick ]; then
    : "${PLAYERS:=0 200}"; WARMUP=5; WINDOW=10
else
    : "${PLAYERS:=0 50 200 500 1000}"; WARMUP=10; WINDOW=20
fi
DURATION=$((WARMUP + WINDOW))
SETTLE=2          # seconds between the publisher starting and the first player
NGINX_MODULE=/usr/lib/nginx/modules/ngx_rtmp_module.so

# ---------------------------------------------------------------- install and build
if [ "$INSTALL" = 1 ]; then
    command -v ffmpeg >/dev/null || apt_install ffmpeg
    command -v taskset >/dev/null || apt_install util-linux
    { command -v nginx >/dev/null && [ -f "$NGINX_MODULE" ]; } || apt_install nginx libnginx-mod-rtmp
    command -v wrk >/dev/null || apt_install wrk
    command -v python3 >/dev/null || apt_install python3
    command -v curl >/dev/null || apt_install curl
fi
[ -f "$NGINX_MODULE" ] || { log "missing $NGINX_MODULE (apt-get install libnginx-mod-rtmp)"; exit 1; }
if [ "$BUILD" = 1 ]; then
    log "building release binaries (cargo build --release -p weir -p weir-loadgen)"
    apt_install libsrt-openssl-dev pkg-config
    cargo build --release -p weir -p weir-loadgen
fi
WEIR=$ROOT/target/release/weir
LOADGEN=$ROOT/target/release/weir-loadgen
[ -x "$WEIR" ] && [ -x "$LOADGEN" ] || { log "missing $WEIR or $LOADGEN; run without --no-build"; exit 1; }

# Enough open files for 1000 players per run (plus margin).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---------------------------------------------------------------- the source clip (cached)
CACHE=${BENCH_CACHE:-${TMPDIR:-/tmp}/weir-bench-cache}
CLIP=$CACHE/testsrc2-720p30-2500k-gop60-bf0-aac128k-60s.flv
mkdir -p "$CACHE"
if [ ! -s "$CLIP" ]; then
    log "encoding the 60 s source clip once into $CLIP"
    ffmpeg -hide_banner -loglevel error -y \
        -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 \
        -t 60 -c:v libx264 -preset veryfast -pix_fmt yuv420p \
        -b:v 2500k -minrate 2500k -maxrate 2500k -bufsize 2500k -x264-params nal-hrd=cbr \
        -g 60 -keyint_min 60 -sc_threshold 0 -bf 0 \
        -c:a aac -b:a 128k -ac 2 -f flv "$CLIP.tmp"
    mv "$CLIP.tmp" "$CLIP"
fi

# Prefer weir-loadgen's SEI-stamping publisher when it exists (server-added latency); else ffmpeg.
# The expected interface is `weir-loadgen publish --url URL --input FILE --loop`; when its help
# does not show those flags, say so and keep ffmpeg.
PUBLISHER=ffmpeg
if [ "$PUB_CHOICE" = auto ] && "$LOADGEN" --help 2>&1 | grep -qE '^\s+publish\b'; then
    pub_help=$("$LOADGEN" publish --help 2>&1 || true)
    if grep -q -- '--url' <<<"$pub_help" && grep -q -- '--input' <<<"$pub_help" && grep -q -- '--loop' <<<"$pub_help"; then
        PUBLISHER=loadgen
    else
        log "weir-loadgen publish exists but not as 'publish --url URL --input FILE --loop'; using ffmpeg (no latency figures)"
    fi
fi

# ---------------------------------------------------------------- process bookkeeping
TMP=$(mktemp -d "${TMPDIR:-/tmp}/weir-bench.XXXXXX")
PIDS=()
stop_pid() {
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    PIDS=()
    if [ "$KEEP" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Long waits run in the background so that a signal's trap runs at once (bash defers traps until
# a foreground command ends).
nap() { sleep "$1" & wait $!; }
untrack() { local keep=() pid; for pid in "${PIDS[@]}"; do [ "$pid" = "$1" ] || keep+=("$pid"); done; PIDS=("${keep[@]}"); }

wait_port() { # host port seconds pid
    local i
    for i in $(seq $(($3 * 10))); do
        kill -0 "$4" 2>/dev/null || return 1
        (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# Ports on loopback, away from the defaults so a running Weir or nginx does not interfere.
WEIR_RTMP=19350; WEIR_HTTP=18080; NGINX_RTMP=19351
STREAM=live/bench

cat >"$TMP/weir.toml" <<EOF
# Generated by bench/run.sh: RTMP + HTTP on loopback; HLS/CMAF and SRT off so the baseline
# matches nginx-rtmp's (live fan-out only). Chunk size 4096 as nginx-rtmp's below.
[log]
level = "warn"
[rtmp]
listen = "127.0.0.1:$WEIR_RTMP"
chunk_size = 4096
max_connections = 8192
[http]
listen = "127.0.0.1:$WEIR_HTTP"
[hls]
enabled = false
[srt]
enabled = false
EOF

sed -e "s|@TMP@|$TMP|g" -e "s|@PORT@|$NGINX_RTMP|g" -e "s|@MODULE@|$NGINX_MODULE|g" \
    "$ROOT/bench/nginx.conf.in" >"$TMP/nginx.conf"

SERVER_PID=""
PUB_PID=""
start_server() { # weir|nginx
    case "$1" in
        weir)
            taskset -c 0 "$WEIR" --config "$TMP/weir.toml" >>"$TMP/weir.log" 2>&1 &
            SERVER_PID=$!; PIDS+=("$SERVER_PID")
            wait_port 127.0.0.1 "$WEIR_RTMP" 10 "$SERVER_PID" || { log "weir did not start:"; tail -20 "$TMP/weir.log" >&2; exit 1; }
            PUB_URL=rtmp://127.0.0.1:$WEIR_RTMP/$STREAM ;;
        nginx)
            # master_process off: one process, so its /proc/PID is the whole server.
            taskset -c 0 nginx -p "$TMP/" -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf" >>"$TMP/nginx.log" 2>&1 &
            SERVER_PID=$!; PIDS+=("$SERVER_PID")
            wait_port 127.0.0.1 "$NGINX_RTMP" 10 "$SERVER_PID" || { log "nginx did not start:"; tail -20 "$TMP/nginx-error.log" "$TMP/nginx.log" >&2; exit 1; }
            PUB_URL=rtmp://127.0.0.1:$NGINX_RTMP/$STREAM ;;
    esac
    if [ "$PUBLISHER" = loadgen ]; then
        taskset -c 1 "$LOADGEN" publish --url "$PUB_URL" --input "$CLIP" --loop >>"$TMP/publisher.log" 2>&1 &
    else
        taskset -c 1 ffmpeg -hide_banner -nostdin -loglevel error -re -stream_loop -1 -i "$CLIP" \
            -c copy -f flv "$PUB_URL" >>"$TMP/publisher.log" 2>&1 &
    fi
    PUB_PID=$!; PIDS+=("$PUB_PID")
    nap "$SETTLE"
    kill -0 "$PUB_PID" 2>/dev/null || { log "the publisher ($PUBLISHER) died:"; tail -20 "$TMP/publisher.log" >&2; exit 1; }
}
stop_server() {
    stop_pid "$PUB_PID"; stop_pid "$SERVER_PID"
    untrack "$PUB_PID"; untrack "$SERVER_PID"
}

mkdir -p bench/results
OUT=bench/results/$(date -u +%Y%m%dT%H%M%SZ)-$MODE.jsonl
: >"$OUT"
CPU_MODEL=$(sed -n 's/^model name\s*:\s*//p' /proc/cpuinfo | head -1)
log "mode $MODE: N in {$PLAYERS}, ${WARMUP} s warm-up + ${WINDOW} s window, publisher $PUBLISHER; results in $OUT"

# The server's CPU seconds (utime + stime, all threads) and RSS (KiB), as weir-loadgen reads them.
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / hz }' "/proc/$1/stat"; }
proc_rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
proc_threads() { awk '/^Threads:/ { print $2 }' "/proc/$1/status"; }
# N = 0: weir-loadgen refuses 0 players, so read /proc here over the same warm-up and window and
# print a report of the same shape (server figures only).
baseline() { # pid
    local pid=$1 rss0 c1 r1 c2 r2
    rss0=$(proc_rss "$pid"); nap "$WARMUP"
    c1=$(proc_cpu "$pid"); r1=$(proc_rss "$pid"); nap "$WINDOW"
    c2=$(proc_cpu "$pid"); r2=$(proc_rss "$pid")
    python3 -c 'import json,sys
pid,w,d,c1,c2,r0,r1,r2,th=sys.argv[1:]
w,d=float(w),float(d); cpu=float(c2)-float(c1)
print(json.dumps({"version":1,"duration_s":w+d,"warmup_s":w,"window_s":d,"ramp_end_s":0,
 "players_started":0,"players_connected":0,"players_alive":0,"targets":[],
 "server":{"pid":int(pid),"cpu_s":cpu,"cpu_share":cpu/d,"cpu_ms_per_player_s":0,
  "rss_before_kb":int(r0),"rss_start_kb":int(r1),"rss_end_kb":int(r2),
  "rss_delta_kb":int(r2)-int(r1),"rss_growth_kb":int(r2)-int(r0),"threads":int(th)},
 "server_error":None,"loadgen":{"cpu_s":0,"cpu_share":0,"cpu_total_s":0,"rss_kb":0,"threads":0}}))' \
        "$pid" "$WARMUP" "$WINDOW" "$c1" "$c2" "$rss0" "$r1" "$r2" "$(proc_threads "$pid")"
}

# One measured run: fresh server + publisher, weir-loadgen with N players, one JSON line.
measure() { # server proto n
    local server=$1 proto=$2 n=$3 url ramp json pub_alive
    start_server "$server"
    case "$server/$proto" in
        weir/rtmp) url=rtmp://127.0.0.1:$WEIR_RTMP/$STREAM ;;
        weir/flv) url=http://127.0.0.1:$WEIR_HTTP/$STREAM.flv ;;
        nginx/rtmp) url=rtmp://127.0.0.1:$NGINX_RTMP/$STREAM ;;
    esac
    # Finish the ramp within the first half of the warm-up.
    ramp=$(( n * 2 / WARMUP )); [ "$ramp" -lt 100 ] && ramp=100
    log "$server $proto N=$n"
    if [ "$n" -eq 0 ]; then
        baseline "$SERVER_PID" >"$TMP/run.json"
    else
        taskset -c 1 "$LOADGEN" --json --url "$url" -n "$n" --duration "$DURATION" --warmup "$WARMUP" \
            --ramp-per-sec "$ramp" --server-pid "$SERVER_PID" --threads 1 >"$TMP/run.json" 2>>"$TMP/loadgen.log" &
        local lg=$!; PIDS+=("$lg")
        wait "$lg" || { log "weir-loadgen failed:"; tail -20 "$TMP/loadgen.log" >&2; exit 1; }
        untrack "$lg"
    fi
    json=$(cat "$TMP/run.json")
    pub_alive=false; kill -0 "$PUB_PID" 2>/dev/null && pub_alive=true
    printf '{"bench":{"mode":"%s","server":"%s","proto":"%s","n":%d,"warmup_s":%d,"window_s":%d,"publisher":"%s","publisher_alive":%s,"date":"%s","nproc":%d,"cpu_model":"%s"},"report":%s}\n' \
        "$MODE" "$server" "$proto" "$n" "$WARMUP" "$WINDOW" "$PUBLISHER" "$pub_alive" \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(nproc)" "${CPU_MODEL//\"/}" "$json" >>"$OUT"
    stop_server
}

START=$(date +%s)
for n in $PLAYERS; do
    if [ "$n" -eq 0 ]; then
        # The baseline: publisher only. Weir's serves both its RTMP and HTTP-FLV rows.
        measure weir rtmp 0
        measure nginx rtmp 0
    else
        measure weir rtmp "$n"
        measure nginx rtmp "$n"
        measure weir flv "$n"
    fi
done
# Overload: healthy players plus as many that stall (never read once playing), Weir only.
# Stalled players must be closed after rtmp/http.write_timeout_ms (10 s) and counted; the
# healthy ones must not notice; RSS must stay bounded. The run is long enough for the timeout.
measure_overload() { # n (healthy players in all, half RTMP, half HTTP-FLV; as many stalled)
    # The window must outlast the write timeout (10 s) plus the time stalled sockets take to fill.
    local n=$1 half=$(( $1 / 2 )) ow=$(( WINDOW > 14 ? WINDOW : 14 )) json pub_alive stalled
    start_server weir
    log "weir overload: $half RTMP + $half HTTP-FLV players, $half + $half stalled"
    taskset -c 1 "$LOADGEN" --json --url "rtmp://127.0.0.1:$WEIR_RTMP/$STREAM" \
        --url "http://127.0.0.1:$WEIR_HTTP/$STREAM.flv" -n "$half" --stalled "$half" \
        --duration $(( WARMUP + ow )) --warmup "$WARMUP" --ramp-per-sec $(( n * 4 / WARMUP + 100 )) \
        --server-pid "$SERVER_PID" --threads 1 >"$TMP/run.json" 2>>"$TMP/loadgen.log" &
    local lg=$!; PIDS+=("$lg")
    wait "$lg" || { log "weir-loadgen failed:"; tail -20 "$TMP/loadgen.log" >&2; exit 1; }
    untrack "$lg"
    stalled=$(curl -s --max-time 2 "http://127.0.0.1:$WEIR_HTTP/api/v1/streams" \
        | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin).get("stalled_closed")))' 2>/dev/null || echo null)
    json=$(cat "$TMP/run.json")
    pub_alive=false; kill -0 "$PUB_PID" 2>/dev/null && pub_alive=true
    printf '{"bench":{"mode":"%s","server":"weir","proto":"overload","n":%d,"warmup_s":%d,"window_s":%d,"publisher":"%s","publisher_alive":%s,"stalled_closed":%s,"date":"%s","nproc":%d,"cpu_model":"%s"},"report":%s}\n' \
        "$MODE" "$n" "$WARMUP" "$ow" "$PUBLISHER" "$pub_alive" "$stalled" \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(nproc)" "${CPU_MODEL//\"/}" "$json" >>"$OUT"
    stop_server
}
MAXN=$(printf '%s\n' $PLAYERS | sort -n | tail -1)
[ "$MAXN" -gt 0 ] && measure_overload "$MAXN"

# HLS: CPU per playlist and per segment request under wrk, Weir (segments in memory) against
# nginx serving the same two files statically; then how soon a segment and a part are
# fetchable after their closing frame (bench/hls_probe.py, LL-HLS blocking reloads).
cat >"$TMP/weir-hls.toml" <<EOF2
[log]
level = "warn"
[rtmp]
listen = "127.0.0.1:$WEIR_RTMP"
chunk_size = 4096
[http]
listen = "127.0.0.1:$WEIR_HTTP"
[srt]
enabled = false
EOF2
NGINX_HTTP=18081
sed -e "s|@TMP@|$TMP|g" -e "s|@PORT@|$NGINX_HTTP|g" "$ROOT/bench/nginx-http.conf.in" >"$TMP/nginx-http.conf"
if [ "$MODE" = quick ]; then WRK_SECS=2; PROBE_SEGS=2; POLLERS=100; POLL_SECS=7; else WRK_SECS=8; PROBE_SEGS=5; POLLERS=250; POLL_SECS=20; fi
# One wrk run against URL with the server PID's CPU read around it: "requests cpu_s non2xx".
wrk_cpu() { # pid url
    local c1 c2 out
    c1=$(proc_cpu "$1")
    out=$(taskset -c 1 wrk -t1 -c32 -d"${WRK_SECS}s" --latency "$2" 2>&1) || true
    c2=$(proc_cpu "$1")
    echo "$out" >>"$TMP/wrk.log"
    printf '%s %s %s\n' "$(echo "$out" | awk '/requests in/ { print $1 }')" \
        "$(python3 -c "print(round($c2 - $c1, 3))")" \
        "$(echo "$out" | awk '/Non-2xx/ { print $NF }')"
}
measure_hls() {
    local base pl seg probe pollers wp_n wp_c wp_e ws_n ws_c ws_e np_n np_c np_e ns_n ns_c ns_e
    taskset -c 0 "$WEIR" --config "$TMP/weir-hls.toml" >>"$TMP/weir.log" 2>&1 &
    SERVER_PID=$!; PIDS+=("$SERVER_PID")
    wait_port 127.0.0.1 "$WEIR_RTMP" 10 "$SERVER_PID" || { log "weir did not start"; exit 1; }
    PUB_URL=rtmp://127.0.0.1:$WEIR_RTMP/$STREAM
    taskset -c 1 "$LOADGEN" publish --url "$PUB_URL" --input "$CLIP" --loop >>"$TMP/publisher.log" 2>&1 &
    PUB_PID=$!; PIDS+=("$PUB_PID")
    base=http://127.0.0.1:$WEIR_HTTP/$STREAM
    log "weir HLS: waiting for segments"
    nap 5
    probe=$(timeout 60 python3 "$ROOT/bench/hls_probe.py" "$base" "$PROBE_SEGS" 12 2>>"$TMP/loadgen.log" || echo '{}')
    log "weir HLS: $POLLERS TS + $POLLERS LL-HLS pollers for $POLL_SECS s"
    taskset -c 1 "$LOADGEN" --json --url "$base/ts.m3u8" --url "$base/ll.m3u8" -n "$POLLERS" \
        --duration "$POLL_SECS" --warmup 3 --ramp-per-sec 400 --server-pid "$SERVER_PID" --threads 1 \
        >"$TMP/pollers.json" 2>>"$TMP/loadgen.log" || echo '{}' >"$TMP/pollers.json"
    pl=$(curl -s --max-time 2 "$base/ts.m3u8")
    seg=$(echo "$pl" | grep -v '^#' | tail -1)
    mkdir -p "$TMP/www/$STREAM"
    echo "$pl" >"$TMP/www/$STREAM/ts.m3u8"
    curl -s --max-time 5 -o "$TMP/www/$STREAM/$seg" "$base/$seg"
    log "weir HLS: wrk on ts.m3u8 and $seg ($(stat -c %s "$TMP/www/$STREAM/$seg") bytes)"
    read -r wp_n wp_c wp_e <<<"$(wrk_cpu "$SERVER_PID" "$base/ts.m3u8")"
    read -r ws_n ws_c ws_e <<<"$(wrk_cpu "$SERVER_PID" "$base/$seg")"
    stop_pid "$PUB_PID"; stop_pid "$SERVER_PID"; untrack "$PUB_PID"; untrack "$SERVER_PID"
    taskset -c 0 nginx -p "$TMP/" -e "$TMP/nginx-http-error.log" -c "$TMP/nginx-http.conf" >>"$TMP/nginx.log" 2>&1 &
    SERVER_PID=$!; PIDS+=("$SERVER_PID")
    wait_port 127.0.0.1 "$NGINX_HTTP" 10 "$SERVER_PID" || { log "nginx (http) did not start"; exit 1; }
    log "nginx static: wrk on the same two files"
    read -r np_n np_c np_e <<<"$(wrk_cpu "$SERVER_PID" "http://127.0.0.1:$NGINX_HTTP/$STREAM/ts.m3u8")"
    read -r ns_n ns_c ns_e <<<"$(wrk_cpu "$SERVER_PID" "http://127.0.0.1:$NGINX_HTTP/$STREAM/$seg")"
    stop_pid "$SERVER_PID"; untrack "$SERVER_PID"
    python3 - "$OUT" "$MODE" "$WRK_SECS" "$(stat -c %s "$TMP/www/$STREAM/$seg")" "$probe" "$TMP/pollers.json" \
        "${wp_n:-0}" "${wp_c:-0}" "${wp_e:-0}" "${ws_n:-0}" "${ws_c:-0}" "${ws_e:-0}" \
        "${np_n:-0}" "${np_c:-0}" "${np_e:-0}" "${ns_n:-0}" "${ns_c:-0}" "${ns_e:-0}" <<'PY'
import json, sys, time
out, mode, secs, seg_bytes, probe, pollers = sys.argv[1:7]
v = [float(x) for x in sys.argv[7:]]
try:
    pollers = json.load(open(pollers))
except (OSError, ValueError):
    pollers = {}
def one(n, c, e):
    return {"requests": int(n), "cpu_s": c, "non_2xx": int(e),
            "cpu_us_per_request": (c * 1e6 / n) if n else None}
rep = {"weir": {"playlist": one(*v[0:3]), "segment": one(*v[3:6])},
       "nginx_static": {"playlist": one(*v[6:9]), "segment": one(*v[9:12])},
       "segment_bytes": int(seg_bytes), "wrk": {"threads": 1, "connections": 32, "seconds": int(secs)},
       "probe": json.loads(probe or "{}"), "pollers": pollers}
bench = {"mode": mode, "server": "weir", "proto": "hls", "n": 0,
         "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
with open(out, "a") as f:
    f.write(json.dumps({"bench": bench, "report": rep}) + "\n")
PY
}
measure_hls

log "runs took $(( $(date +%s) - START )) s"
if grep -q . "$TMP/nginx-error.log" 2>/dev/null; then
    log "nginx error log (last lines):"; tail -5 "$TMP/nginx-error.log" >&2
fi
python3 "$ROOT/bench/report.py" "$OUT"
