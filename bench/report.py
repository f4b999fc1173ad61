#!/usr/bin/env python3
"""Print the bench/run.sh table from a results file (JSON lines). See bench/README.md.

usage: bench/report.py bench/results/<date>-<mode>.jsonl
"""
import json
import sys


def latency(target, q):
    """Server-added latency quantile q (ms) if this loadgen reports one (any *latency* distribution)."""
    for key, val in target.items():
        if "latency" in key and isinstance(val, dict) and val.get("n"):
            return val.get(q)
    return None


def fmt(v, spec, width):
    if v is None:
        return "-".rjust(width)
    return format(v, spec).rjust(width)


def main(path):
    runs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                runs.append(json.loads(line))
    if not runs:
        sys.exit(f"{path}: no runs")

    # Baselines (N = 0): one per server; Weir's serves both RTMP and HTTP-FLV.
    base = {}
    for r in runs:
        b, rep = r["bench"], r["report"]
        if b["n"] == 0 and rep.get("server"):
            base[b["server"]] = rep["server"]

    overload = [r for r in runs if r["bench"]["proto"] == "overload"]
    hls = [r for r in runs if r["bench"]["proto"] == "hls"]
    runs = [r for r in runs if r["bench"]["proto"] not in ("overload", "hls")]
    rows = []
    for r in runs:
        b, rep = r["bench"], r["report"]
        sv = rep.get("server") or {}
        t = rep["targets"][0] if rep.get("targets") else {}
        n = b["n"]
        row = {
            "server": "weir" if b["server"] == "weir" else "nginx-rtmp",
            "key": b["server"],
            "proto": "http-flv" if b["proto"] == "flv" else "rtmp",
            "n": n,
            "alive": rep.get("players_alive", 0),
            "kept": t.get("kept_up_share") if n else None,
            "kmin": t.get("kbps", {}).get("min") if n else None,
            "kp5": t.get("kbps", {}).get("p5") if n else None,
            "kf50": t.get("first_keyframe_ms", {}).get("p50") if n else None,
            "kf95": t.get("first_keyframe_ms", {}).get("p95") if n else None,
            "cpu": sv.get("cpu_share"),
            "lat50": latency(t, "p50") if n else None,
            "lat95": latency(t, "p95") if n else None,
            "lg": rep.get("loadgen", {}).get("cpu_share"),
            "rss_end": sv.get("rss_end_kb"),
            "errors": t.get("errors") or {},
            "pub_alive": b.get("publisher_alive", True),
            "mcpu": None,
            "mrss": None,
        }
        b0 = base.get(b["server"])
        if n and sv and b0:
            window = rep["window_s"]
            # ms of server CPU per viewer-second, above the publisher-only baseline.
            row["mcpu"] = (sv["cpu_s"] - b0["cpu_s"] * window / b0_window(runs, b["server"])) * 1000.0 / (n * window)
            # KiB of RSS per viewer, growth since before the first player, above the baseline's growth.
            row["mrss"] = (sv["rss_growth_kb"] - b0["rss_growth_kb"]) / n
        rows.append(row)

    hdr = (f"{'server':<10} {'proto':<8} {'N':>5} {'alive':>5} {'kept-up':>7} {'kbps min':>8} {'kbps p5':>8} "
           f"{'kf p50':>7} {'kf p95':>7} {'srv CPU':>7} {'ms/v-s':>7} {'KiB/v':>7} {'RSS MiB':>7} "
           f"{'lat p50':>7} {'lat p95':>7} {'lg CPU':>6}")
    print()
    print(hdr)
    print("-" * len(hdr))
    for row in sorted(rows, key=lambda x: (x["proto"] != "rtmp", x["n"], x["key"] != "weir")):
        print(f"{row['server']:<10} {row['proto']:<8} {row['n']:>5} {row['alive']:>5} "
              f"{fmt(row['kept'] * 100 if row['kept'] is not None else None, '.1f', 6)}% "
              f"{fmt(row['kmin'], '.0f', 8)} {fmt(row['kp5'], '.0f', 8)} "
              f"{fmt(row['kf50'], '.1f', 7)} {fmt(row['kf95'], '.1f', 7)} "
              f"{fmt(row['cpu'] * 100 if row['cpu'] is not None else None, '.1f', 6)}% "
              f"{fmt(row['mcpu'], '.3f', 7)} {fmt(row['mrss'], '.1f', 7)} "
              f"{fmt(row['rss_end'] / 1024 if row['rss_end'] is not None else None, '.1f', 7)} "
              f"{fmt(row['lat50'], '.2f', 7)} {fmt(row['lat95'], '.2f', 7)} {fmt(row['lg'] * 100 if row['lg'] is not None else None, '.0f', 5)}%")
    for row in rows:
        if row["errors"] or not row["pub_alive"]:
            errs = ", ".join(f"{v} x {k}" for k, v in row["errors"].items())
            pub = "" if row["pub_alive"] else " (publisher had died)"
            print(f"  {row['server']} {row['proto']} N={row['n']}: {errs}{pub}")

    # Ratios Weir / nginx-rtmp per N.
    by = {(r["key"], r["proto"], r["n"]): r for r in rows}
    ns = sorted({r["n"] for r in rows if r["n"]})
    ratios = []
    if ns:
        print()
        print(f"{'ratio weir / nginx-rtmp':<28} {'N':>5} {'CPU/viewer':>10} {'RSS/viewer':>10}")
        for proto in ("rtmp", "http-flv"):
            for n in ns:
                w, g = by.get(("weir", proto, n)), by.get(("nginx", "rtmp", n))
                if not w or not g:
                    continue
                rc = w["mcpu"] / g["mcpu"] if w["mcpu"] is not None and g["mcpu"] else None
                rr = w["mrss"] / g["mrss"] if w["mrss"] is not None and g["mrss"] and g["mrss"] > 0 else None
                ratios.append((proto, n, rc, rr, w, g))
                print(f"{'weir ' + proto + ' / nginx rtmp':<28} {n:>5} {fmt(rc, '.2f', 10)} {fmt(rr, '.2f', 10)}")

    print()
    print("columns: alive = players alive at the end; kept-up = share with >= 95 % of the best player's video frames;")
    print("  kbps min/p5 = delivered kbit/s per player; kf = connect to first keyframe (ms); srv CPU = server CPU, % of a core;")
    print("  ms/v-s = marginal server CPU per viewer (ms CPU per viewer-second, baseline N=0 subtracted);")
    print("  KiB/v = RSS growth per viewer above the baseline; lat = server-added latency, ms (needs the SEI publisher);")
    print("  lg CPU = the load generator's own CPU (near 100 % means the client was the limit).")
    for r in overload:
        print_overload(r, rows)
    for r in hls:
        print_hls(r)
    # Headline: the largest N measured for each protocol (the least noisy marginal figures).
    print()
    for proto in ("rtmp", "http-flv"):
        pr = [x for x in ratios if x[0] == proto]
        if not pr:
            continue
        proto_, n, rc, rr, w, g = pr[-1]
        print(f"HEADLINE {proto} N={n}: marginal CPU per viewer weir {fmt(w['mcpu'], '.3f', 0)} ms vs nginx-rtmp "
              f"{fmt(g['mcpu'], '.3f', 0)} ms -> ratio {fmt(rc, '.2f', 0)} (target <= 0.25); "
              f"RSS per viewer {fmt(w['mrss'], '.1f', 0)} vs {fmt(g['mrss'], '.1f', 0)} KiB -> ratio {fmt(rr, '.2f', 0)} (target <= 1.5)"
              + (f"; latency p95 {w['lat95']:.2f} vs {g['lat95']:.2f} ms (target <= 50)"
                 if w["lat95"] is not None and g["lat95"] is not None else ""))


def print_overload(r, rows):
    """The overload run: healthy players next to as many stalled ones."""
    b, rep = r["bench"], r["report"]
    sv = rep.get("server") or {}
    print()
    print(f"OVERLOAD weir, {b['n']} healthy players (half RTMP, half HTTP-FLV) + as many stalled, "
          f"{b['window_s']} s window; server CPU {fmt((sv.get('cpu_share') or 0) * 100, '.1f', 0)} % of a core")
    for t in rep.get("targets", []):
        errs = ", ".join(f"{v} x {k}" for k, v in (t.get("errors") or {}).items()) or "none"
        if "stalled" in t["protocol"]:
            print(f"  {t['protocol']:<18} {t['players_started']:>5} started, {t['players_connected']:>5} connected; outcomes: {errs}")
        else:
            print(f"  {t['protocol']:<18} {t['players_started']:>5} started, {t['players_alive']:>5} alive, kept-up "
                  f"{t.get('kept_up_share', 0) * 100:.1f} %, kbps min {fmt(t.get('kbps', {}).get('min'), '.0f', 0)}, "
                  f"latency p50/p95/p99 {fmt(latency(t, 'p50'), '.1f', 0)}/{fmt(latency(t, 'p95'), '.1f', 0)}/"
                  f"{fmt(latency(t, 'p99'), '.1f', 0)} ms; errors: {errs}")
    print(f"  server: stalled_closed {b.get('stalled_closed')}; RSS peak {fmt((sv.get('rss_max_kb') or 0) / 1024, '.1f', 0)} MiB, "
          f"at the end {fmt((sv.get('rss_end_kb') or 0) / 1024, '.1f', 0)} MiB")
    # Compare with the busiest plain Weir run (the issue: <= 2x the RSS at 90 % load).
    plain = [x for x in rows if x["key"] == "weir" and x["n"] and x["rss_end"]]
    if plain and sv.get("rss_max_kb"):
        top = max(plain, key=lambda x: (x["n"], x["rss_end"]))
        print(f"  RSS peak / RSS of weir {top['proto']} N={top['n']} ({top['rss_end'] / 1024:.1f} MiB, "
              f"{(top['cpu'] or 0) * 100:.0f} % CPU): {sv['rss_max_kb'] / top['rss_end']:.2f} (target <= 2)")


def print_hls(r):
    """HLS: CPU per request under wrk against nginx's static path; availability after the closing frame."""
    rep = r["report"]
    print()
    w, g = rep["weir"], rep["nginx_static"]
    print(f"HLS under wrk ({rep['wrk']['connections']} connections, {rep['wrk']['seconds']} s each, "
          f"segment {rep['segment_bytes'] / 1024:.0f} KiB): CPU-us per request, Weir vs nginx static")
    for kind in ("playlist", "segment"):
        a, b = w[kind], g[kind]
        ratio = (a["cpu_us_per_request"] / b["cpu_us_per_request"]
                 if a["cpu_us_per_request"] and b["cpu_us_per_request"] else None)
        errs = "" if not (a["non_2xx"] or b["non_2xx"]) else f"  (non-2xx: weir {a['non_2xx']}, nginx {b['non_2xx']})"
        print(f"  {kind:<9} weir {fmt(a['cpu_us_per_request'], '.1f', 7)} us ({a['requests']} req)   nginx "
              f"{fmt(b['cpu_us_per_request'], '.1f', 7)} us ({b['requests']} req)   ratio {fmt(ratio, '.2f', 0)}"
              + (" (target <= 1.5)" if kind == "segment" else "") + errs)
    pol = rep.get("pollers") or {}
    sv = pol.get("server") or {}
    for t in pol.get("targets", []):
        print(f"  {t['players_started']} {t['protocol']} pollers: {t['players_alive']} alive, kept-up "
              f"{t.get('kept_up_share', 0) * 100:.1f} %, kbps min {fmt(t.get('kbps', {}).get('min'), '.0f', 0)}, "
              f"frame age on arrival p50/p95 {fmt(latency(t, 'p50'), '.0f', 0)}/{fmt(latency(t, 'p95'), '.0f', 0)} ms, "
              f"parse errors {t.get('parse_errors')}")
    if sv:
        print(f"  server with the pollers: {sv.get('cpu_share', 0) * 100:.1f} % of a core, "
              f"{sv.get('cpu_ms_per_player_s', 0):.3f} ms CPU per poller-second (publisher and packaging included)")
    p = rep.get("probe") or {}
    for key, name in (("segment_available_ms", "segment"), ("part_available_ms", "part")):
        d = p.get(key) or {}
        if d.get("n"):
            print(f"  {name} fetchable after its closing frame was sent: p50 {d['p50']:.1f} ms, p95 {d['p95']:.1f} ms, "
                  f"max {d['max']:.1f} ms over {d['n']}" + (" (target <= 50)" if name == "segment" else ""))
    if p.get("errors"):
        print(f"  probe errors: {p['errors']}")


def b0_window(runs, server):
    for r in runs:
        if r["bench"]["server"] == server and r["bench"]["n"] == 0:
            return r["report"]["window_s"] or 1.0
    return 1.0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
