#!/usr/bin/env bash
# memory-check.sh - shows that ddtree's memory stays inside a stated budget under heavy load.
#
# Starts `bin/ddtree serve` with a RAM device, a fixed --buffer-budget and a fixed maximum heap,
# then drives it with 64 concurrent fio jobs at queue depth 32 (random writes, first 4 KiB, then
# 1 MiB, so far more data is asked for at once than the buffer budget holds), while sampling the
# daemon's resident memory (VmRSS, and VmHWM, the kernel's high-water mark) from /proc.
#
# The stated budget is   heap (-Xmx) + buffer budget + RAM device size + JVM overhead
# (code cache, metaspace, GC structures, thread stacks, NIO buffers). PASS when the peak is
# within it.
#
# Usage: bench/memory-check.sh
# Environment (defaults in brackets):
#   HEAP      [256m]  -Xmx of the daemon
#   BUDGET    [128M]  --buffer-budget
#   RAM       [512M]  size of the RAM device (all of it gets written)
#   OVERHEAD  [192]   MiB allowed for the JVM beyond heap and buffers
#   RUNTIME   [20]    seconds of load in all (half 4 KiB, half 1 MiB)
#   JOBS      [64]    concurrent fio jobs (one NBD connection each)
#   IODEPTH   [32]    requests in flight per job
# Output: the figures on stdout; the samples and fio output under bench/target/memory-check/<utc>/.
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
HEAP=${HEAP:-256m}
BUDGET=${BUDGET:-128M}
RAM=${RAM:-512M}
OVERHEAD=${OVERHEAD:-192}
RUNTIME=${RUNTIME:-20}
JOBS=${JOBS:-64}
IODEPTH=${IODEPTH:-32}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS="$HERE/target/memory-check/$STAMP"
mkdir -p "$RESULTS" "$HERE/target"
TMP=$(mktemp -d "${TMPDIR:-$HERE/target}/memory-check.XXXXXX") || exit 1

command -v fio >/dev/null || { echo "memory-check: fio not found (apt-get install fio)" >&2; exit 1; }
command -v nbdinfo >/dev/null || { echo "memory-check: nbdinfo not found (apt-get install libnbd-bin)" >&2; exit 1; }

DAEMON_PID=
SAMPLER_PID=
cleanup() {
    if [ -n "$SAMPLER_PID" ]; then
        kill "$SAMPLER_PID" 2>/dev/null
        wait "$SAMPLER_PID" 2>/dev/null
    fi
    if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        kill -TERM "$DAEMON_PID" 2>/dev/null
        for _ in $(seq 1 100); do
            kill -0 "$DAEMON_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$DAEMON_PID" 2>/dev/null && kill -KILL "$DAEMON_PID" 2>/dev/null
        wait "$DAEMON_PID" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# to_mib SIZE: 256m, 128M, 1G, 4096 (bytes) -> MiB
to_mib() {
    python3 -c '
import sys
s = sys.argv[1].strip().upper().removesuffix("B").removesuffix("I")
mult = {"K": 1/1024, "M": 1, "G": 1024, "T": 1024 * 1024}
print(int(float(s[:-1]) * mult[s[-1]]) if s[-1] in mult else int(s) // (1 << 20))' "$1"
}

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
URI="nbd://127.0.0.1:$PORT/ram0"

"$ROOT/bin/ddtree" --version >/dev/null || { echo "memory-check: bin/ddtree does not run" >&2; exit 1; }
DDTREE_JAVA_OPTS="-Xmx$HEAP ${DDTREE_JAVA_OPTS:-}" "$ROOT/bin/ddtree" serve --state "$TMP/state" \
    --listen "127.0.0.1:$PORT" --device "ram0=ram:$RAM" --buffer-budget "$BUDGET" \
    >"$RESULTS/daemon.log" 2>&1 &
DAEMON_PID=$!

ready=0
for _ in $(seq 1 300); do
    kill -0 "$DAEMON_PID" 2>/dev/null || break
    if timeout 5 nbdinfo --size "$URI" >/dev/null 2>&1; then ready=1; break; fi
    sleep 0.2
done
if [ $ready != 1 ]; then
    echo "memory-check: daemon did not come up (see $RESULTS/daemon.log)" >&2
    exit 1
fi
if [ "$(cat "/proc/$DAEMON_PID/comm" 2>/dev/null)" != java ]; then
    echo "memory-check: PID $DAEMON_PID is not the JVM; the launcher must exec java" >&2
    exit 1
fi

status_kib() { # status_kib FIELD -> kB value from /proc/PID/status
    awk -v f="$1:" '$1 == f {print $2}' "/proc/$DAEMON_PID/status" 2>/dev/null
}
IDLE_RSS=$(status_kib VmRSS)

# Sample every 200 ms, bounded by the load's length plus a margin.
(
    end=$((SECONDS + RUNTIME + 120))
    echo "elapsed_s,vmrss_kib,vmhwm_kib,threads"
    start=$(date +%s%N)
    while [ $SECONDS -lt $end ] && [ -r "/proc/$DAEMON_PID/status" ]; do
        awk -v t="$(( ($(date +%s%N) - start) / 1000000 ))" '
            $1 == "VmRSS:" {r=$2} $1 == "VmHWM:" {h=$2} $1 == "Threads:" {n=$2}
            END {printf "%.1f,%s,%s,%s\n", t / 1000, r, h, n}' "/proc/$DAEMON_PID/status"
        sleep 0.2
    done
) >"$RESULTS/rss.csv" &
SAMPLER_PID=$!

half=$(( (RUNTIME + 1) / 2 ))
fio_status=0
for bs in 4k 1M; do
    timeout $((half + 120)) fio --name="randwrite-$bs" --ioengine=nbd --uri="$URI" --thread \
        --numjobs="$JOBS" --iodepth="$IODEPTH" --rw=randwrite --bs="$bs" \
        --time_based --runtime="$half" --group_reporting --output-format=json \
        --output="$RESULTS/fio-$bs.json" >"$RESULTS/fio-$bs.log" 2>&1 || fio_status=1
done
PEAK_HWM=$(status_kib VmHWM)
END_RSS=$(status_kib VmRSS)
kill "$SAMPLER_PID" 2>/dev/null
wait "$SAMPLER_PID" 2>/dev/null
SAMPLER_PID=
alive=yes
kill -0 "$DAEMON_PID" 2>/dev/null || alive=no

HEAP_MIB=$(to_mib "$HEAP")
BUDGET_MIB=$(to_mib "$BUDGET")
RAM_MIB=$(to_mib "$RAM")
python3 - "$RESULTS" "$HEAP_MIB" "$BUDGET_MIB" "$RAM_MIB" "$OVERHEAD" "${IDLE_RSS:-0}" "${PEAK_HWM:-0}" \
    "${END_RSS:-0}" "$alive" "$fio_status" "$JOBS" "$IODEPTH" "$RUNTIME" <<'PY' | tee "$RESULTS/summary.txt"
import csv, json, os, sys
(results, heap, budget, ram, overhead, idle, hwm, end, alive, fio_status,
 jobs, depth, runtime) = sys.argv[1:]
heap, budget, ram, overhead = int(heap), int(budget), int(ram), int(overhead)
idle, hwm, end = int(idle) / 1024, int(hwm) / 1024, int(end) / 1024
peak_sampled = 0.0
with open(os.path.join(results, "rss.csv")) as f:
    for row in csv.DictReader(f):
        try:
            peak_sampled = max(peak_sampled, int(row["vmrss_kib"]) / 1024)
        except (ValueError, TypeError):
            pass
stated = heap + budget + ram + overhead
print(f"# memory-check: {jobs} fio jobs x iodepth {depth}, randwrite 4k then 1M, {runtime}s in all")
for bs in ("4k", "1M"):
    try:
        with open(os.path.join(results, f"fio-{bs}.json")) as f:
            txt = f.read()
        w = json.loads(txt[txt.index("{"):])["jobs"][0]["write"]
        print(f"  randwrite {bs:>2}: {w['iops']:10.0f} IOPS {w['bw_bytes'] / 1e6:9.1f} MB/s "
              f"p99 {w['clat_ns']['percentile']['99.000000'] / 1000:8.0f} us")
    except Exception as e:
        print(f"  randwrite {bs:>2}: FAILED ({e})")
print(f"stated budget   {stated:6d} MiB = heap {heap} + buffer budget {budget} + RAM device {ram} + overhead {overhead}")
print(f"idle RSS        {idle:6.0f} MiB (before load)")
print(f"peak RSS        {max(hwm, peak_sampled):6.0f} MiB (VmHWM {hwm:.0f}, highest 200 ms sample {peak_sampled:.0f})")
print(f"RSS at the end  {end:6.0f} MiB")
print(f"daemon alive after the load: {alive}")
ok = max(hwm, peak_sampled) <= stated and alive == "yes" and fio_status == "0"
print("PASS: peak within the stated budget" if ok else "FAIL: " + (
    "peak above the stated budget" if max(hwm, peak_sampled) > stated else
    "daemon died" if alive != "yes" else "fio failed (see fio-*.log)"))
sys.exit(0 if ok else 1)
PY
rc=$?
echo "# samples and fio output: $RESULTS"
exit $rc
