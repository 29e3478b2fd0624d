#!/usr/bin/env bash
# The README's demo. At this stage: build the testbed, start a local Kafka 4.3 KRaft cluster (one
# controller, 6 brokers in racks az-a/az-b/az-c on 127.0.0.1), print its state (brokers, racks,
# ports, pids, fenced state, controller) and keep it running in the foreground until Ctrl-C.
#
#   deploy/demo.sh          run the demo (Ctrl-C stops the cluster)
#   deploy/demo.sh --down   stop a demo or testbed still running from another terminal
#
# Needs Rust, Java 17 and Maven; the first run fetches the Kafka jars from Maven Central.
# State: ./.testbed/ (KMEDIC_TESTBED_DIR), ports from KMEDIC_TESTBED_PORT_BASE (default 19400).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${KMEDIC_TESTBED_DIR:-$root/.testbed}"
port_base="${KMEDIC_TESTBED_PORT_BASE:-19400}"
bin="$root/target/debug/kmedic-testbed"

if [[ "${1:-}" == "--down" ]]; then
  exec "$root/deploy/testbed" down
fi

"$root/tests/kafka/fetch-jars.sh"
echo "building kmedic-testbed ..."
cargo build -q --manifest-path "$root/Cargo.toml" -p kmedic-tests --bin kmedic-testbed
mkdir -p "$state"
echo "starting Kafka: controller on 127.0.0.1:$port_base, brokers 1-6 on $((port_base + 1))-$((port_base + 6)) ..."
# Foreground: the cluster lives as long as this command; Ctrl-C stops every JVM.
RUST_LOG="${RUST_LOG:-warn}" exec "$bin" --state-dir "$state" up --port-base "$port_base" "$@"
