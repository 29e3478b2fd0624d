#!/usr/bin/env bash
# The product on the local testbed, as an operator runs it: 6 kmedic-agent processes (one per
# broker) and one kmedic-master, built binaries, default settings except what this one host
# needs. Idle for IDLE_SECS, then SIGKILL of one broker, then AFTER_SECS more; then it counts
# the master's log lines per minute (they must not grow while nothing changes).
#
#   deploy/soak.sh                      idle 300 s, kill broker 3, 480 s more (the default
#                                       heal_grace_secs is 300 s: the heal is planned in that time)
#   IDLE_SECS=60 AFTER_SECS=120 VICTIM=5 deploy/soak.sh
#
# Uses deploy/testbed (restarted fresh; left up afterwards: `deploy/testbed down`). Agents and
# the master are stopped when the script ends, also on Ctrl-C or an error. Files in
# .testbed/soak/: configs, agent-N.log, master.log (text, as a file gets it: no colour).
# Needs python3 (to read the testbed's state.json).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${KMEDIC_TESTBED_DIR:-$root/.testbed}"
idle="${IDLE_SECS:-300}"
after="${AFTER_SECS:-480}"
victim="${VICTIM:-3}"
profile="${PROFILE:-debug}"
dir="$state/soak"

echo "building kmedic-agent and kmedic-master ($profile) ..."
flag=""
[[ "$profile" == "release" ]] && flag="--release"
cargo build -q $flag --manifest-path "$root/Cargo.toml" -p kmedic-agent --bin kmedic-agent
cargo build -q $flag --manifest-path "$root/Cargo.toml" -p kmedic-master --bin kmedic-master
# A fresh cluster every run: a broker an earlier run killed would make "idle" a lie.
"$root/deploy/testbed" down >/dev/null
"$root/deploy/testbed" up >/dev/null
rm -rf "$dir"
mkdir -p "$dir"

field() { python3 -c "import json,sys; s=json.load(open('$state/state.json')); $1"; }
bootstrap=$(field 'print(s["bootstrap"])')
servers=$(python3 -c "import sys; print('[' + ', '.join('\"%s\"' % b for b in sys.argv[1].split(',')) + ']')" "$bootstrap")

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

while read -r id props; do
  cat >"$dir/agent-$id.toml" <<EOF
server_properties = "$props"
[stats]
# The stats topic does not exist on a fresh testbed; the first agent creates it.
create_topic = true
[stats.connection]
bootstrap_servers = $servers
# Not a cloud VM: no instance-metadata lookup.
[collect.imds]
enabled = false
# Six agents on one host: one metrics port each.
[metrics]
listen_address = "127.0.0.1:0"
EOF
  "$root/target/$profile/kmedic-agent" run --config "$dir/agent-$id.toml" 2>"$dir/agent-$id.log" &
  pids+=($!)
done < <(field 'print("\n".join("%d %s" % (n["id"], n["server_properties"]) for n in s["nodes"] if n["role"] == "broker"))')

# The first agent creates the stats topic; the master refuses to start without it.
sleep 10 & pids+=($!); wait $!

cat >"$dir/master.toml" <<EOF
[stats.connection]
bootstrap_servers = $servers
[checkpoint]
path = "$dir/master.checkpoint"
[[clusters]]
name = "testbed"
[clusters.connection]
bootstrap_servers = $servers
EOF
"$root/target/$profile/kmedic-master" run --config "$dir/master.toml" 2>"$dir/master.log" &
pids+=($!)
start=$(date +%s)
echo "agents and master running; logs in $dir; idle for $idle s"
sleep "$idle" & pids+=($!); wait $!
vpid=$(field "print([n['pid'] for n in s['nodes'] if n['id'] == $victim][0])")
echo "$(date -u +%T) SIGKILL broker $victim (pid $vpid)"
kill -KILL "$vpid"
kill_at=$(( $(date +%s) - start ))
sleep "$after" & pids+=($!); wait $!
cleanup
trap - EXIT

echo
echo "master log lines per minute (broker $victim killed at minute $((kill_at / 60))):"
python3 - "$dir/master.log" "$start" <<'EOF'
import sys, datetime, collections
path, start = sys.argv[1], int(sys.argv[2])
per = collections.Counter()
levels = collections.Counter()
for line in open(path, errors="replace"):
    ts = line.split(" ", 1)[0]
    try:
        t = datetime.datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        continue
    per[int((t - start) // 60)] += 1
    levels[line.split()[1] if len(line.split()) > 1 else "?"] += 1
for m in range(0, max(per) + 1 if per else 0):
    print(f"  minute {m:>3}: {per[m]:>4} lines")
print("  by level:", dict(levels))
print("  total:", sum(per.values()))
EOF
