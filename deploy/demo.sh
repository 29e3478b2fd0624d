#!/usr/bin/env bash
# The README's live demo: starts a local Kafka 4.3 KRaft cluster (one controller, 6 brokers in
# racks az-a/az-b/az-c on 127.0.0.1), creates a topic with data (160 MiB, RF 3), starts the
# built kmedic-agent on every broker and the built kmedic-master, SIGKILLs broker 2, and shows
# the master heal the cluster by itself: the broker confirmed dead (Kafka and the agent agree),
# the heal grace counting down, the rack-correct heal plan, the throttled reassignment with a
# progress bar until no partition is under-replicated, the throttles removed, and the action
# log read back. Every process stops when it ends, also on Ctrl-C or an error; it exits non-zero
# when the heal does not finish within 5 minutes of the kill.
#
#   deploy/demo.sh                     the demo (about 1.5 minutes once built)
#   deploy/demo.sh --victim 5          kill another broker
#   deploy/demo.sh --throttle-mib 8    a faster copy (--data-mib, --grace-secs: see --help)
#   deploy/testbed up|status|down      a cluster that stays up, to explore by hand
#
# Needs Rust, Java 17 and Maven; the first run fetches the Kafka jars from Maven Central and
# builds the workspace. Ports: KMEDIC_TESTBED_PORT_BASE (default 19300) to +6.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port_base="${KMEDIC_TESTBED_PORT_BASE:-19300}"

"$root/tests/kafka/fetch-jars.sh"
echo "building kmedic-agent, kmedic-master and the demo ..."
cargo build -q --manifest-path "$root/Cargo.toml" -p kmedic-agent --bin kmedic-agent
cargo build -q --manifest-path "$root/Cargo.toml" -p kmedic-master --bin kmedic-master
cargo build -q --manifest-path "$root/Cargo.toml" -p kmedic-tests --bin kmedic-demo
exec "$root/target/debug/kmedic-demo" \
  --master-bin "$root/target/debug/kmedic-master" \
  --agent-bin "$root/target/debug/kmedic-agent" \
  --port-base "$port_base" "$@"
