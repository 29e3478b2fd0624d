#!/usr/bin/env bash
# Fetch the Apache Kafka 4.3.1 jars for the testbed into tests/kafka/jars/ (git-ignored).
# Idempotent: when the jars were fetched for this very pom (its hash is in the marker file), it
# does nothing and needs no network. A changed pom refetches.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
marker="$here/jars/.complete"
want="$(sha256sum "$here/pom.xml" | cut -d' ' -f1)"
if [[ -f "$marker" && "$(cat "$marker")" == "$want" ]]; then
  exit 0
fi
command -v mvn >/dev/null || { echo "fetch-jars: Maven (mvn) is required to fetch the Kafka jars" >&2; exit 1; }
command -v java >/dev/null || { echo "fetch-jars: Java 17 is required to run Kafka" >&2; exit 1; }
echo "fetch-jars: fetching Apache Kafka jars with Maven into $here/jars ..." >&2
rm -rf "$here/jars.tmp"
mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
  -DoutputDirectory="$here/jars.tmp" -DincludeScope=runtime
echo "$want" > "$here/jars.tmp/.complete"
rm -rf "$here/jars"
mv "$here/jars.tmp" "$here/jars"
echo "fetch-jars: $(ls "$here/jars" | wc -l) jars ready" >&2
