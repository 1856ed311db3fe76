#!/usr/bin/env python3
"""Watch every node's heartbeat and progress in a pool file from the host.

    scenarios/beat-monitor.py POOL_FILE SECONDS [--json]

Samples each node slot (common/include/gmm/pool_abi.h) every 2 ms on the
host's clock and reports, per node and per counter, the longest time the
counter stood still and how often it stood still for more than 100, 250 and
500 ms, plus the incarnations seen. A gap in `heartbeat` with the guest
kernel beating (gmm_ivshmem 0.3) means the VM's vCPUs did not run (host
starvation); a gap in `progress` alone means gmmd's user space did not run.
Used by scenarios/measure-guest-load.sh; runnable by hand on a live cluster.
"""
import json
import mmap
import os
import struct
import sys
import time

SB_MAGIC, SB_NODE_COUNT, SB_NODES_OFFSET = 0, 64, 88
POOL_MAGIC = 0x4C4F4F504D4D4721
SLOT_SIZE = 64
STATES = {0: "absent", 1: "joining", 2: "member", 3: "failed"}
BUCKETS_MS = (100, 250, 500)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path, seconds = sys.argv[1], float(sys.argv[2])
    as_json = "--json" in sys.argv[3:]
    fd = os.open(path, os.O_RDONLY)
    pool = mmap.mmap(fd, 1 << 20, mmap.MAP_SHARED, mmap.PROT_READ)
    if struct.unpack_from("<Q", pool, SB_MAGIC)[0] != POOL_MAGIC:
        sys.exit(f"{path}: not a formatted GMM pool")
    count = struct.unpack_from("<I", pool, SB_NODE_COUNT)[0]
    slots = struct.unpack_from("<Q", pool, SB_NODES_OFFSET)[0]

    def sample(n):
        base = slots + n * SLOT_SIZE
        state, inc, beat = struct.unpack_from("<IIQ", pool, base)
        progress = struct.unpack_from("<Q", pool, base + 48)[0]
        return state, inc, beat, progress

    now = time.monotonic()
    stats = {}
    for n in range(count):
        state, inc, beat, progress = sample(n)
        stats[n] = {
            "incarnations": [inc], "states": {STATES.get(state, str(state))},
            "heartbeat": {"value": beat, "since": now, "max_ms": 0.0, "gaps": {b: 0 for b in BUCKETS_MS}},
            "progress": {"value": progress, "since": now, "max_ms": 0.0, "gaps": {b: 0 for b in BUCKETS_MS}},
        }
    end = now + seconds
    samples, late = 0, 0
    last = now

    def close_gap(c, at):
        gap = (at - c["since"]) * 1000
        if c.get("blind"):
            # the monitor itself missed part of it: an upper bound only
            c["blind_max_ms"] = max(c.get("blind_max_ms", 0.0), gap)
            c["blind"] = False
            return
        c["max_ms"] = max(c["max_ms"], gap)
        for b in BUCKETS_MS:
            if gap > b:
                c["gaps"][b] += 1

    while True:
        now = time.monotonic()
        if now >= end:
            break
        if now - last > 0.05:
            late += 1  # the monitor itself was starved: its view has a hole
            for s in stats.values():
                s["heartbeat"]["blind"] = s["progress"]["blind"] = True
        last = now
        samples += 1
        for n in range(count):
            state, inc, beat, progress = sample(n)
            s = stats[n]
            s["states"].add(STATES.get(state, str(state)))
            if inc != s["incarnations"][-1]:
                s["incarnations"].append(inc)
            if STATES.get(state) not in ("member", "joining"):
                for key, value in (("heartbeat", beat), ("progress", progress)):
                    s[key]["value"], s[key]["since"] = value, now  # not alive: not a gap
                continue
            for key, value in (("heartbeat", beat), ("progress", progress)):
                c = s[key]
                if value != c["value"]:
                    close_gap(c, now)
                    c["value"], c["since"] = value, now
        time.sleep(0.002)
    for s in stats.values():
        for key in ("heartbeat", "progress"):
            close_gap(s[key], now)
    out = {
        "seconds": seconds, "samples": samples, "monitor_stalls_over_50ms": late,
        "nodes": {
            n: {
                "incarnations": s["incarnations"],
                "heartbeat_max_gap_ms": round(s["heartbeat"]["max_ms"], 1),
                "heartbeat_gaps_over_ms": s["heartbeat"]["gaps"],
                "progress_max_gap_ms": round(s["progress"]["max_ms"], 1),
                "progress_gaps_over_ms": s["progress"]["gaps"],
                "max_gap_across_monitor_stalls_ms": round(max(s["heartbeat"].get("blind_max_ms", 0.0),
                                                              s["progress"].get("blind_max_ms", 0.0)), 1),
            } for n, s in stats.items() if s["states"] != {"absent"}
        },
    }
    if as_json:
        print(json.dumps(out, indent=1))
        return
    print(f"beat-monitor: {seconds:.0f} s, {samples} samples, monitor itself late >50 ms {late} times")
    print("(gaps the monitor saw whole; a gap across one of its own stalls is only an upper bound, last column)")
    print("node  incarnations      heartbeat max gap / >100 >250 >500 ms   progress max gap / >100 >250 >500 ms   across monitor stalls")
    for n, o in out["nodes"].items():
        h, p = o["heartbeat_gaps_over_ms"], o["progress_gaps_over_ms"]
        print(f"{n:<5} {','.join(map(str, o['incarnations'])):<17} {o['heartbeat_max_gap_ms']:>8.1f} ms / {h[100]:>4} {h[250]:>4} {h[500]:>4}"
              f"      {o['progress_max_gap_ms']:>8.1f} ms / {p[100]:>4} {p[250]:>4} {p[500]:>4}"
              f"      <= {o['max_gap_across_monitor_stalls_ms']:.1f} ms")


if __name__ == "__main__":
    main()
