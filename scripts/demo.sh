#!/usr/bin/env bash
# cubelet's demo: runs the example static pods in manifests/ with cubelet on a
# private containerd, and shows them live, like `kubectl get pods -o wide`.
# Edit a manifest while it runs and watch cubelet replace the pod.
#
#   scripts/demo.sh [--seconds N]
#
# Everything runs inside a network namespace made for the demo (the pod bridge,
# veths and NAT rules live and die with it) and a mount namespace shared by
# containerd and cubelet (where containerd's mounts stay, and where tmpfs hides
# the host's /var/lib/cni and /run/containerd). Ctrl-C stops cubelet, the pods
# and containerd, deletes the namespaces and the run directory; only the logs
# are kept.
#
# --seconds N, or CUBELET_DEMO_SECONDS=N: stop by itself after N seconds and exit
#   0 only if the web pod was Running and hello-job Succeeded at some point.
# CUBELET_DEMO_DIR   run directory (default /tmp/cubelet-demo)
# CUBELET_DEMO_PORT  cubelet's read-only port inside the namespace (default 10255)
# CUBELET_BUILD_DIR  build directory (default build/ in the checkout)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
readonly REPO
readonly BUILD=${CUBELET_BUILD_DIR:-$REPO/build}
readonly MANIFESTS=$REPO/manifests
readonly NETNS=cubelet-demo
readonly NODE=cubelet-demo
readonly PORT=${CUBELET_DEMO_PORT:-10255}
readonly MARKER=.cubelet-demo
# Host paths containerd and the CNI plugins write to whatever their config says.
readonly HIDDEN_DIRS=(/var/lib/cni /run/containerd)
RUN_SECONDS=${CUBELET_DEMO_SECONDS:-0}

export PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

die() {
  echo "demo: $*" >&2
  exit 1
}
note() { echo "demo: $*"; }

while (($#)); do
  case "$1" in
    --seconds) (($# >= 2)) || die "--seconds needs a value" && RUN_SECONDS=$2 && shift 2 ;;
    --seconds=*) RUN_SECONDS=${1#*=} && shift ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" && exit 0 ;;
    *) die "unknown argument $1 (usage: demo.sh [--seconds N])" ;;
  esac
done
[[ $RUN_SECONDS =~ ^[0-9]+$ ]] || die "--seconds wants a whole number of seconds, not '$RUN_SECONDS'"
(($(id -u) == 0)) || die "needs root (network namespaces, mounts, containers); try: sudo $0"

RUN=${CUBELET_DEMO_DIR:-/tmp/cubelet-demo}
[[ $RUN == /* ]] || RUN=$PWD/$RUN
RUN=${RUN%/}
case "$RUN" in
  "" | /tmp | /run | /var | /var/* | /usr | /usr/* | /etc | /etc/* | /home | /root | "$REPO" | "$REPO"/*)
    die "refusing run directory '$RUN'"
    ;;
esac
readonly RUN LOGS=$RUN/logs CTRD=$RUN/containerd
readonly HOLDER_PID_FILE=$RUN/holder.pid CUBELET_PID_FILE=$RUN/cubelet.pid

# True when <pid> is a live process (zombies count as dead).
alive() {
  local pid=$1 stat
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  { read -r stat <"/proc/$pid/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# The pid in <file> when that process is alive and its command line holds <text>.
recorded_pid() {
  local file=$1 text=$2 pid args
  { read -r pid <"$file"; } 2>/dev/null || return 1
  alive "$pid" || return 1
  { mapfile -d "" -t args <"/proc/$pid/cmdline"; } 2>/dev/null || return 1
  [[ "${args[*]}" == *"$text"* ]] || return 1
  echo "$pid"
}

# Waits up to <seconds> for <pid> to exit.
wait_gone() {
  local pid=$1 deadline=$((SECONDS + $2))
  while alive "$pid"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# Stops <pid> with SIGTERM, then SIGKILL after <seconds>.
stop_pid() {
  local pid=$1 what=$2 grace=$3
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" "$grace"; then
    note "$what (pid $pid) ignored SIGTERM for ${grace}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 5 || return 1
  fi
}

log_tail() {
  local file=$1 lines=${2:-30}
  [[ -s $file ]] || return 0
  echo "--- last $lines lines of $file:" >&2
  tail -n "$lines" "$file" >&2
  echo "---" >&2
}

netns_exists() { ip netns list | grep -q "^$NETNS\( \|$\)"; }

# Runs a command in the demo's network namespace only (no mount namespace of
# its own, unlike `ip netns exec`).
in_netns() { nsenter --net="/run/netns/$NETNS" -- "$@"; }

# The pid whose mount and network namespaces the demo's commands enter: the
# holder, or containerd itself when the holder is gone.
ns_target() {
  recorded_pid "$HOLDER_PID_FILE" "sleep" ||
    recorded_pid "$CTRD/containerd.pid" "--config $CTRD/config.toml"
}

# Stops containerd and every pod it runs (containerd.sh stop kills the shims,
# unmounts and removes its run directory), from inside the namespaces when they
# still exist, since that is where containerd's mounts are.
stop_containerd() {
  [[ -d $CTRD ]] || return 0
  [[ -s $CTRD/containerd.log ]] && cp -f "$CTRD/containerd.log" "$LOGS/containerd.log" 2>/dev/null
  local target
  if target=$(ns_target); then
    nsenter --target "$target" --mount --net -- "$REPO/scripts/containerd.sh" stop "$CTRD"
  else
    "$REPO/scripts/containerd.sh" stop "$CTRD"
  fi
}

# Pids of processes whose command line names the run directory (containerd, its
# shims, cubelet), other than this script; fails when there are none.
processes_under_run() {
  local dir pid args found=()
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
    { mapfile -d "" -t args <"$dir/cmdline"; } 2>/dev/null || continue
    [[ "${args[*]} " == *"$RUN/"* ]] && alive "$pid" && found+=("$pid")
  done
  ((${#found[@]})) && echo "${found[*]}"
}

# Everything the demo started, in reverse order. Safe to run on a half-started
# demo and on the leftovers of one that was killed. Keeps $LOGS unless told.
teardown() {
  local keep_logs=$1 ok=0 pid dir
  if pid=$(recorded_pid "$CUBELET_PID_FILE" "--root-dir $RUN/root"); then
    stop_pid "$pid" cubelet 10 || ok=1
  fi
  stop_containerd || ok=1
  if pid=$(recorded_pid "$HOLDER_PID_FILE" "sleep"); then
    stop_pid "$pid" "namespace holder" 5 || ok=1
  fi
  if netns_exists; then
    ip netns delete "$NETNS" || ok=1
  fi
  # Directories this demo had to create on the host for the tmpfs to cover.
  for dir in "${HIDDEN_DIRS[@]}"; do
    if [[ -f $RUN/created${dir//\//_} ]]; then rmdir "$dir" 2>/dev/null || true; fi
  done
  if pid=$(processes_under_run); then
    echo "demo: processes still running for $RUN: $pid" >&2
    ok=1
  fi
  if grep -q " ${RUN}[/ ]" /proc/self/mountinfo; then
    echo "demo: still mounted under $RUN:" >&2
    grep " ${RUN}[/ ]" /proc/self/mountinfo >&2
    return 1
  fi
  [[ -s $LOGS/holder.log ]] || rm -f "$LOGS/holder.log"
  if [[ -d $RUN ]]; then
    local entry
    for entry in "$RUN"/* "$RUN"/.[!.]*; do
      [[ -e $entry ]] || continue
      # The marker stays with the logs so that the next demo may remove them.
      [[ $keep_logs == keep-logs && ($entry == "$LOGS" || $entry == "$RUN/$MARKER") ]] && continue
      rm -rf --one-file-system "$entry" || ok=1
    done
    [[ $keep_logs == keep-logs ]] || rmdir "$RUN" 2>/dev/null || true
  fi
  return "$ok"
}

# --- start-up -----------------------------------------------------------------

"$REPO/scripts/deps.sh"

note "building cubelet and the images in $BUILD (incremental)"
if [[ ! -f $BUILD/build.ninja ]]; then
  cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
ninja -C "$BUILD" cubelet cubelet_images || die "build failed"
readonly CUBELET=$BUILD/agent/cubelet IMAGES=$BUILD/images
[[ -x $CUBELET ]] || die "no cubelet binary at $CUBELET"

if [[ -d $RUN ]]; then
  [[ -f $RUN/$MARKER || -z $(ls -A "$RUN") ]] ||
    die "$RUN exists and was not made by the demo; set CUBELET_DEMO_DIR elsewhere"
  if pid=$(recorded_pid "$RUN/demo.pid" "demo.sh"); then
    die "a demo is already running (pid $pid); stop it first"
  fi
  note "cleaning up after an earlier demo in $RUN"
  teardown drop-logs || die "could not clean up the earlier demo in $RUN"
elif netns_exists; then
  die "network namespace $NETNS exists but $RUN does not: another demo's? (ip netns delete $NETNS)"
fi
mkdir -p "$LOGS/pods" "$LOGS/containers" "$RUN/root"
touch "$RUN/$MARKER"
echo $$ >"$RUN/demo.pid"

INTERRUPTED=""
# shellcheck disable=SC2317 # reached through the EXIT trap
finish() {
  local status=$?
  trap - EXIT INT TERM HUP
  set +e
  if [[ -n $INTERRUPTED ]]; then
    [[ -t 1 ]] && printf '\n'
    note "got SIG$INTERRUPTED"
    declare -F summary >/dev/null && summary
  fi
  note "stopping cubelet, the pods and containerd"
  if teardown keep-logs; then
    note "cleaned up: no processes, mounts or namespaces left; logs kept in $LOGS"
  else
    note "clean-up incomplete (see above)"
    ((status)) || status=1
  fi
  exit "$status"
}
trap finish EXIT
trap 'INTERRUPTED=INT; exit 130' INT
trap 'INTERRUPTED=TERM; exit 143' TERM
trap 'INTERRUPTED=HUP; exit 129' HUP

ip netns add "$NETNS"
ip -n "$NETNS" link set lo up
# The node's own address, which cubelet reports as the node and host IP: from
# TEST-NET-1, a range reserved for documentation that nothing routes.
# (A veth pair with both ends inside: the dummy driver is not everywhere.)
ip -n "$NETNS" link add node0 type veth peer name node0-peer
ip -n "$NETNS" addr add 192.0.2.10/24 dev node0
ip -n "$NETNS" link set node0-peer up
ip -n "$NETNS" link set node0 up

# The holder: a process that does nothing but keep the mount namespace alive so
# that containerd, containerd.sh and cubelet can all join it. Private mount
# propagation keeps containerd's mounts out of the host's view.
for dir in "${HIDDEN_DIRS[@]}"; do
  if [[ ! -d $dir ]]; then mkdir -p "$dir" && touch "$RUN/created${dir//\//_}"; fi
done
# shellcheck disable=SC2016 # the inner bash expands them
setsid nsenter --net="/run/netns/$NETNS" -- unshare --mount --propagation private -- \
  bash -c 'for d in "${@:2}"; do mount -t tmpfs -o mode=0755 demo-tmpfs "$d" || exit 1; done
           touch "$1" && exec sleep infinity' _ "$RUN/holder.ready" "${HIDDEN_DIRS[@]}" \
  </dev/null >"$LOGS/holder.log" 2>&1 &
echo $! >"$HOLDER_PID_FILE"
for _ in $(seq 50); do
  [[ -f $RUN/holder.ready ]] && break
  alive "$(<"$HOLDER_PID_FILE")" || break
  sleep 0.1
done
[[ -f $RUN/holder.ready ]] || {
  log_tail "$LOGS/holder.log"
  die "could not set up the mount namespace"
}
HOLDER=$(recorded_pid "$HOLDER_PID_FILE" "sleep") || die "the namespace holder is not running"
in_ns() { nsenter --target "$HOLDER" --mount --net -- "$@"; }

in_ns "$REPO/scripts/containerd.sh" start "$CTRD" "$IMAGES"

# nsenter execs cubelet in place, so $! is cubelet itself.
nsenter --target "$HOLDER" --mount --net -- "$CUBELET" \
  --pod-manifest-path "$MANIFESTS" \
  --container-runtime-endpoint "unix://$CTRD/containerd.sock" \
  --root-dir "$RUN/root" \
  --pod-logs-dir "$LOGS/pods" \
  --container-logs-link-dir "$LOGS/containers" \
  --cni-conf-dir "$CTRD/cni/net.d" --cni-bin-dir /usr/lib/cni \
  --hostname-override "$NODE" \
  --read-only-port "$PORT" \
  --healthz-port 10248 \
  --cert-dir "$RUN/root/pki" \
  --crash-loop-backoff-base 10s \
  --v 2 \
  </dev/null >"$LOGS/cubelet.log" 2>&1 &
CUBELET_PID=$!
echo "$CUBELET_PID" >"$CUBELET_PID_FILE"

# Fails the demo when cubelet or containerd has died.
check_alive() {
  if ! alive "$CUBELET_PID"; then
    local rc=0
    wait "$CUBELET_PID" || rc=$?
    log_tail "$LOGS/cubelet.log" 40
    die "cubelet exited (status $rc); its log: $LOGS/cubelet.log"
  fi
  if ! recorded_pid "$CTRD/containerd.pid" "--config $CTRD/config.toml" >/dev/null; then
    log_tail "$CTRD/containerd.log"
    die "containerd exited"
  fi
}

for _ in $(seq 100); do
  check_alive
  in_netns curl -sf --max-time 1 "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
in_netns curl -sf --max-time 1 "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 || {
  log_tail "$LOGS/cubelet.log" 40
  die "cubelet did not answer on its read-only port $PORT within 20s"
}

# --- the live table -------------------------------------------------------------

# /pods as rows: NAMESPACE/NAME PHASE IP READY RESTARTS AGE CONTAINERS, tab-separated;
# with $noage the AGE column is left empty (to tell whether anything else changed).
# shellcheck disable=SC2016 # jq's variables, not the shell's
readonly TABLE_JQ='
  def age($t):
    if $noage then "" elif ($t // "") == "" then "-" else
      (now - ($t | sub("\\.[0-9]+"; "") | fromdateiso8601) | floor) as $s
      | if $s < 0 then "0s"
        elif $s < 120 then "\($s)s"
        elif $s < 3600 then "\($s / 60 | floor)m\($s % 60)s"
        else "\($s / 3600 | floor)h\($s % 3600 / 60 | floor)m" end
    end;
  def state($s):
    if $s == null then "-"
    elif $s.state.running then "running"
    elif $s.state.terminated then
      $s.state.terminated as $t
      | "terminated(\($t.reason // "exit")\(if ($t.exitCode // 0) != 0 then ":\($t.exitCode)" else "" end))"
    elif $s.state.waiting then "waiting(\($s.state.waiting.reason // ""))"
    else "-" end;
  def containers($specs; $statuses; $prefix):
    [($specs // [])[] | .name as $n
      | "\($prefix)\($n):" + state(first(($statuses // [])[] | select(.name == $n)) // null)];
  ["NAMESPACE/NAME", "PHASE", "IP", "READY", "RESTARTS", "AGE", "CONTAINERS"],
  ((.items // []) | sort_by(.metadata.namespace, .metadata.name)[]
   | .status as $st
   | [ "\(.metadata.namespace)/\(.metadata.name)",
       ($st.phase // "-"),
       (if ($st.podIP // "") == "" then "-" else $st.podIP end),
       "\([($st.containerStatuses // [])[] | select(.ready)] | length)/\(.spec.containers | length)",
       ([($st.initContainerStatuses // [])[], ($st.containerStatuses // [])[] | .restartCount // 0] | add // 0 | tostring),
       age($st.startTime),
       (containers(.spec.initContainers; $st.initContainerStatuses; "init:")
        + containers(.spec.containers; $st.containerStatuses; "") | join(" "))
     ])
  | @tsv'

# One line per demo pod for the summary: name phase restarts ip.
# shellcheck disable=SC2016
readonly SUMMARY_JQ='
  (.items // [])[] | select(.metadata.name | endswith("-" + $node))
  | [(.metadata.name | rtrimstr("-" + $node)), (.status.phase // "-"),
     ([(.status.containerStatuses // [])[] | .restartCount // 0] | add // 0),
     (.status.podIP // "")]
  | @tsv'

web_phase=missing job_phase=missing crash_restarts=0 web_ip=""
web_running=0 job_succeeded=0

# Reads /pods, updates what the summary tracks, and sets TABLE (and TABLE_KEY, the
# same without the ages).
poll() {
  local json name phase restarts ip
  json=$(in_netns curl -sf --max-time 2 "http://127.0.0.1:$PORT/pods") || {
    TABLE="(cubelet's read-only port did not answer)" TABLE_KEY=$TABLE
    return 0
  }
  TABLE=$(jq -r --argjson noage false "$TABLE_JQ" <<<"$json" | column -t -s $'\t') ||
    TABLE="(unreadable /pods answer)"
  TABLE_KEY=$(jq -r --argjson noage true "$TABLE_JQ" <<<"$json" 2>&1)
  while IFS=$'\t' read -r name phase restarts ip; do
    case "$name" in
      web)
        web_phase=$phase web_ip=$ip
        if [[ $phase == Running ]]; then web_running=1; fi
        ;;
      hello-job)
        job_phase=$phase
        if [[ $phase == Succeeded ]]; then job_succeeded=1; fi
        ;;
      crashloop)
        if ((restarts > crash_restarts)); then crash_restarts=$restarts; fi
        ;;
    esac
  done < <(jq -r --arg node "$NODE" "$SUMMARY_JQ" <<<"$json" 2>/dev/null)
  return 0
}

header() {
  echo "cubelet demo: static pods from $MANIFESTS (edit them and watch), node $NODE"
  echo "logs: $LOGS (cubelet.log, pods/, containers/); containerd: $CTRD/containerd.log"
  echo "pods API: ip netns exec $NETNS curl -s http://127.0.0.1:$PORT/pods"
  [[ -n $web_ip ]] && echo "web page: ip netns exec $NETNS wget -qO- http://$web_ip:8080/"
  if ((RUN_SECONDS)); then
    echo "stopping by itself after ${RUN_SECONDS}s; Ctrl-C stops it sooner"
  else
    echo "Ctrl-C stops cubelet, the pods and containerd, and removes the namespace"
  fi
}

summary() {
  local job=$job_phase web=$web_phase
  ((web_running)) && web=Running
  ((job_succeeded)) && job=Succeeded
  echo "demo: web $web, hello-job $job, crashloop restarts=$crash_restarts"
}

START=$SECONDS
TTY=0
if [[ -t 1 ]]; then
  TTY=1
  printf '\033[2J'
fi
last_shown="" last_time=-100
while :; do
  check_alive
  poll
  elapsed=$((SECONDS - START))
  if ((TTY)); then
    # Home, redraw, clear what is left of the last frame: no flicker.
    { header; echo; echo "$TABLE"; } | sed $'s/$/\033[K/' | { printf '\033[H'; cat; printf '\033[J'; }
  else
    # A log, not a screen: a snapshot when something other than AGE changed,
    # and at least every 10 s.
    if [[ $TABLE_KEY != "$last_shown" ]] || ((elapsed - last_time >= 10)); then
      ((last_time < 0)) && header
      printf -- '--- %ds\n%s\n' "$elapsed" "$TABLE"
      last_shown=$TABLE_KEY last_time=$elapsed
    fi
  fi
  if ((RUN_SECONDS && elapsed >= RUN_SECONDS)); then
    ((TTY || last_time == elapsed)) || printf -- '--- %ds\n%s\n' "$elapsed" "$TABLE"
    break
  fi
  sleep 1
done

summary
((web_running && job_succeeded)) || {
  note "expected web Running and hello-job Succeeded"
  exit 1
}
exit 0
