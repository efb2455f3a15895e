#!/usr/bin/env bash
# peer-compare.sh - runs the fixed fio matrix (bench/peer-bench.sh) against ddtree and against
# other NBD servers on this machine, then prints ddtree's figures beside theirs.
#
# Usage: bench/peer-compare.sh
#   Servers, each on its own loopback port, started here and stopped (by PID) when its matrix
#   is done, one at a time so they never compete for the CPU:
#     ddtree-ram    bin/ddtree serve --device ram0=ram:1G
#     nbdkit-mem    nbdkit memory 1G
#     ddtree-file   bin/ddtree serve --device disk0=file:IMG:1G
#     qemu-nbd      qemu-nbd -f raw --cache=writeback IMG
#     nbdkit-file   nbdkit file IMG
#   Ratios: ddtree-ram / nbdkit-mem, and ddtree-file / max(qemu-nbd, nbdkit-file); the target
#   is 1.0x (PASS at or above it, BELOW under it). IOPS for the 4k workloads, MB/s for the 1M
#   ones and for nbdcopy. With ROUNDS > 1 the servers take turns, round after round, and each
#   figure is the median of its rounds, with the spread (lowest-highest) beside it: one pass can
#   swing by a quarter on a small machine, which would hide a 0.9x or invent one.
#
# Environment:
#   RUNTIME  [10]  seconds per workload, passed to peer-bench.sh (RUNTIME=3 for a quick run)
#   RAMP, PREFILL, NBDCOPY  passed through to peer-bench.sh
#   SERVERS  [ddtree-ram nbdkit-mem ddtree-file qemu-nbd nbdkit-file]  which ones to run
#   ROUNDS   [3]   how many times each server runs the matrix, alternating
#   DDTREE_JAVA_OPTS  JVM options for ddtree (the launcher honours it)
#   TMPDIR   where the temporary directory for images and state goes (default bench/target)
# Output: the table on stdout, then the CPU time one request cost the server (all its threads,
#   sampled from /proc) and fio; each server's peer-bench output, fio JSON and CPU samples under
#   bench/target/peer-compare/<utc-time>/.
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
export RUNTIME=${RUNTIME:-10}
SERVERS=${SERVERS:-"ddtree-ram nbdkit-mem ddtree-file qemu-nbd nbdkit-file"}
ROUNDS=${ROUNDS:-3}
SIZE=1G
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS="$HERE/target/peer-compare/$STAMP"
mkdir -p "$RESULTS" "$HERE/target"
TMP=$(mktemp -d "${TMPDIR:-$HERE/target}/peer-compare.XXXXXX") || exit 1

SERVER_PID=
stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        for _ in $(seq 1 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    SERVER_PID=
}
# sample_cpu PID: prints "microseconds-since-epoch cpu-ticks" (user + system, all threads) about
# five times a second until PID ends, so each workload's share can be cut out by its fio times.
sample_cpu() {
    local stat
    while read -r stat <"/proc/$1/stat"; do
        stat=${stat##*) }              # the command name may hold spaces; fields after it do not
        read -r -a f <<<"$stat"
        echo "${EPOCHREALTIME/./} $((f[11] + f[12]))"
        sleep 0.2
    done 2>/dev/null
}
SAMPLER_PID=
cleanup() {
    stop_server
    [ -n "$SAMPLER_PID" ] && wait "$SAMPLER_PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need() { command -v "$1" >/dev/null || { echo "peer-compare: $1 not found ($2)" >&2; exit 1; }; }
need fio "apt-get install fio"
need nbdinfo "apt-get install libnbd-bin"
need nbdkit "apt-get install nbdkit"
need qemu-nbd "apt-get install qemu-utils"
need python3 "apt-get install python3"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_ready URI: polls until the server answers with an export size, for at most 60 s.
wait_ready() {
    local i
    for i in $(seq 1 300); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "peer-compare: server exited before it was ready" >&2
            return 1
        fi
        timeout 5 nbdinfo --size "$1" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "peer-compare: server at $1 not ready after 60 s" >&2
    return 1
}

# Build ddtree up front, so its start-up is not counted against the ready timeout.
if [[ " $SERVERS " == *" ddtree-"* ]]; then
    "$ROOT/bin/ddtree" --version >/dev/null || { echo "peer-compare: bin/ddtree does not run" >&2; exit 1; }
fi

# start NAME PORT: starts server NAME on 127.0.0.1:PORT, sets SERVER_PID and EXPORT_NAME.
start() {
    local name=$1 port=$2 img
    case $name in
        ddtree-ram)
            "$ROOT/bin/ddtree" serve --state "$TMP/state-ram" --listen "127.0.0.1:$port" \
                --device "ram0=ram:$SIZE" >"$RESULTS/$name.server.log" 2>&1 &
            SERVER_PID=$!
            EXPORT_NAME=ram0 ;;
        ddtree-file)
            img="$TMP/ddtree.img"
            "$ROOT/bin/ddtree" serve --state "$TMP/state-file" --listen "127.0.0.1:$port" \
                --device "disk0=file:$img:$SIZE" >"$RESULTS/$name.server.log" 2>&1 &
            SERVER_PID=$!
            EXPORT_NAME=disk0 ;;
        nbdkit-mem)
            nbdkit --foreground --exit-with-parent -i 127.0.0.1 -p "$port" \
                memory "$SIZE" >"$RESULTS/$name.server.log" 2>&1 &
            SERVER_PID=$!
            EXPORT_NAME=mem ;;
        qemu-nbd)
            img="$TMP/qemu.img"
            truncate -s "$SIZE" "$img" || return 1
            qemu-nbd -f raw --cache=writeback -b 127.0.0.1 -p "$port" -x disk --persistent --shared=16 \
                "$img" >"$RESULTS/$name.server.log" 2>&1 &
            SERVER_PID=$!
            EXPORT_NAME=disk ;;
        nbdkit-file)
            img="$TMP/nbdkit.img"
            truncate -s "$SIZE" "$img" || return 1
            nbdkit --foreground --exit-with-parent -i 127.0.0.1 -p "$port" \
                file "$img" >"$RESULTS/$name.server.log" 2>&1 &
            SERVER_PID=$!
            EXPORT_NAME=disk ;;
        *)
            echo "peer-compare: unknown server $name" >&2
            return 1 ;;
    esac
    wait_ready "nbd://127.0.0.1:$port/$EXPORT_NAME"
}

{
    echo "# peer-compare $STAMP runtime=${RUNTIME}s"
    echo "# $(fio --version) | $(nbdkit --version) | $(qemu-nbd --version | head -n 1)"
    echo "# $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
} | tee "$RESULTS/summary.txt"

status=0
for round in $(seq 1 "$ROUNDS"); do
    for name in $SERVERS; do
        port=$(free_port)
        echo "## round $round: $name on 127.0.0.1:$port" | tee -a "$RESULTS/summary.txt"
        if ! start "$name" "$port"; then
            echo "$name: did not start (see $RESULTS/$name.server.log)" | tee -a "$RESULTS/summary.txt"
            stop_server
            status=1
            continue
        fi
        sample_cpu "$SERVER_PID" >"$RESULTS/$name.r$round.cpu" &
        SAMPLER_PID=$!
        OUTDIR="$RESULTS/$name.r$round" "$HERE/peer-bench.sh" 127.0.0.1 "$port" "$EXPORT_NAME" \
            | tee "$RESULTS/$name.r$round.txt" || status=1
        stop_server
        wait "$SAMPLER_PID" 2>/dev/null
        SAMPLER_PID=
        rm -rf "$TMP"/*.img "$TMP"/state-*
    done
done

# The table: one line per workload, ratio against the best peer of the same kind.
python3 - "$RESULTS" "$ROUNDS" $SERVERS <<'PY' | tee -a "$RESULTS/summary.txt"
import json, os, statistics, sys
results, rounds, servers = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
spread = {}
by_round = {}

def load(name):
    runs = [load_round(os.path.join(results, f"{name}.r{r}.txt")) for r in range(1, rounds + 1)]
    by_round[name] = runs
    figures = {}
    for wl in set().union(*runs):
        vals = [run[wl] for run in runs if run.get(wl) is not None]
        figures[wl] = statistics.median(vals) if vals else None
        spread[(name, wl)] = (min(vals), max(vals)) if len(vals) > 1 else None
    return figures

def load_round(path):
    figures = {}
    if not os.path.exists(path):
        return figures
    for line in open(path):
        f = line.split()
        if not f or f[0].startswith("#"):
            continue
        wl = f[0]
        try:
            if wl == "nbdcopy_to_null":
                figures[wl] = float(f[2])
            elif "_4k_" in wl:
                figures[wl] = float(f[1])      # IOPS
            else:
                figures[wl] = float(f[2])      # MB/s
        except (ValueError, IndexError):
            figures[wl] = None                 # FAILED
    return figures

data = {s: load(s) for s in servers}
workloads = ["randread_4k_qd1", "randread_4k_qd32", "randwrite_4k_qd1", "randwrite_4k_qd32",
             "seqread_1M_qd8", "seqwrite_1M_qd8", "nbdcopy_to_null"]
groups = [("ram", "ddtree-ram", ["nbdkit-mem"]),
          ("file", "ddtree-file", ["qemu-nbd", "nbdkit-file"])]

def fmt(v):
    return "-" if v is None else (f"{v:.0f}" if v >= 100 else f"{v:.1f}")

def round_ratios(ours, peers, wl):
    """ddtree / best peer within each round, the servers having run minutes apart."""
    out = []
    for r in range(rounds):
        v = by_round[ours][r].get(wl)
        known = [by_round[p][r].get(wl) for p in peers if by_round[p][r].get(wl)]
        if v is not None and known:
            out.append(v / max(known))
    return out

print()
print(f"# figures: IOPS for *_4k_*, MB/s for *_1M_* and nbdcopy, median of {rounds} round(s); ratio = ddtree / best peer; target 1.0x")
below = 0
for kind, ours, peers in groups:
    peers = [p for p in peers if p in data]
    if ours not in data or not peers:
        continue
    head = f"{'workload':<18} {ours:>12} " + " ".join(f"{p:>12}" for p in peers) + f" {'ratio':>7}  verdict"
    print()
    print(head)
    for wl in workloads:
        v = data[ours].get(wl)
        pv = [data[p].get(wl) for p in peers]
        if v is None and all(x is None for x in pv):
            continue
        known = [x for x in pv if x is not None]
        best = max(known) if known else None
        if v is None or not best:
            ratio, verdict = "-", "n/a"
        else:
            r = v / best
            ratio = f"{r:.2f}x"
            verdict = "PASS" if r >= 1.0 else "BELOW"
            below += verdict == "BELOW"
        sp = spread.get((ours, wl))
        note = f"  (ddtree {fmt(sp[0])}-{fmt(sp[1])})" if sp else ""
        rr = round_ratios(ours, peers, wl)
        if len(rr) > 1:
            above = sum(x >= 1.0 for x in rr)
            note += f"  rounds {min(rr):.2f}-{max(rr):.2f}x, {above} of {len(rr)} at 1.0x or more"
        print(f"{wl:<18} {fmt(v):>12} " + " ".join(f"{fmt(x):>12}" for x in pv) + f" {ratio:>7}  {verdict}{note}")
print()
print(f"# {below} workload(s) below the 1.0x target")

# What each request cost in CPU time, which the machine's speed swings move far less than the
# rates: the server's (every thread, from /proc, over the workload's measured seconds) and the
# client's (fio's own user and system time, from its JSON). On 2 cores a server that needs less
# leaves more to fio.
CLK = os.sysconf("SC_CLK_TCK")

def samples(path):
    pts = []
    if os.path.exists(path):
        for line in open(path):
            f = line.split()
            if len(f) == 2 and f[0].isdigit() and f[1].isdigit():
                pts.append((int(f[0]) / 1e6, int(f[1]) / CLK))
    return pts

def cpu_at(pts, t):
    for (t0, c0), (t1, c1) in zip(pts, pts[1:]):
        if t0 <= t <= t1:
            return c0 + (c1 - c0) * (t - t0) / (t1 - t0) if t1 > t0 else c1
    return None

def costs(name, wl):
    """Median server and client microseconds per request over the rounds, or None."""
    server, client = [], []
    for r in range(1, rounds + 1):
        path = os.path.join(results, f"{name}.r{r}", f"{wl}.json")
        if not os.path.exists(path):
            continue
        try:
            txt = open(path).read()
            j = json.loads(txt[txt.index("{"):])
            job = j["jobs"][0]
            d = job["read"] if job["read"]["io_bytes"] >= job["write"]["io_bytes"] else job["write"]
            ops, secs = d["total_ios"], job["job_runtime"] / 1000.0
        except (ValueError, KeyError, IndexError):
            continue
        if not ops or not secs:
            continue
        client.append((job["usr_cpu"] + job["sys_cpu"]) / 100.0 * secs / ops * 1e6)
        pts = samples(os.path.join(results, f"{name}.r{r}.cpu"))
        end = j["timestamp_ms"] / 1000.0
        a, b = cpu_at(pts, end - secs), cpu_at(pts, end)
        if a is not None and b is not None:
            server.append((b - a) / ops * 1e6)
    med = lambda v: statistics.median(v) if v else None
    return med(server), med(client)

def us(v):
    return "-" if v is None else f"{v:.1f}"

print()
print("# CPU per request in microseconds, median of the rounds: the server's (all its threads) and fio's")
for kind, ours, peers in groups:
    peers = [p for p in peers if p in data]
    if ours not in data or not peers:
        continue
    names = [ours] + peers
    print()
    print(f"{'workload':<18} " + " ".join(f"{'srv ' + n:>17}" for n in names) + " " + " ".join(f"{'fio@' + n:>17}" for n in names))
    for wl in workloads[:-1]:  # nbdcopy has no fio JSON
        c = [costs(n, wl) for n in names]
        if all(x == (None, None) for x in c):
            continue
        print(f"{wl:<18} " + " ".join(f"{us(x[0]):>17}" for x in c) + " " + " ".join(f"{us(x[1]):>17}" for x in c))
PY
echo "# raw output: $RESULTS"
exit $status
