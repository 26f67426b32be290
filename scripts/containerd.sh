#!/usr/bin/env bash
# Runs a private containerd for cubelet's integration tests and demo: its own
# config, root, state, sockets, runc root and CNI config dir, all under one run
# directory, with our locally built pause and busybox images imported into the
# k8s.io namespace (scripts/build-images.sh makes them; no registry is needed).
#
#   containerd.sh start <rundir> <images-dir>   start (or start again on the same
#                                               state) and import the images
#   containerd.sh kill <rundir>                 SIGKILL containerd only; shims and
#                                               containers keep running (outage tests)
#   containerd.sh stop <rundir>                 stop containerd, kill every shim and
#                                               container it started, unmount and
#                                               remove <rundir>
#
# The CRI endpoint is unix://<rundir>/containerd.sock; the CNI config dir that
# containerd watches is <rundir>/cni/net.d. Environment: CONTAINERD_LOG_LEVEL
# (default info).
set -euo pipefail

readonly PAUSE_IMAGE="localhost/cubelet/pause:3.9"
readonly BUSYBOX_IMAGE="localhost/cubelet/busybox:1.35"
readonly MARKER=".cubelet-containerd"
readonly START_TIMEOUT_S=20
readonly STOP_TIMEOUT_S=10
# containerd 1.6 puts shim sockets here whatever its config says.
readonly SHIM_SOCKET_DIR="/run/containerd/s"

# containerd finds runc and the shim through PATH, which a test's environment
# may have trimmed.
export PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

die() {
  echo "containerd.sh: $*" >&2
  exit 1
}
note() { echo "containerd.sh: $*"; }

usage() {
  die "usage: containerd.sh start <rundir> <images-dir> | kill <rundir> | stop <rundir>"
}

# An absolute, canonical run directory; refuses paths that are surely a mistake.
canonical_rundir() {
  local dir=$1
  [[ $dir == /* ]] || dir="$PWD/$dir"
  if [[ -d $dir ]]; then dir=$(cd "$dir" && pwd -P); fi
  case "$dir" in
    / | /tmp | /run | /var | /var/* | /usr | /usr/* | /etc | /etc/* | /home | /root) die "refusing run directory $dir" ;;
  esac
  echo "$dir"
}

# True when <pid> is a live process (zombies count as dead).
alive() {
  local pid=$1 stat
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  { read -r stat <"/proc/$pid/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# The pid of the containerd recorded in <rundir>, if it is still that containerd.
containerd_pid() {
  local rundir=$1 pid
  { read -r pid <"$rundir/containerd.pid"; } 2>/dev/null || return 1
  alive "$pid" || return 1
  local args
  { mapfile -d "" -t args <"/proc/$pid/cmdline"; } 2>/dev/null || return 1
  [[ "${args[*]} " == *" --config $rundir/config.toml "* ]] || return 1
  echo "$pid"
}

ctr_at() {
  local rundir=$1
  shift
  ctr --address "$rundir/containerd.sock" "$@"
}

log_tail() {
  local rundir=$1
  if [[ -f $rundir/containerd.log ]]; then
    echo "--- last lines of $rundir/containerd.log:" >&2
    tail -n 30 "$rundir/containerd.log" >&2
  fi
}

write_config() {
  local rundir=$1 apparmor=false
  # Without AppArmor in the kernel (as on the CI machines) there is no profile
  # to apply; say so rather than leave it to the CRI plugin's detection.
  [[ -d /sys/kernel/security/apparmor ]] || apparmor=true
  cat >"$rundir/config.toml.tmp" <<EOF
# Written by cubelet scripts/containerd.sh; everything lives under $rundir.
version = 2
root = "$rundir/root"
state = "$rundir/state"
temp = "$rundir/tmp"
oom_score = 0
# Plugins this machine cannot or need not run: skipping them makes start-up fast
# and keeps their errors out of the log. (The legacy runtime v1 plugin must stay: the
# tasks service, and through it the CRI plugin, require it in 1.6.)
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "$rundir/containerd.sock"

[ttrpc]
  address = "$rundir/containerd.sock.ttrpc"

[debug]
  level = "${CONTAINERD_LOG_LEVEL:-info}"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$rundir/opt"

  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "$PAUSE_IMAGE"
    # Root here lacks CAP_SYS_RESOURCE: a negative OOM score for the pause
    # container makes runc fail every sandbox ("can't get final child's PID from
    # pipe: EOF"). Clamp instead.
    restrict_oom_score_adj = true
    disable_apparmor = $apparmor
    disable_hugetlb_controller = true
    tolerate_missing_hugetlb_controller = true
    # Pod network namespaces are pinned under the state dir, not /run/netns, so
    # that stop can find and unmount them.
    netns_mounts_under_state_dir = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    enable_selinux = false
    max_container_log_line_size = 16384

    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$rundir/cni/net.d"
      max_conf_num = 1

    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"

        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          # runc's state under the run dir, so stop can find every container.
          Root = "$rundir/runc"

      # A second handler on the same runc, for RuntimeClass tests (a pod's sandbox
      # reports the handler it was created with).
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.cubelet-test]
        runtime_type = "io.containerd.runc.v2"

        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.cubelet-test.options]
          SystemdCgroup = false
          Root = "$rundir/runc"

    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = ""
EOF
  mv -f "$rundir/config.toml.tmp" "$rundir/config.toml"
}

# Kills the containerd this start launched (it has no shims yet), shows its log,
# and fails with <message>.
abort_start() {
  local rundir=$1 pid=$2
  shift 2
  kill -KILL "$pid" 2>/dev/null || true
  wait_gone "$pid" 5 || true
  log_tail "$rundir"
  die "$*"
}

cmd_start() {
  local rundir images=$2 tool pid
  rundir=$(canonical_rundir "$1")
  for tool in containerd ctr runc containerd-shim-runc-v2; do
    command -v "$tool" >/dev/null || die "$tool not found in PATH ($PATH)"
  done
  [[ -f $images/pause.tar && -f $images/busybox.tar ]] ||
    die "no pause.tar and busybox.tar in $images (run scripts/build-images.sh $images)"
  images=$(cd "$images" && pwd -P)

  if pid=$(containerd_pid "$rundir"); then
    die "containerd is already running for $rundir (pid $pid)"
  fi
  if [[ -d $rundir && ! -f $rundir/$MARKER && -n $(ls -A "$rundir") ]]; then
    die "$rundir exists, is not empty and was not made by containerd.sh"
  fi
  # A unix socket path must fit in 108 bytes.
  ((${#rundir} + 24 < 108)) || die "run directory path too long for a socket: $rundir"

  mkdir -p "$rundir"/{root,state,tmp,opt,runc,cni/net.d} || die "cannot create $rundir"
  touch "$rundir/$MARKER"
  write_config "$rundir"
  rm -f "$rundir/containerd.sock" "$rundir/containerd.sock.ttrpc"

  # Detached from our session and stdio so that whoever runs this script is not
  # kept waiting on containerd's output.
  local log_offset
  log_offset=$(stat -c %s "$rundir/containerd.log" 2>/dev/null || echo 0)
  setsid containerd --config "$rundir/config.toml" </dev/null >>"$rundir/containerd.log" 2>&1 &
  pid=$!
  disown "$pid" # so that bash does not report its death as a job
  echo "$pid" >"$rundir/containerd.pid"

  # `plugins ls` doubles as the readiness probe: it answers once the gRPC
  # services are up, and says whether the CRI plugin loaded.
  local deadline=$((SECONDS + START_TIMEOUT_S)) plugins
  # ctr keeps redialling a socket that is not there yet until its timeout, so
  # wait for the socket file first.
  until [[ -S $rundir/containerd.sock ]] &&
    plugins=$(ctr_at "$rundir" --timeout 2s plugins ls 2>/dev/null); do
    if ! alive "$pid"; then
      log_tail "$rundir"
      die "containerd exited during start-up (log: $rundir/containerd.log)"
    fi
    if ((SECONDS >= deadline)); then
      abort_start "$rundir" "$pid" "containerd did not answer on $rundir/containerd.sock within ${START_TIMEOUT_S}s"
    fi
    sleep 0.05
  done
  if tail -c +$((log_offset + 1)) "$rundir/containerd.log" |
    grep -q "failed to load plugin io.containerd.grpc.v1.cri" ||
    ! grep -Eq '^io\.containerd\.grpc\.v1[[:space:]]+cri[[:space:]].*[[:space:]]ok[[:space:]]*$' <<<"$plugins"; then
    abort_start "$rundir" "$pid" "containerd started but its CRI plugin did not load"
  fi

  # Import what is missing or differs from the archive (a start on existing
  # state usually has both already; importing again costs a second).
  local listed archive image digest imported=0
  listed=$(ctr_at "$rundir" --timeout 5s -n k8s.io images ls) ||
    abort_start "$rundir" "$pid" "cannot list images"
  for archive in "$images/pause.tar" "$images/busybox.tar"; do
    image=$PAUSE_IMAGE
    [[ $archive == */busybox.tar ]] && image=$BUSYBOX_IMAGE
    digest=$(tar -xOf "$archive" index.json | grep -o 'sha256:[0-9a-f]\{64\}' | head -n 1)
    if grep -Eq "^${image//./\\.}[[:space:]].*[[:space:]]${digest}[[:space:]]" <<<"$listed"; then
      continue
    fi
    ctr_at "$rundir" --timeout 60s -n k8s.io images import "$archive" >/dev/null 2>"$rundir/import.err" || {
      cat "$rundir/import.err" >&2
      abort_start "$rundir" "$pid" "importing $archive failed"
    }
    imported=1
  done
  rm -f "$rundir/import.err"
  if ((imported)); then
    listed=$(ctr_at "$rundir" --timeout 5s -n k8s.io images ls -q)
    for image in "$PAUSE_IMAGE" "$BUSYBOX_IMAGE"; do
      grep -qxF "$image" <<<"$listed" ||
        abort_start "$rundir" "$pid" "image $image missing after import; images: $listed"
    done
  fi
  note "containerd running (pid $pid), endpoint unix://$rundir/containerd.sock"
}

cmd_kill() {
  local rundir pid
  rundir=$(canonical_rundir "$1")
  pid=$(containerd_pid "$rundir") || {
    note "no containerd running for $rundir"
    return 0
  }
  kill -KILL "$pid"
  wait_gone "$pid" 5 || die "containerd (pid $pid) survived SIGKILL"
  note "killed containerd (pid $pid); its shims and containers keep running"
}

# Waits up to <seconds> for <pid> to exit.
wait_gone() {
  local pid=$1 deadline=$((SECONDS + $2))
  while alive "$pid"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

# The pids of every containerd-shim started for <rundir>, and all their descendants.
shim_tree() {
  local rundir=$1 dir pid stat comm cmdline args
  local -A parent=() in_tree=()
  # One pass over /proc with bash builtins only: this runs while processes come
  # and go, and forking per process would make it slow.
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    { read -r stat <"$dir/stat"; } 2>/dev/null || continue
    comm=${stat#*(}
    stat=${stat##*) } # drop "pid (comm) ", comm may hold spaces
    stat=${stat#* }   # drop the state
    parent[$pid]=${stat%% *}
    [[ $comm == containerd-shim* ]] || continue
    { mapfile -d "" -t args <"$dir/cmdline"; } 2>/dev/null || continue
    cmdline="${args[*]} "
    if [[ $cmdline == *"-address $rundir/containerd.sock "* ]]; then in_tree[$pid]=1; fi
  done
  ((${#in_tree[@]})) || return 0
  # Grow the set to the fixed point of "parent is in the set".
  local changed=1
  while ((changed)); do
    changed=0
    for pid in "${!parent[@]}"; do
      if [[ -z ${in_tree[$pid]:-} && -n ${in_tree[${parent[$pid]}]:-} ]]; then
        in_tree[$pid]=1
        changed=1
      fi
    done
  done
  echo "${!in_tree[@]}"
}

# Unmounts everything mounted at or under <dir>, deepest first.
unmount_under() {
  local dir=$1 mounts m
  for _ in 1 2 3 4 5; do
    mounts=$(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print length($5), $5 }' \
      /proc/self/mountinfo | sort -rn | cut -d' ' -f2-)
    [[ -n $mounts ]] || return 0
    while IFS= read -r m; do
      m=$(printf '%b' "$m") # mountinfo escapes spaces as \040
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done <<<"$mounts"
  done
  awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print "  still mounted: " $5 }' \
    /proc/self/mountinfo >&2
  return 1
}

cmd_stop() {
  local rundir pid ns id root tree left
  rundir=$(canonical_rundir "$1")
  if [[ ! -d $rundir ]]; then
    note "$rundir does not exist; nothing to stop"
    return 0
  fi
  [[ -f $rundir/$MARKER || -z $(ls -A "$rundir") ]] ||
    die "$rundir was not made by containerd.sh; not touching it"

  # While containerd answers, let it kill and delete its tasks: the shims then
  # unmount the rootfs and runc removes the containers' cgroups.
  if pid=$(containerd_pid "$rundir"); then
    for ns in $(ctr_at "$rundir" --timeout 5s namespaces ls -q 2>/dev/null); do
      for id in $(ctr_at "$rundir" --timeout 5s -n "$ns" tasks ls -q 2>/dev/null); do
        ctr_at "$rundir" --timeout 10s -n "$ns" tasks delete --force "$id" >/dev/null 2>&1 || true
      done
    done
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" "$STOP_TIMEOUT_S"; then
      note "containerd (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT_S}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 5 || die "containerd (pid $pid) survived SIGKILL"
    fi
  fi

  # Whatever is left (containerd was killed, or a task would not die): runc
  # deletes its containers by state, which kills them and removes their cgroups;
  # then the shims and anything they still parent are killed outright.
  for root in "$rundir"/runc/* "$rundir"/state/runc/*; do
    [[ -d $root ]] || continue
    for id in $(runc --root "$root" list -q 2>/dev/null); do
      runc --root "$root" delete --force "$id" >/dev/null 2>&1 || true
    done
  done
  tree=$(shim_tree "$rundir")
  if [[ -n $tree ]]; then
    # shellcheck disable=SC2086
    kill -KILL $tree 2>/dev/null || true
    for pid in $tree; do wait_gone "$pid" 5 || die "process $pid survived SIGKILL"; done
  fi
  left=$(shim_tree "$rundir")
  [[ -z $left ]] || die "processes still running for $rundir: $left"

  # The shims' sockets live outside the run dir; each task's bundle says where.
  local addr sock
  for addr in "$rundir"/state/io.containerd.runtime.v2.task/*/*/address; do
    [[ -f $addr ]] || continue
    sock=$(<"$addr")
    sock=${sock#unix://}
    [[ $sock == "$SHIM_SOCKET_DIR"/* ]] && rm -f "$sock"
  done

  unmount_under "$rundir" || die "could not unmount everything under $rundir"
  rm -rf --one-file-system "$rundir" || die "could not remove $rundir"
  note "stopped; $rundir removed"
}

(($# >= 1)) || usage
case "$1" in
  start) (($# == 3)) || usage && cmd_start "$2" "$3" ;;
  kill) (($# == 2)) || usage && cmd_kill "$2" ;;
  stop) (($# == 2)) || usage && cmd_stop "$2" ;;
  *) usage ;;
esac
