#!/usr/bin/env bash
# Installs what cubelet needs to build, test and run its demo, from Debian's
# archive only, when anything is missing. Fast (no apt at all) when all is there.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config clang-format
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libcurl4-openssl-dev nlohmann-json3-dev libyaml-cpp-dev libsystemd-dev libseccomp-dev
  libabsl-dev libgtest-dev libgmock-dev libmicrohttpd-dev libgnutls28-dev libssl-dev
  # runtime parts the tests and the demo start
  containerd runc containernetworking-plugins busybox-static iproute2 iptables dbus-daemon
  # the demo's table
  curl jq
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The kubelet API tests drive the real kubectl; any kubectl will do (Debian's is
# kubernetes-client), so one installed otherwise is left alone.
command -v kubectl >/dev/null || missing+=(kubernetes-client)
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "cubelet: missing packages (${missing[*]}); run as root to install them" >&2
    exit 1
  fi
  echo "cubelet: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
