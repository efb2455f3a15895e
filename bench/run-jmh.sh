#!/usr/bin/env bash
# run-jmh.sh - builds the bench module and runs the request-path JMH benchmark with the GC
# profiler, so gc.alloc.rate.norm shows the bytes allocated per NBD request (server included).
#
# Usage: bench/run-jmh.sh [JMH options...]
#   With no options: RequestPathBenchmark, 1 fork, 3 x 2 s warmup, 5 x 3 s measurement, -prof gc.
#   Any options given replace the defaults (for example: bench/run-jmh.sh 'read4k$' -prof gc -f 1).
#   JMH -h lists them.
# Environment: SKIP_BUILD=1 reuses the last build.
# Writes the JMH output to bench/target/jmh-result.txt and JSON to bench/target/jmh-result.json.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=../bin/jdk.sh
. "$ROOT/bin/jdk.sh"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$ROOT" && mvn -q -B -pl bench -am -DskipTests package)
fi
CP="$HERE/target/classes:$(cat "$HERE/target/benchmark.classpath")"

if [ $# -eq 0 ]; then
    set -- 'ddtree.bench.RequestPathBenchmark' -f 1 -wi 3 -i 5 -w 2s -r 3s -prof gc
fi

# JMH forks a fresh JVM per trial with the same class path.
java -cp "$CP" --enable-native-access=ALL-UNNAMED --add-exports java.base/sun.nio.ch=ALL-UNNAMED org.openjdk.jmh.Main "$@" \
    -rf json -rff "$HERE/target/jmh-result.json" 2>&1 | tee "$HERE/target/jmh-result.txt"

echo
echo "# bytes allocated per request (gc.alloc.rate.norm, all threads; target 0):"
grep -E '^[A-Za-z][^ ]*:gc\.alloc\.rate\.norm ' "$HERE/target/jmh-result.txt" \
    || echo "# (no allocation figures: run with -prof gc)"
