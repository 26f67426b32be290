#!/usr/bin/env bash
# cubelet's benchmarks (DESIGN.md §4, not timed tests and not part of ctest).
# Prints one JSON document on stdout; progress goes to stderr.
#
#   tests/bench/run.sh [--out FILE]
#
# What one run measures, cubelet and its baseline on the same private containerd:
#   pod_start.sequential  20 busybox `sleep 3600` pods one after the other, in 4
#                         rounds of 5 with baseline and cubelet taking turns (ABBA),
#                         so that other load on the machine weighs on both alike.
#                         cubelet: manifest written -> the container's CRI started_at;
#                         baseline (cubelet_bench baseline): the same CRI calls with
#                         the same configs, back to back, RunPodSandbox ->
#                         StartContainer returned. p50/p90/max/mean and cubelet_p50 /
#                         baseline_p50. cubelet's to_run_pod_sandbox: manifest written ->
#                         the sandbox's created_at (stamped as RunPodSandbox reaches
#                         containerd), i.e. cubelet's own reaction time. The
#                         baseline's to_started_at: the same start -> started_at, to
#                         compare with cubelet's clock-for-clock. The probe's 20 ms
#                         runtime polling runs beside the baseline too, so containerd
#                         carries the same extra load on both sides.
#   pod_start.burst       the 20 manifests written at once (baseline: 4 threads, the
#                         size of cubelet's worker pool); latency from the burst's start;
#                         all_running: until the last of the 20 ran. Two bursts per
#                         side, ABBA; the CPU containerd and cubelet used during them.
#   memory                cubelet's VmRSS and RssAnon idle (5 s after start, no pods),
#                         and with 10 and 50 pods running (after 10 s to settle).
#   cpu_pct_50_pods       cubelet's utime+stime over 10 s with 50 pods, in % of a core.
#   budgets               the budgets of the foundation issue beside the numbers.
# cubelet is restarted (fresh root dir) and every sandbox removed through CRI between
# the parts, so each part starts from an empty node.
#
# Needs root. Everything runs inside a network namespace made for the run
# (cubelet-bench-<pid>) and a private mount namespace (containerd's mounts, and
# tmpfs over /var/lib/cni and /run/containerd): no bridge, route or NAT rule
# touches the host's network. At exit (also on failure or Ctrl-C) cubelet and
# containerd are stopped, every pod is killed and the namespaces and the run
# directory are removed.
#
# --out FILE      also write the JSON to FILE
# BUILD_DIR       build directory (default build/ in the checkout); cubelet,
#                 the images and cubelet_bench are built there (incremental)
# BENCH_PODS      pods per pod-start series (default 20)
# BENCH_ROUNDS    rounds the sequential series is split into (default 4)
# BENCH_BURST_ROUNDS  bursts per side (default 2)
# BENCH_SETTLE_S  seconds to settle before a memory reading with pods (default 10)
# BENCH_KEEP_LOGS=1  keep cubelet's and containerd's logs (in the run directory)
# BENCH_POD_VOLUMES=1  every pod also has a tmpfs emptyDir and a downwardAPI volume
#                 (cubelet sets them up; the baseline mounts nothing)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
readonly REPO
readonly BUILD=${BUILD_DIR:-$REPO/build}
readonly NETNS=cubelet-bench-$$
readonly NODE=bench-node
readonly PORT=10255
readonly PODS=${BENCH_PODS:-20}
readonly ROUNDS=${BENCH_ROUNDS:-4}
readonly BURST_ROUNDS=${BENCH_BURST_ROUNDS:-2}
readonly SETTLE_S=${BENCH_SETTLE_S:-10}
readonly IDLE_S=5
readonly CPU_WINDOW_S=10
readonly BURST_THREADS=4
readonly MARKER=.cubelet-bench
readonly HIDDEN_DIRS=(/var/lib/cni /run/containerd)
OUT=""

export PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

die() {
  echo "bench: $*" >&2
  exit 1
}
note() { echo "bench: $*" >&2; }

while (($#)); do
  case "$1" in
    --out) (($# >= 2)) || die "--out needs a file" && OUT=$2 && shift 2 ;;
    --out=*) OUT=${1#*=} && shift ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" && exit 0 ;;
    *) die "unknown argument $1 (usage: run.sh [--out FILE])" ;;
  esac
done
[[ $PODS =~ ^[1-9][0-9]*$ ]] || die "BENCH_PODS wants a positive whole number, not '$PODS'"
if ! [[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || ((PODS % ROUNDS)); then
  die "BENCH_ROUNDS ('$ROUNDS') must divide BENCH_PODS ($PODS)"
fi
[[ $SETTLE_S =~ ^[0-9]+$ ]] || die "BENCH_SETTLE_S wants a whole number, not '$SETTLE_S'"
(($(id -u) == 0)) || die "needs root (network namespaces, mounts, containers)"
if [[ -n $OUT ]]; then
  [[ $OUT == /* ]] || OUT=$PWD/$OUT
  touch "$OUT" || die "cannot write $OUT"
fi

RUN=$(mktemp -d /tmp/cubelet-bench.XXXXXX)
readonly RUN CTRD=$RUN/containerd MANIFESTS=$RUN/manifests LOGS=$RUN/logs
readonly ENDPOINT=unix://$RUN/containerd/containerd.sock
touch "$RUN/$MARKER"
mkdir -p "$MANIFESTS" "$LOGS"
HOLDER=""
CUBELET_PID=""

# True when <pid> is a live process (zombies count as dead).
alive() {
  local pid=$1 stat
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  { read -r stat <"/proc/$pid/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

wait_gone() {
  local pid=$1 deadline=$((SECONDS + $2))
  while alive "$pid"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# Commands in the run's network and mount namespaces.
in_ns() { nsenter --target "$HOLDER" --mount --net -- "$@"; }
bench() { in_ns "$BUILD/tests/bench/cubelet_bench" "$@"; }

# SIGTERM (cubelet leaves its pods running, as the kubelet does), SIGKILL after 15 s.
stop_cubelet() {
  [[ -n $CUBELET_PID ]] || return 0
  kill -TERM "$CUBELET_PID" 2>/dev/null || true
  if ! wait_gone "$CUBELET_PID" 15; then
    note "cubelet (pid $CUBELET_PID) ignored SIGTERM for 15s; killing it"
    kill -KILL "$CUBELET_PID" 2>/dev/null || true
    wait_gone "$CUBELET_PID" 5 || return 1
  fi
  wait "$CUBELET_PID" 2>/dev/null || true
  CUBELET_PID=""
}

teardown() {
  local ok=0 dir
  stop_cubelet || ok=1
  if [[ -n $HOLDER ]] && alive "$HOLDER"; then
    [[ -s $CTRD/containerd.log ]] && cp -f "$CTRD/containerd.log" "$LOGS/containerd.log"
    in_ns "$REPO/scripts/containerd.sh" stop "$CTRD" >&2 || ok=1
    kill -KILL "$HOLDER" 2>/dev/null || true
    wait_gone "$HOLDER" 5 || ok=1
  elif [[ -d $CTRD ]]; then
    "$REPO/scripts/containerd.sh" stop "$CTRD" >&2 || ok=1
  fi
  if ip netns list | grep -q "^$NETNS\( \|$\)"; then ip netns delete "$NETNS" || ok=1; fi
  for dir in "${HIDDEN_DIRS[@]}"; do
    if [[ -f $RUN/created${dir//\//_} ]]; then rmdir "$dir" 2>/dev/null || true; fi
  done
  if grep -q " ${RUN}[/ ]" /proc/self/mountinfo; then
    note "still mounted under $RUN"
    return 1
  fi
  return "$ok"
}

finish() {
  local status=$?
  trap - EXIT INT TERM HUP
  set +e
  if ((status)) && [[ -n $CUBELET_PID ]] && [[ -s $LOGS/cubelet.log ]]; then
    note "last lines of cubelet's log:"
    tail -n 20 "$LOGS/cubelet.log" >&2
  fi
  if ! teardown; then
    note "clean-up incomplete; run directory kept: $RUN"
    exit 1
  fi
  if ((status)) || [[ ${BENCH_KEEP_LOGS:-} == 1 ]]; then
    find "$RUN" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf --one-file-system {} +
    note "logs kept in $LOGS"
  else
    rm -rf --one-file-system "$RUN"
  fi
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- build --------------------------------------------------------------------

"$REPO/scripts/deps.sh" >&2
note "building cubelet, the images and cubelet_bench in $BUILD (incremental)"
if [[ ! -f $BUILD/build.ninja ]]; then
  cmake -S "$REPO" -B "$BUILD" -G Ninja >&2 || die "cmake failed"
fi
ninja -C "$BUILD" cubelet cubelet_images cubelet_bench >&2 || die "build failed"
readonly CUBELET=$BUILD/agent/cubelet

# --- namespaces and containerd ------------------------------------------------

ip netns add "$NETNS"
ip -n "$NETNS" link set lo up
for dir in "${HIDDEN_DIRS[@]}"; do
  if [[ ! -d $dir ]]; then mkdir -p "$dir" && touch "$RUN/created${dir//\//_}"; fi
done
# The holder keeps the private mount namespace alive for containerd, cubelet and
# the probes to join; private propagation keeps containerd's mounts off the host.
# shellcheck disable=SC2016 # the inner bash expands them
setsid nsenter --net="/run/netns/$NETNS" -- unshare --mount --propagation private -- \
  bash -c 'for d in "${@:2}"; do mount -t tmpfs -o mode=0755 bench-tmpfs "$d" || exit 1; done
           touch "$1" && exec sleep infinity' _ "$RUN/holder.ready" "${HIDDEN_DIRS[@]}" \
  </dev/null >"$LOGS/holder.log" 2>&1 &
HOLDER=$!
disown "$HOLDER" # its death at teardown is expected, not news
for _ in $(seq 50); do
  [[ -f $RUN/holder.ready ]] && break
  alive "$HOLDER" || break
  sleep 0.1
done
[[ -f $RUN/holder.ready ]] || die "could not set up the mount namespace: $(<"$LOGS/holder.log")"

note "starting containerd"
in_ns "$REPO/scripts/containerd.sh" start "$CTRD" "$BUILD/images" >&2
CONTAINERD_VERSION=$(containerd --version | awk '{print $3}')
CONTAINERD_PID=$(<"$CTRD/containerd.pid")
# Other work on the machine skews both sides of every ratio; say how busy it was.
LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)

# --- helpers ------------------------------------------------------------------

# Starts cubelet on an empty manifest dir with a fresh root dir named <tag>, and
# waits until its read-only port answers.
start_cubelet() {
  local dir=$RUN/$1
  mkdir -p "$dir/root" "$dir/pods" "$dir/containers"
  # nsenter execs cubelet in place, so $! is cubelet itself.
  nsenter --target "$HOLDER" --mount --net -- "$CUBELET" \
    --pod-manifest-path "$MANIFESTS" \
    --container-runtime-endpoint "$ENDPOINT" \
    --root-dir "$dir/root" \
    --pod-logs-dir "$dir/pods" \
    --container-logs-link-dir "$dir/containers" \
    --cni-conf-dir "$CTRD/cni/net.d" --cni-bin-dir /usr/lib/cni \
    --hostname-override "$NODE" \
    --node-ip 127.0.0.1 \
    --read-only-port "$PORT" \
    --healthz-port 0 \
    --cert-dir "$dir/root/pki" \
    </dev/null >>"$LOGS/cubelet.log" 2>&1 &
  CUBELET_PID=$!
  local deadline=$((SECONDS + 20))
  until in_ns curl -sf --max-time 1 "http://127.0.0.1:$PORT/pods" >/dev/null 2>&1; do
    alive "$CUBELET_PID" || die "cubelet exited during start-up (log: $LOGS/cubelet.log)"
    ((SECONDS < deadline)) || die "cubelet's read-only port did not answer within 20 s"
    sleep 0.1
  done
}

# Stops cubelet, removes the manifests and every sandbox: an empty node again.
reset_node() {
  stop_cubelet || die "could not stop cubelet"
  find "$MANIFESTS" -mindepth 1 -delete
  bench cleanup --endpoint "$ENDPOINT" >/dev/null || die "could not remove the pods"
}

# The baseline's flags: the same node settings cubelet gets.
baseline() {
  local dir=$RUN/baseline
  mkdir -p "$dir/root" "$dir/pods" "$dir/containers"
  bench baseline --endpoint "$ENDPOINT" --node "$NODE" --manifest-dir "$MANIFESTS" \
    --root-dir "$dir/root" --pod-logs-dir "$dir/pods" --container-logs-link-dir "$dir/containers" \
    --cni-conf-dir "$CTRD/cni/net.d" "$@"
}

cubelet_start() {
  bench cubelet-start --endpoint "$ENDPOINT" --node "$NODE" --manifest-dir "$MANIFESTS" "$@"
}

# Joins the raw JSON lines of runs into p50/p90/max/mean summaries.
summarize() { "$BUILD/tests/bench/cubelet_bench" summarize; }

# {"vmrss_kib": .., "rssanon_kib": ..} of cubelet now.
memory() {
  alive "$CUBELET_PID" || die "cubelet died (log: $LOGS/cubelet.log)"
  awk '/^VmRSS:/ { r = $2 } /^RssAnon:/ { a = $2 }
       END { printf "{\"vmrss_kib\":%d,\"rssanon_kib\":%d}\n", r, a }' "/proc/$CUBELET_PID/status"
}

# utime + stime of <pid>, in clock ticks.
cpu_ticks() {
  local stat fields
  stat=$(<"/proc/$1/stat")
  read -r -a fields <<<"${stat##*) }" # fields[0] is field 3 (state)
  echo $((fields[11] + fields[12]))
}

ticks_ms() { echo $(($1 * 1000 / CLK_TCK)); }
CLK_TCK=$(getconf CLK_TCK)
readonly CLK_TCK

# --- pod start ----------------------------------------------------------------

note "warm-up: 2 pods through the baseline (first sandbox, image snapshots)"
baseline --mode seq --count 2 --prefix warm >/dev/null
reset_node

# Sequential pods in rounds, baseline and cubelet alternating in the order ABBA...,
# so that the load other work puts on the machine drifts onto both sides alike.
PER_ROUND=$((PODS / ROUNDS))
seq_base=""
seq_cubelet=""
for ((round = 0; round < ROUNDS; round++)); do
  from=$((round * PER_ROUND + 1))
  order="baseline cubelet"
  ((round % 2 == 0)) || order="cubelet baseline"
  for side in $order; do
    note "sequential, round $((round + 1))/$ROUNDS: $side, pods $from..$((from + PER_ROUND - 1))"
    if [[ $side == baseline ]]; then
      seq_base+=$(baseline --mode seq --from "$from" --count "$PER_ROUND" --prefix base-seq)$'\n'
    else
      start_cubelet "seq-$round"
      sleep 2 # a running agent, past its start-up and first relist
      seq_cubelet+=$(cubelet_start --mode seq --from "$from" --count "$PER_ROUND" --prefix seq)$'\n'
    fi
    reset_node
  done
done
BASE_SEQ=$(summarize <<<"$seq_base")
CUBELET_SEQ=$(summarize <<<"$seq_cubelet")

# Bursts in ABBA order too; each round is a whole burst of $PODS pods. The CPU
# containerd (and cubelet) burn during them shows what a side costs the runtime.
burst_base=""
burst_cubelet=""
ctrd_ticks_base=0
ctrd_ticks_cubelet=0
cubelet_ticks=0
for ((round = 0; round < BURST_ROUNDS; round++)); do
  from=$((round * PODS + 1))
  order="baseline cubelet"
  ((round % 2 == 0)) || order="cubelet baseline"
  for side in $order; do
    note "burst, round $((round + 1))/$BURST_ROUNDS: $side, $PODS pods at once"
    if [[ $side == baseline ]]; then
      c0=$(cpu_ticks "$CONTAINERD_PID")
      burst_base+=$(baseline --mode burst --threads "$BURST_THREADS" --from "$from" \
        --count "$PODS" --prefix base-burst)$'\n'
      ctrd_ticks_base=$((ctrd_ticks_base + $(cpu_ticks "$CONTAINERD_PID") - c0))
    else
      start_cubelet "burst-$round"
      sleep 2
      c0=$(cpu_ticks "$CONTAINERD_PID")
      k0=$(cpu_ticks "$CUBELET_PID")
      burst_cubelet+=$(cubelet_start --mode burst --from "$from" --count "$PODS" --prefix burst)$'\n'
      cubelet_ticks=$((cubelet_ticks + $(cpu_ticks "$CUBELET_PID") - k0))
      ctrd_ticks_cubelet=$((ctrd_ticks_cubelet + $(cpu_ticks "$CONTAINERD_PID") - c0))
    fi
    reset_node
  done
done
BASE_BURST=$(summarize <<<"$burst_base")
CUBELET_BURST=$(summarize <<<"$burst_cubelet")

# --- memory and CPU -----------------------------------------------------------

note "memory: cubelet idle for ${IDLE_S}s"
start_cubelet memory
sleep "$IDLE_S"
MEM_IDLE=$(memory)

note "memory: 10 pods"
cubelet_start --mode burst --count 10 --prefix mem >/dev/null
sleep "$SETTLE_S"
MEM_10=$(memory)

note "memory: 50 pods"
cubelet_start --mode burst --from 11 --count 40 --prefix mem >/dev/null
sleep "$SETTLE_S"
MEM_50=$(memory)

note "CPU: ${CPU_WINDOW_S}s with 50 pods"
t0=$EPOCHREALTIME
c0=$(cpu_ticks "$CUBELET_PID")
sleep "$CPU_WINDOW_S"
c1=$(cpu_ticks "$CUBELET_PID")
t1=$EPOCHREALTIME
CPU_PCT=$(awk -v c="$((c1 - c0))" -v hz="$CLK_TCK" -v t0="$t0" -v t1="$t1" \
  'BEGIN { printf "%.2f", 100 * c / hz / (t1 - t0) }')
reset_node

# --- report -------------------------------------------------------------------

LOAD_AFTER=$(cut -d' ' -f1 /proc/loadavg)
RESULT=$(jq -n \
  --argjson bs "$BASE_SEQ" --argjson cs "$CUBELET_SEQ" \
  --argjson bb "$BASE_BURST" --argjson cb "$CUBELET_BURST" \
  --argjson mi "$MEM_IDLE" --argjson m10 "$MEM_10" --argjson m50 "$MEM_50" \
  --argjson cpu "$CPU_PCT" --argjson pods "$PODS" --argjson threads "$BURST_THREADS" \
  --arg ctrd "$CONTAINERD_VERSION" --arg kernel "$(uname -r)" --argjson nproc "$(nproc)" \
  --argjson load0 "$LOAD_BEFORE" --argjson load1 "$LOAD_AFTER" --argjson bursts "$BURST_ROUNDS" \
  --argjson ctrd_c "$(ticks_ms "$ctrd_ticks_cubelet")" --argjson ctrd_b "$(ticks_ms "$ctrd_ticks_base")" \
  --argjson cub_cpu "$(ticks_ms "$cubelet_ticks")" '
  def ratio(a; b): if b > 0 then (a / b * 1000 | round) / 1000 else null end;
  {
    pod_start: {
      pods: $pods,
      measures: {
        cubelet: "manifest written (burst: burst start) -> container started_at (CRI)",
        baseline: "before RunPodSandbox (burst: burst start) -> StartContainer returned"
      },
      sequential: {cubelet: $cs, baseline: $bs, ratio_p50: ratio($cs.p50_ms; $bs.p50_ms)},
      burst: {cubelet: $cb, baseline: $bb, baseline_threads: $threads, rounds: $bursts,
              cpu_ms: {containerd_with_cubelet: $ctrd_c, containerd_with_baseline: $ctrd_b,
                       cubelet: $cub_cpu},
              ratio_p50: ratio($cb.p50_ms; $bb.p50_ms)}
    },
    memory: {idle: $mi, pods_10: $m10, pods_50: $m50},
    cpu_pct_50_pods: $cpu,
    budgets: {
      rssanon_idle_kib: 4096,
      rssanon_50_pods_kib: 8192,
      pod_start_ratio_p50: 1.10,
      met: {
        rssanon_idle: ($mi.rssanon_kib <= 4096),
        rssanon_50_pods: ($m50.rssanon_kib <= 8192),
        pod_start_sequential: (ratio($cs.p50_ms; $bs.p50_ms) <= 1.10),
        pod_start_burst: (ratio($cb.p50_ms; $bb.p50_ms) <= 1.10)
      }
    },
    machine: {nproc: $nproc, containerd: $ctrd, kernel: $kernel,
              loadavg_1m: {start: $load0, end: $load1}}
  }')
[[ -n $OUT ]] && printf '%s\n' "$RESULT" >"$OUT"
printf '%s\n' "$RESULT"
note "done"
