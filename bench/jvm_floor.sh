#!/usr/bin/env bash
# The floor of any JVM agent (a JVM agent such as DoctorKafka's kafkastats can never be lighter):
# a minimal idle JVM (`java -Xmx16m Idle`, a main that only sleeps), sampled like
# agent/benches/footprint.sh samples our agent: RSS and CPU every 30 s over DURATION_SECS.
#
#   DURATION_SECS=600 bench/jvm_floor.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
DURATION_SECS=${DURATION_SECS:-600}
WORK=$(mktemp -d /tmp/kmedic-jvm-floor.XXXXXX)
JVM_PID=
cleanup() {
  [ -z "$JVM_PID" ] || { kill "$JVM_PID" 2>/dev/null || true; wait "$JVM_PID" 2>/dev/null || true; }
  rm -rf "$WORK"
}
trap cleanup EXIT
javac -d "$WORK" java/Idle.java
java -Xmx16m -cp "$WORK" Idle &
JVM_PID=$!
TICK=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$JVM_PID/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$JVM_PID/status"; }
sleep 5
t0=$(date +%s.%N); c0=$(ticks)
printf '%8s %10s %10s %12s\n' "t_secs" "rss_kib" "hwm_kib" "cpu_%_core"
prev_t=$t0; prev_c=$c0
end=$(( $(date +%s) + DURATION_SECS ))
while [ "$(date +%s)" -lt "$end" ]; do
  sleep 30
  t=$(date +%s.%N); c=$(ticks); r=$(rss_kb)
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$JVM_PID/status")
  cpu=$(echo "($c - $prev_c) / $TICK / ($t - $prev_t) * 100" | bc -l)
  printf '%8.0f %10d %10d %12.3f\n' "$(echo "$t - $t0" | bc)" "$r" "$hwm" "$cpu"
  prev_t=$t; prev_c=$c
done
t=$(date +%s.%N); c=$(ticks)
echo
echo "== idle JVM (java -Xmx16m, $(java -version 2>&1 | head -1)): $(echo "$t - $t0" | bc | cut -d. -f1) s"
printf '%-34s %s\n' "CPU over the run (% of one core)" "$(printf '%.3f' "$(echo "($c - $c0) * 100 / $TICK / ($t - $t0)" | bc -l)")"
printf '%-34s %s\n' "threads" "$(awk '/^Threads/ {print $2}' /proc/$JVM_PID/status)"
