#!/usr/bin/env python3
"""Per-connection ProduceRequest figures from an az_bench librdkafka trace (issue 11, session H).

    AZ_BENCH_SLOWEST=1 AZ_BENCH_RDKAFKA_DEBUG=msg,protocol target/release/examples/az_bench ... \
        > run.out 2> run.err
    python3 client/examples/support/az_bench_trace.py run.err run.out

For each mode, the medians over its paced phases (warm-up pair skipped) of: the most
ProduceRequests outstanding on one producer->broker connection, requests per connection, the
number of connections, and the ProduceResponse round trip p50/p99 (librdkafka's `rtt`: from the
request's send to its response, so it includes the time the request waited at the broker behind
earlier ones on the same connection).
"""
import collections
import re
import statistics
import sys

trace = [l.rstrip("\n").split(" ", 3) for l in open(sys.argv[1]) if l.startswith("T ")]
modes = [m.group(1) for m in (re.match(r"\s+(default|AZ-aware) slowest", l) for l in open(sys.argv[2])) if m]
starts = []
for x in trace:
    if "paced phase starts" in " ".join(x[2:]) and (not starts or float(x[1]) - starts[-1] > 1000):
        starts.append(float(x[1]))
per_mode = collections.defaultdict(list)
for i, start in enumerate(starts):
    outstanding, most, sent, rtts = collections.Counter(), collections.Counter(), collections.Counter(), []
    for x in trace:
        if len(x) < 4 or not start <= float(x[1]) <= start + 4500:
            continue
        m = re.search(r":\d+/(\d+): (Sent|Received) Produce", x[3])
        if not m:
            continue
        conn = (x[2], m.group(1))  # (producer's AZ, broker id)
        if m.group(2) == "Sent":
            outstanding[conn] += 1
            sent[conn] += 1
            most[conn] = max(most[conn], outstanding[conn])
        else:
            outstanding[conn] = max(0, outstanding[conn] - 1)
            rtts.append(float(re.search(r"rtt ([\d.]+)ms", x[3]).group(1)))
    if i < 2 or i >= len(modes) or not rtts:
        continue
    rtts.sort()
    per_mode[modes[i]].append(
        (max(most.values()), sum(sent.values()) / len(sent), len(sent), rtts[len(rtts) // 2], rtts[int(len(rtts) * 0.99)])
    )
for mode, v in per_mode.items():
    med = lambda k: statistics.median(a[k] for a in v)
    print(
        f"{mode}: {len(v)} paced phases; most requests outstanding on one connection {med(0):.0f}; "
        f"requests per connection {med(1):.0f}; connections {med(2):.0f}; "
        f"ProduceResponse rtt p50 {med(3):.1f} ms, p99 {med(4):.1f} ms"
    )
