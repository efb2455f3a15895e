#!/usr/bin/env bash
# ddsnap-bench.sh - the ddsnap figures: origin writes with no snapshot against the plain file
# device, 4k random writes at queue depth 32 as snapshots pile up (each taken after rewriting a
# share of the volume), snapshot create times, the read rate of a full delta stream, and
# qemu-nbd over a qcow2 with internal snapshots taken the same way, in the same run.
#
# Usage: bench/ddsnap-bench.sh
# Environment:
#   SIZE        [256M]  volume size (and the plain device's, and the qcow2's)
#   MILESTONES  [1 10 100 1000]  snapshot counts at which the volume is measured
#   REWRITE     [10]    percent of the volume rewritten (64k random writes) before each snapshot
#   QCOW_SNAPS  [10]    internal snapshots of the qcow2
#   RUNTIME     [10]    seconds per measurement
#   CHUNK       [64K]   the volume's chunk size
#   TMPDIR      where images go (default bench/target); the store needs about
#               SIZE * REWRITE% * the last milestone
# Prints a table; servers are stopped by PID and the images removed at the end.
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SIZE=${SIZE:-256M}
MILESTONES=${MILESTONES:-"1 10 100 1000"}
REWRITE=${REWRITE:-10}
QCOW_SNAPS=${QCOW_SNAPS:-10}
RUNTIME=${RUNTIME:-10}
CHUNK=${CHUNK:-64K}
mkdir -p "$HERE/target"
TMP=$(mktemp -d "${TMPDIR:-$HERE/target}/ddsnap-bench.XXXXXX") || exit 1

PID=
stop() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$PID" 2>/dev/null && kill -KILL "$PID" 2>/dev/null
        wait "$PID" 2>/dev/null
    fi
    PID=
}
cleanup() { stop; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

for t in fio qemu-nbd qemu-img nbdinfo python3; do
    command -v "$t" >/dev/null || { echo "ddsnap-bench: $t not found" >&2; exit 1; }
done
. "$ROOT/bin/jdk.sh"
(cd "$ROOT" && mvn -q -B -pl bench,daemon,ddsnap,ddsetup -am -DskipTests package) || exit 1

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
ready() {
    for _ in $(seq 1 300); do
        kill -0 "$PID" 2>/dev/null || { echo "ddsnap-bench: server exited" >&2; return 1; }
        timeout 5 nbdinfo --size "$1" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}
fio_iops() { # URI fio-options...: prints write IOPS
    local uri=$1; shift
    fio --name=m --ioengine=nbd "--uri=$uri" --numjobs=1 --output-format=json --randrepeat=0 "$@" \
        | python3 -c 'import json,sys; t=sys.stdin.read(); d=json.loads(t[t.find("{"):]); print(round(d["jobs"][0]["write"]["iops"]))'
}
fill() { fio --name=fill --ioengine=nbd "--uri=$1" --rw=write --bs=1M --iodepth=8 --output-format=terse >/dev/null; }
measure() { fio_iops "$1" --rw=randwrite --bs=4k --iodepth=32 --time_based "--runtime=$RUNTIME" --ramp_time=1; }
bytes() { python3 -c "import sys; u={'K':1<<10,'M':1<<20,'G':1<<30}; s=sys.argv[1]; print(int(s[:-1])*u[s[-1]] if s[-1] in u else int(s))" "$1"; }

VBYTES=$(bytes "$SIZE")
LAST=${MILESTONES##* }
STORE=$(( (VBYTES * REWRITE / 100 * (LAST + 2) + (64 << 20)) / 1048576 * 1048576 ))

# ---- ddtree: plain file device and a ddsnap volume in one daemon ----
P=$(port)
"$ROOT/bin/ddtree" serve --state "$TMP/var" --listen "127.0.0.1:$P" >"$TMP/serve.log" 2>&1 &
PID=$!
ready "nbd://127.0.0.1:$P/disk0" || exit 1
CTL="$TMP/var/control.sock"
truncate -s "$VBYTES" "$TMP/plain.img"
"$ROOT/bin/ddsetup" --control "$CTL" create plain --table "0 $((VBYTES / 512)) linear $TMP/plain.img 0" >/dev/null
"$ROOT/bin/ddsetup" --control "$CTL" export plain >/dev/null
"$ROOT/bin/ddsnap" --control "$CTL" init vol --origin "file:$TMP/vol.img:$VBYTES" \
    --store "file:$TMP/store.img:$STORE" --chunk-size "$CHUNK" >/dev/null || exit 1
fill "nbd://127.0.0.1:$P/plain"
fill "nbd://127.0.0.1:$P/vol"
PLAIN=$(measure "nbd://127.0.0.1:$P/plain")
VOL0=$(measure "nbd://127.0.0.1:$P/vol")
echo "# ddsnap volume, $SIZE, chunk $CHUNK; 4k random writes at qd32, IOPS"
printf '%-28s %10s\n' "plain file device" "$PLAIN" "volume, no snapshot" "$VOL0"
echo
CP="$HERE/target/classes:$(cat "$HERE/target/benchmark.classpath")"
# shellcheck disable=SC2086 # MILESTONES is a list
SERIES=$(java -cp "$CP" ddtree.bench.SnapshotSeries "$CTL" vol "nbd://127.0.0.1:$P/vol" "$VBYTES" "$REWRITE" \
    "$RUNTIME" $MILESTONES) || { echo "$SERIES"; exit 1; }
echo "$SERIES"
# The store's own sequential read rate, for the delta figure: the same file, read directly.
STORE_MBPS=$(fio --name=sr --ioengine=psync "--filename=$TMP/store.img" --rw=read --bs=1M "--size=$VBYTES" \
    --output-format=json | python3 -c 'import json,sys; t=sys.stdin.read(); d=json.loads(t[t.find("{"):]); print(round(d["jobs"][0]["read"]["bw_bytes"]/1e6))')
echo "store_seqread_MBps $STORE_MBPS"
stop

# ---- qemu-nbd over a qcow2 with internal snapshots ----
Q="$TMP/q.qcow2"
qemu-img create -q -f qcow2 "$Q" "$VBYTES"
qnbd() { # starts qemu-nbd on $Q, sets PID and QURI
    local qp
    qp=$(port)
    qemu-nbd -f qcow2 --cache=writeback -b 127.0.0.1 -p "$qp" -x q -t "$Q" &
    PID=$!
    QURI="nbd://127.0.0.1:$qp/q"
    ready "$QURI"
}
qnbd && fill "$QURI" && Q0=$(measure "$QURI"); stop
for i in $(seq 1 "$QCOW_SNAPS"); do
    qnbd && fio --name=rw --ioengine=nbd "--uri=$QURI" --rw=randwrite --bs=64k --iodepth=8 \
        "--io_size=$((VBYTES * REWRITE / 100))" --randrepeat=0 --output-format=terse >/dev/null
    stop
    qemu-img snapshot -c "s$i" "$Q"
done
qnbd && QN=$(measure "$QURI"); stop
echo
printf '%-28s %10s\n' "qcow2, no snapshot" "$Q0" "qcow2, $QCOW_SNAPS snapshots" "$QN"

python3 - "$PLAIN" "$VOL0" "$Q0" "$QN" "$QCOW_SNAPS" "$SERIES" "$STORE_MBPS" <<'EOF'
import sys
plain, vol0, q0, qn, qsnaps, series = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6]
store = float(sys.argv[7])
rows = {}
delta = None
for line in series.splitlines():
    f = line.split()
    if f and f[0].isdigit():
        rows[int(f[0])] = (float(f[1]), float(f[2]), float(f[3]))
    if f and f[0] == "delta_full_MBps":
        delta = float(f[1])
print()
print("volume, no snapshot / plain file device: %.2fx (target 0.9x)" % (vol0 / plain))
if rows:
    first, last = min(rows), max(rows)
    print("%d snapshots / %d snapshot: %.2fx (target 0.8x)" % (last, first, rows[last][0] / rows[first][0]))
    if int(qsnaps) in rows:
        print("volume with %s snapshots / qcow2 with %s: %.2fx (target 1.5x)" % (qsnaps, qsnaps, rows[int(qsnaps)][0] / qn))
    print("snapshot create at %d snapshots: %.2f ms mean of the last 10, %.2f ms max (target under 10 ms)"
          % (last, rows[last][1], rows[last][2]))
print("qcow2 with %s snapshots / qcow2 without: %.2fx" % (qsnaps, qn / q0))
if delta:
    print("full delta stream reads %.0f MB/s, the store file %.0f MB/s sequentially: %.2fx (target 0.8x)"
          % (delta, store, delta / store))
EOF
