#!/usr/bin/env bash
# The agent's footprint: RSS and CPU of a release kmedic-agent over DURATION_SECS (default 600)
# with 4,000 partition directories on its "broker" (a fixture log dir), a 10 s heartbeat and 60 s
# full stats, publishing to a real 1-broker Kafka testbed. Prints a table.
#
#   agent/benches/footprint.sh                 # 10 minutes
#   DURATION_SECS=120 agent/benches/footprint.sh
#   AGENT_PREBUILT=1 AGENT=/path/to/kmedic-agent agent/benches/footprint.sh
#   TESTBED_PREBUILT=1 ...                     # skip building the testbed (cargo lock busy)
#
# Ports: KMEDIC_TESTBED_PORT_BASE (default 19380; the testbed uses base..base+1, metrics base+9).
# The fixture: 400 topics x 10 partitions, each with a sparse .log segment of 1-64 MiB, Kafka's
# preallocated 10 MiB .index and .timeindex, leader-epoch-checkpoint and partition.metadata;
# 10% of the partitions get appends every 10 s so the rates are not all zero. The agent's
# kafka_pid_file points at the testbed broker, so the process collector reads a real JVM.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
DURATION_SECS=${DURATION_SECS:-600}
PARTITIONS=${PARTITIONS:-4000}
BASE=${KMEDIC_TESTBED_PORT_BASE:-19380}
WORK=$(mktemp -d /tmp/kmedic-footprint.XXXXXX)
# AGENT=path measures another build of the agent (for example one built with opt-level "s").
AGENT=${AGENT:-target/release-agent/kmedic-agent}
TESTBED=target/debug/kmedic-testbed
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -f "$WORK/tb/state.json" ] || [ -d "$WORK/tb" ]; then
    "$TESTBED" --state-dir "$WORK/tb" down >/dev/null 2>&1 || true
  fi
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "building (release agent, testbed)..." >&2
[ -n "${AGENT_PREBUILT:-}" ] || cargo build --profile release-agent -q -p kmedic-agent
[ -n "${TESTBED_PREBUILT:-}" ] || cargo build -q -p kmedic-tests --bin kmedic-testbed

echo "starting a 1-broker testbed on port base $BASE..." >&2
KMEDIC_TESTBED_PORT_BASE=$BASE "$TESTBED" --state-dir "$WORK/tb" up --brokers 1 --port-base "$BASE" \
  >"$WORK/testbed.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
  "$TESTBED" --state-dir "$WORK/tb" status >"$WORK/status.txt" 2>/dev/null && break
  sleep 1
done
BROKER_PID=$(python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
print([n["pid"] for n in s["nodes"] if n["role"] == "broker"][0])' "$WORK/tb/state.json" 2>/dev/null || true)
[ -n "$BROKER_PID" ] || { echo "testbed did not start; see $WORK/testbed.log" >&2; cat "$WORK/testbed.log" >&2; exit 1; }
echo "$BROKER_PID" >"$WORK/broker.pid"

echo "writing the fixture: $PARTITIONS partitions..." >&2
python3 - "$WORK/data" "$PARTITIONS" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
random.seed(42)
os.makedirs(root)
with open(os.path.join(root, "meta.properties"), "w") as f:
    f.write("#\nversion=1\nnode.id=1\ncluster.id=FootprintBenchCluster0\ndirectory.id=AAAAAAAAAAAAAAAAAAAAAA\n")
for i in range(n):
    d = os.path.join(root, f"bench-topic-{i % 400:03d}-{i // 400}")
    os.makedirs(d)
    segs = [0] if i % 5 else [0, 123456]
    for base in segs:
        name = f"{base:020d}"
        with open(os.path.join(d, name + ".log"), "wb") as f:
            f.truncate(random.randint(1, 64) << 20)
        for ext, size in ((".index", 10 << 20), (".timeindex", 10 << 20)):
            with open(os.path.join(d, name + ext), "wb") as f:
                f.truncate(size)
    with open(os.path.join(d, "leader-epoch-checkpoint"), "w") as f:
        f.write("0\n1\n0 0\n")
    with open(os.path.join(d, "partition.metadata"), "w") as f:
        f.write("version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAA\n")
PY
cat >"$WORK/server.properties" <<EOP
process.roles=broker
node.id=1
broker.rack=az-a
log.dirs=$WORK/data
listeners=PLAINTEXT://127.0.0.1:$((BASE + 1))
controller.listener.names=CONTROLLER
EOP
cat >"$WORK/agent.toml" <<EOT
server_properties = "$WORK/server.properties"
[stats]
topic = "__kmedic_stats_footprint"
create_topic = true
topic_partitions = 1
topic_replication_factor = 1
heartbeat_interval_secs = 10
full_interval_secs = 60
[stats.connection]
bootstrap_servers = ["127.0.0.1:$((BASE + 1))"]
[collect]
kafka_pid_file = "$WORK/broker.pid"
[collect.imds]
enabled = false
[metrics]
listen_address = "127.0.0.1:$((BASE + 9))"
EOT

# Appends to 10% of the partitions every 10 s, as a producer would.
(
  while true; do
    for d in $(ls -d "$WORK"/data/bench-topic-* | awk 'NR % 10 == 0'); do
      head -c 4096 /dev/zero >>"$d/00000000000000000000.log"
    done
    sleep 10
  done
) &
pids+=($!)

# The same environment as deploy/agent/kmedic-agent.service (RUST_LOG=info, MALLOC_ARENA_MAX=2),
# so the figures are those of the shipped unit; both can be overridden to compare.
RUST_LOG=${RUST_LOG:-info} MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2} \
  "$AGENT" run --config "$WORK/agent.toml" >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
pids+=($AGENT_PID)
TICK=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$AGENT_PID/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$AGENT_PID/status"; }
sleep 5
t0=$(date +%s.%N); c0=$(ticks)
printf '%8s %10s %10s %12s\n' "t_secs" "rss_kib" "hwm_kib" "cpu_%_core"
prev_t=$t0; prev_c=$c0; max_rss=0; sum_rss=0; n=0
end=$(( $(date +%s) + DURATION_SECS ))
while [ "$(date +%s)" -lt "$end" ]; do
  sleep 30
  kill -0 "$AGENT_PID" 2>/dev/null || { echo "agent died; log:" >&2; cat "$WORK/agent.log" >&2; exit 1; }
  t=$(date +%s.%N); c=$(ticks); r=$(rss_kb)
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$AGENT_PID/status")
  cpu=$(echo "($c - $prev_c) / $TICK / ($t - $prev_t) * 100" | bc -l)
  printf '%8.0f %10d %10d %12.3f\n' "$(echo "$t - $t0" | bc)" "$r" "$hwm" "$cpu"
  prev_t=$t; prev_c=$c; n=$((n + 1)); sum_rss=$((sum_rss + r)); [ "$r" -gt "$max_rss" ] && max_rss=$r
done
t=$(date +%s.%N); c=$(ticks)
metrics=$(curl -s "http://127.0.0.1:$((BASE + 9))/metrics" || true)
echo
echo "== kmedic-agent footprint: $PARTITIONS partitions, heartbeat 10 s, full 60 s, $(echo "$t - $t0" | bc | cut -d. -f1) s"
printf '%-34s %s\n' "RSS mean / max (MiB)" "$(echo "scale=2; $sum_rss / $n / 1024" | bc) / $(echo "scale=2; $max_rss / 1024" | bc)"
printf '%-34s %s\n' "RSS high-water mark (MiB)" "$(echo "scale=2; $(awk '/^VmHWM/ {print $2}' /proc/$AGENT_PID/status) / 1024" | bc)"
printf '%-34s %s\n' "CPU over the run (% of one core)" "$(printf '%.3f' "$(echo "($c - $c0) * 100 / $TICK / ($t - $t0)" | bc -l)")"
printf '%-34s %s\n' "RSS anonymous / file-backed (MiB)" "$(awk '/^RssAnon/ {a=$2} /^RssFile/ {f=$2} END {printf "%.2f / %.2f", a/1024, f/1024}' /proc/$AGENT_PID/status)"
printf '%-34s %s\n' "env" "RUST_LOG=${RUST_LOG:-info} MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}"
printf '%-34s %s\n' "threads" "$(awk '/^Threads/ {print $2}' /proc/$AGENT_PID/status)"
echo "$metrics" | grep -E '^kmedic_agent_(samples_total|records_published_total|records_dropped_total|last_encoded_bytes|publish_failures_total)' || true
grep -E " (ERROR|WARN) " "$WORK/agent.log" | head -5 || true
