#!/bin/sh
# Prints the RESULT lines of a bench run as a table, with ours / Janus
# ratios where both servers ran a scenario.
#   ./table.sh RESULTS_FILE
set -eu

awk '
function kv(line,    i, n, f, p) {
    delete r
    n = split(line, f, " ")
    for (i = 2; i <= n; i++) {
        p = index(f[i], "=")
        r[substr(f[i], 1, p - 1)] = substr(f[i], p + 1)
    }
}
/^FLOOR / {
    kv($0)
    floor = r["floor_mmsg"]
}
/^CAPACITY / {
    kv($0)
    ck = r["family"] SUBSEP r["server"]
    cap[ck] = r["rx_pps"] + 0
    capline[ck] = sprintf("%s: %-7s %9d pkt/s at %s%s (%s%% of its core)", r["family"], r["server"], r["rx_pps"], r["family"], r["n"], r["cpu_pct"])
    if (!(r["family"] in fams)) { fams[r["family"]] = 1; famv[++nf] = r["family"] }
}
/^RESULT / {
    kv($0)
    key = r["label"] SUBSEP r["server"]
    labels[r["label"]] = 1
    if (!(r["label"] in order)) { order[r["label"]] = ++nl; names[nl] = r["label"] }
    row[key] = sprintf("%-6s %-7s %6d %9d %8s %8d %8d %8.2f %6.1f %8.1f %8.1f %8.2f %5.0f",
        r["label"], r["server"], r["participants"], r["rx_pps"],
        r["loss_pct"], r["lat_p50_us"], r["lat_p99_us"], r["us_per_pkt"],
        r["cpu_pct"], r["rss_kb_per_part"], r["join_p50_ms"], r["rpc_p50_ms"],
        r["loadgen_cpu_pct"])
    us[key] = r["us_per_pkt"] + 0
    loss[key] = r["loss_pct"] + 0
    pps[key] = r["rx_pps"] + 0
}
END {
    printf "%-6s %-7s %6s %9s %8s %8s %8s %8s %6s %8s %8s %8s %5s\n",
        "case", "server", "peers", "rx pkt/s", "loss %", "p50 us", "p99 us",
        "us/pkt", "cpu %", "KiB/peer", "join ms", "rpc ms", "lg %"
    for (i = 1; i <= nl; i++) {
        l = names[i]
        for (s = 0; s < 2; s++) {
            srv = s ? "janus" : "kraken"
            if ((l SUBSEP srv) in row) print row[l SUBSEP srv]
        }
    }
    print ""
    if (nf > 0) {
        print "capacity per core (largest run with < 0.1% loss and < 95% CPU):"
        for (i = 1; i <= nf; i++) {
            fm = famv[i]
            k = fm SUBSEP "kraken"; j = fm SUBSEP "janus"
            if (k in capline) print "  " capline[k]
            if (j in capline) print "  " capline[j]
            if (cap[k] > 0 && cap[j] > 0)
                printf "  %s: capacity ours/Janus = %.1fx\n", fm, cap[k] / cap[j]
        }
        print ""
    }
    if (floor != "") {
        printf "floor (srtp_protect GCM + sendmmsg, one core): %.2f us per packet\n", floor
    }
    for (i = 1; i <= nl; i++) {
        l = names[i]
        k = l SUBSEP "kraken"; j = l SUBSEP "janus"
        if ((k in us) && (j in us) && us[j] > 0 && loss[j] < 100) {
            printf "%s: CPU per forwarded packet ours/Janus = %.2f (Janus needs %.1fx ours)\n", l, us[k] / us[j], us[j] / us[k]
        } else if (k in us) {
            printf "%s: ours %.2f us per forwarded packet (%.1fx the floor); no Janus figure\n", l, us[k], (floor > 0 ? us[k] / floor : 0)
        }
    }
}' "$1"
