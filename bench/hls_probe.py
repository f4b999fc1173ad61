#!/usr/bin/env python3
"""How long after its closing frame arrives an LL-HLS segment (and a part) is fetchable from Weir.

usage: bench/hls_probe.py BASE_URL [SEGMENTS] [PARTS]
       BASE_URL is http://HOST:PORT/APP/STREAM; the stream must come from `weir-loadgen publish`
       (every H.264 access unit carries its wall-clock send time in an SEI NAL unit).

For each of SEGMENTS segments: a blocking reload `ll.m3u8?_HLS_msn=M` waits for segment M to be
complete; segment M is closed by the keyframe that opens M + 1, so the delay is the reload's
response time minus that keyframe's send time, read from the SEI stamp in `part{M+1}.0.m4s`.
For each of PARTS parts the same with `_HLS_msn=M&_HLS_part=P` and the first video frame of the
next part (a part can also be closed by an audio frame that arrives first, so part figures are
upper bounds less a frame interval at worst; see bench/README.md). Prints one JSON line.
Loopback only, bounded: at most SEGMENTS + PARTS blocking requests of at most 10 s each.
"""
import json
import re
import sys
import time
import urllib.request

UUID = bytes.fromhex("3f5c9a1e8b2d4e71a6c4d2e9b0f7513a")


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def stamp_us(data):
    """Send time (Unix µs) in the first SEI stamp of a part, or None."""
    i = data.find(UUID)
    if i < 0:
        return None
    digits = data[i + 16:i + 32]
    try:
        return int(digits.decode("ascii"), 16)
    except (UnicodeDecodeError, ValueError):
        return None


def state(base):
    """(msn of the segment being written, parts it has so far) from the LL-HLS playlist."""
    pl = get(f"{base}/ll.m3u8").decode()
    mseq = int(re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", pl).group(1))
    complete = pl.count("#EXTINF")
    tail = pl.rsplit("#EXTINF", 1)[-1]
    return mseq + complete, tail.count("#EXT-X-PART:")


def dist(xs):
    if not xs:
        return {"n": 0}
    s = sorted(xs)
    q = lambda p: s[min(len(s) - 1, int(p * len(s)))]
    return {"n": len(s), "min": s[0], "p50": q(0.5), "p95": q(0.95), "max": s[-1],
            "mean": sum(s) / len(s)}


def main():
    if len(sys.argv) < 2 or not sys.argv[1].startswith(("http://127.", "http://localhost")):
        sys.exit(__doc__)
    base = sys.argv[1].rstrip("/")
    nseg = min(int(sys.argv[2]) if len(sys.argv) > 2 else 5, 30)
    nparts = min(int(sys.argv[3]) if len(sys.argv) > 3 else 12, 100)
    seg_ms, part_ms, errors = [], [], []
    for _ in range(nseg):
        try:
            m, _parts = state(base)
            get(f"{base}/ll.m3u8?_HLS_msn={m}")
            t = time.time()
            s = stamp_us(get(f"{base}/part{m + 1}.0.m4s"))
            if s is None:
                errors.append(f"no stamp in part{m + 1}.0")
                continue
            seg_ms.append(t * 1000.0 - s / 1000.0)
        except Exception as e:  # noqa: BLE001 - report, go on
            errors.append(str(e))
    for _ in range(nparts):
        try:
            m, p = state(base)
            get(f"{base}/ll.m3u8?_HLS_msn={m}&_HLS_part={p}")
            t = time.time()
            m2, p2 = state(base)
            # The part after (m, p): (m, p + 1) if segment m is still open, else (m + 1, 0).
            nxt = f"part{m}.{p + 1}.m4s" if m2 == m else f"part{m + 1}.0.m4s"
            s = stamp_us(get(f"{base}/{nxt}"))
            if s is None:
                errors.append(f"no stamp in {nxt}")
                continue
            part_ms.append(t * 1000.0 - s / 1000.0)
        except Exception as e:  # noqa: BLE001
            errors.append(str(e))
    print(json.dumps({"segment_available_ms": dist(seg_ms), "part_available_ms": dist(part_ms),
                      "errors": errors[:10]}))


if __name__ == "__main__":
    main()
