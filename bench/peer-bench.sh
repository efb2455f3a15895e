#!/usr/bin/env bash
# This is the fixed fio matrix the project's peer comparison uses: keep it unchanged, so figures stay comparable.
# peer-bench.sh - fixed fio/NBD workload matrix against any NBD server.
#
# Usage: peer-bench.sh HOST PORT EXPORT
#   Runs fio (ioengine=nbd, libnbd) against nbd://HOST:PORT/EXPORT and prints
#   one line per workload:  name  IOPS  MB/s  p99_us
#     MB/s   = fio bw_bytes / 1e6 (decimal megabytes per second)
#     p99_us = 99th percentile of fio completion latency (clat), microseconds
#
# Needs: bash, fio >= 3.x built with the nbd engine, python3, coreutils;
#        nbdinfo and nbdcopy (libnbd-bin) are optional (size check, copy test).
#
# Environment knobs (defaults in brackets):
#   RUNTIME  [10]  measured seconds per workload (time_based)
#   RAMP     [1]   fio ramp_time seconds, excluded from the figures
#   PREFILL  [1]   1 = write the whole export once (1M seq, qd8) before the
#                  matrix, so reads never hit unallocated/sparse areas.
#                  Use 0 when the image is pre-filled and must not be touched
#                  (e.g. qcow2 with snapshots: a prefill would do all the COW).
#   NBDCOPY  [1]   1 = also time "nbdcopy nbd://... null:" (whole export read)
#   OUTDIR   [./peer-bench-out/<host>_<port>_<export>_<utc-time>]  fio JSON + logs
#
# Exit status: 0 if every workload ran; 1 if any failed (its line says FAILED).
set -u -o pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 HOST PORT EXPORT" >&2
    exit 2
fi
HOST=$1 PORT=$2 EXPORT=$3
URI="nbd://${HOST}:${PORT}/${EXPORT}"
RUNTIME=${RUNTIME:-10}
RAMP=${RAMP:-1}
PREFILL=${PREFILL:-1}
NBDCOPY=${NBDCOPY:-1}
OUTDIR=${OUTDIR:-./peer-bench-out/${HOST}_${PORT}_${EXPORT}_$(date -u +%Y%m%dT%H%M%SZ)}
JOB_TIMEOUT=$((RUNTIME + RAMP + 60))   # hard bound per fio invocation
mkdir -p "$OUTDIR" || exit 1

command -v fio >/dev/null || { echo "fio not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 not found" >&2; exit 1; }

# Export size check (the matrix is specified for a 1 GiB export).
if command -v nbdinfo >/dev/null; then
    SIZE=$(timeout 20 nbdinfo --size "$URI" 2>/dev/null) || {
        echo "cannot connect to $URI" >&2; exit 1; }
    [ "$SIZE" = 1073741824 ] || echo "# warning: export size is $SIZE bytes, not 1 GiB" >&2
fi

# Options shared by every workload.
COMMON=(--ioengine=nbd "--uri=$URI" --numjobs=1 --group_reporting
        --output-format=json)
TIMED=(--time_based "--runtime=$RUNTIME" "--ramp_time=$RAMP" --randrepeat=1)

# The fixed matrix: name|fio options.
MATRIX=(
    "randread_4k_qd1|--rw=randread --bs=4k --iodepth=1"
    "randread_4k_qd32|--rw=randread --bs=4k --iodepth=32"
    "randwrite_4k_qd1|--rw=randwrite --bs=4k --iodepth=1"
    "randwrite_4k_qd32|--rw=randwrite --bs=4k --iodepth=32"
    "seqread_1M_qd8|--rw=read --bs=1M --iodepth=8"
    "seqwrite_1M_qd8|--rw=write --bs=1M --iodepth=8"
)

summarize() {  # summarize NAME JSONFILE -> "name iops MB/s p99_us"
    python3 - "$1" "$2" <<'PY'
import json, sys
name, path = sys.argv[1], sys.argv[2]
try:
    with open(path) as f:
        txt = f.read()
    j = json.loads(txt[txt.index('{'):])          # skip any banner before the JSON
    job = j["jobs"][0]
    if job.get("error", 0):
        raise RuntimeError("fio error %s" % job["error"])
    rd, wr = job["read"], job["write"]
    d = rd if rd["io_bytes"] >= wr["io_bytes"] else wr
    p99 = d["clat_ns"]["percentile"]["99.000000"] / 1000.0
    print(f"{name:<18} {d['iops']:>10.0f} {d['bw_bytes']/1e6:>9.1f} {p99:>9.0f}")
except Exception as e:
    print(f"{name:<18} {'FAILED':>10} {'-':>9} {'-':>9}   ({e})")
    sys.exit(1)
PY
}

status=0
echo "# peer-bench $URI runtime=${RUNTIME}s ramp=${RAMP}s fio=$(fio --version) $(date -u +%FT%TZ)"

if [ "$PREFILL" = 1 ]; then
    if ! timeout 600 fio --name=prefill "${COMMON[@]}" --rw=write --bs=1M --iodepth=8 \
            --output="$OUTDIR/prefill.json" >"$OUTDIR/prefill.log" 2>&1; then
        echo "# prefill FAILED (see $OUTDIR/prefill.log)"; status=1
    fi
fi

printf '%-18s %10s %9s %9s\n' "# workload" "IOPS" "MB/s" "p99_us"
for entry in "${MATRIX[@]}"; do
    name=${entry%%|*}
    read -r -a opts <<<"${entry#*|}"
    timeout "$JOB_TIMEOUT" fio --name="$name" "${COMMON[@]}" "${TIMED[@]}" "${opts[@]}" \
        --output="$OUTDIR/$name.json" >"$OUTDIR/$name.log" 2>&1 || status=1
    summarize "$name" "$OUTDIR/$name.json" || status=1
done

if [ "$NBDCOPY" = 1 ]; then
    if command -v nbdcopy >/dev/null; then
        t0=$(date +%s%N)
        if timeout 300 nbdcopy "$URI" null: >"$OUTDIR/nbdcopy.log" 2>&1; then
            t1=$(date +%s%N)
            python3 -c "import sys; b,ns=int(sys.argv[1]),int(sys.argv[2]); print(f\"{'nbdcopy_to_null':<18} {'-':>10} {b/(ns/1e9)/1e6:>9.1f} {'-':>9}   (wall {ns/1e9:.3f} s)\")" \
                "${SIZE:-1073741824}" "$((t1 - t0))"
        else
            printf '%-18s %10s\n' nbdcopy_to_null FAILED; status=1
        fi
    else
        echo "# nbdcopy not installed, copy test skipped"
    fi
fi
echo "# raw fio JSON: $OUTDIR"
exit $status
