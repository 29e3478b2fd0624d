#!/usr/bin/env bash
# The README's live demo: starts a local Kafka 4.3 KRaft cluster (one controller, 6 brokers in
# racks az-a/az-b/az-c on 127.0.0.1), creates a topic with data, SIGKILLs broker 2, and runs
# `kmedic-master plan` on the live cluster to show the heal plan the master makes for it (same
# rack first, RF and rack diversity kept, as a table and as kafka-reassign-partitions JSON).
# Executing the plan is a later issue, so the demo then restarts the broker itself and checks the
# cluster is healthy. Every JVM stops when it ends, also on Ctrl-C or an error.
#
#   deploy/demo.sh                 the demo (about a minute once built)
#   deploy/demo.sh --victim 5      kill another broker
#   deploy/testbed up|status|down  a cluster that stays up, to explore by hand
#
# Needs Rust, Java 17 and Maven; the first run fetches the Kafka jars from Maven Central and
# builds the workspace. Ports: KMEDIC_TESTBED_PORT_BASE (default 19300) to +6.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port_base="${KMEDIC_TESTBED_PORT_BASE:-19300}"

"$root/tests/kafka/fetch-jars.sh"
echo "building kmedic-master and the demo ..."
cargo build -q --manifest-path "$root/Cargo.toml" -p kmedic-master --bin kmedic-master
cargo build -q --manifest-path "$root/Cargo.toml" -p kmedic-tests --bin kmedic-demo
exec "$root/target/debug/kmedic-demo" --master-bin "$root/target/debug/kmedic-master" \
  --port-base "$port_base" "$@"
