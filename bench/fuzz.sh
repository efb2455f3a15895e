#!/usr/bin/env bash
# fuzz.sh - fuzzes the NBD handshake and request parser (nbd/src/test/java/ddtree/nbd/fuzz/
# NbdProtocolFuzzTest) with Jazzer for a bounded time.
#
# Usage: bench/fuzz.sh [SECONDS]      (default 60)
#   Environment: FUZZ_HEAP [1g]  max heap of the fuzzing JVM.
#
# Without JAZZER_FUZZ the same test runs only its seed inputs, as part of the ordinary build.
# Here JAZZER_FUZZ=1 turns on coverage-guided fuzzing and jazzer.max_duration bounds it.
# A failing input is written into
#   nbd/src/test/resources/ddtree/nbd/fuzz/NbdProtocolFuzzTestInputs/
# (add it to git: from then on it runs as a regression seed); the inputs the fuzzer found
# interesting are kept in nbd/.cifuzz-corpus/ and reused by the next run.
set -euo pipefail

SECONDS_TO_FUZZ=${1:-60}
case $SECONDS_TO_FUZZ in
    ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=../bin/jdk.sh
. "$ROOT/bin/jdk.sh"

cd "$ROOT"
# The build and the JVM start take a minute or two on top of the fuzzing time.
JAZZER_FUZZ=1 timeout $((SECONDS_TO_FUZZ + 600)) mvn -B -pl nbd -am test \
    -Dtest=NbdProtocolFuzzTest -Dsurefire.failIfNoSpecifiedTests=false \
    -Djazzer.max_duration="${SECONDS_TO_FUZZ}s" \
    -Dsurefire.argLine="--enable-native-access=ALL-UNNAMED --add-exports java.base/sun.nio.ch=ALL-UNNAMED -XX:+EnableDynamicAgentLoading -Xmx${FUZZ_HEAP:-1g}" \
    -Dsurefire.redirectTestOutputToFile=false
