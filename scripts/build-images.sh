#!/usr/bin/env bash
# Builds the two OCI image archives cubelet's tests and demo run, since no image
# registry is reachable from build or CI machines:
#   <outdir>/pause.tar    localhost/cubelet/pause:3.9     (entrypoint /pause)
#   <outdir>/busybox.tar  localhost/cubelet/busybox:1.35  (Debian's busybox-static)
# Each archive is an OCI image layout (oci-layout, index.json, blobs/sha256/...)
# with one uncompressed layer, and is named through the index's annotations so
# that `ctr -n k8s.io images import <archive>` registers it under that name.
#
# Usage: build-images.sh <outdir> [<pause-binary>]
#   Without <pause-binary>, images/pause/pause.c is compiled with gcc -static.
# Only bash, coreutils, tar, sha256sum and gcc are used. The output is
# deterministic, and nothing is rebuilt when the inputs have not changed.
set -euo pipefail

readonly PAUSE_IMAGE="localhost/cubelet/pause:3.9"
readonly BUSYBOX_IMAGE="localhost/cubelet/busybox:1.35"
readonly BUSYBOX_BIN="/bin/busybox"
readonly IMAGE_PATH_ENV="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
readonly EPOCH="1970-01-01T00:00:00Z"

die() {
  echo "build-images: $*" >&2
  exit 1
}

(($# >= 1 && $# <= 2)) || die "usage: build-images.sh <outdir> [<pause-binary>]"
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src_dir=$(dirname "$script_dir")
mkdir -p "$1" || die "cannot create output directory $1"
out_dir=$(cd "$1" && pwd)
pause_bin=${2:-}

[[ -x $BUSYBOX_BIN ]] || die "$BUSYBOX_BIN not found (apt-get install busybox-static)"
"$BUSYBOX_BIN" --list >/dev/null 2>&1 || die "$BUSYBOX_BIN --list failed; is it busybox-static?"

# GOARCH naming, which is what image configs and containerd's platform matcher use.
goarch() {
  local arch
  arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
  case "$arch" in
    amd64 | x86_64) echo amd64 ;;
    arm64 | aarch64) echo arm64 ;;
    armhf | armel | arm*) echo arm ;;
    i386 | i686) echo 386 ;;
    ppc64el | ppc64le) echo ppc64le ;;
    s390x) echo s390x ;;
    riscv64) echo riscv64 ;;
    *) die "unknown architecture $arch" ;;
  esac
}
ARCH=$(goarch) || exit 1
readonly ARCH

work=$(mktemp -d "${TMPDIR:-/tmp}/cubelet-images.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [[ -z $pause_bin ]]; then
  pause_bin="$work/pause"
  gcc -static -Os -s -Wall -Wextra -Werror -o "$pause_bin" "$src_dir/images/pause/pause.c" ||
    die "compiling images/pause/pause.c failed"
fi
[[ -f $pause_bin ]] || die "pause binary $pause_bin not found"

# Skip the work when every input is what the existing archives were built from.
stamp_file="$out_dir/.inputs.sha256"
stamp=$({
  echo "arch $ARCH"
  sha256sum "${BASH_SOURCE[0]}" "$pause_bin" "$BUSYBOX_BIN" | cut -d' ' -f1
} | sha256sum | cut -d' ' -f1)
if [[ -f $out_dir/pause.tar && -f $out_dir/busybox.tar && -f $stamp_file &&
  $(<"$stamp_file") == "$stamp" ]]; then
  touch "$out_dir/pause.tar" "$out_dir/busybox.tar" # newer than the inputs, for make/ninja
  echo "build-images: $out_dir/pause.tar and busybox.tar are up to date"
  exit 0
fi

# A reproducible tar of a directory's contents: sorted, owned by root, epoch mtimes.
repro_tar() {
  local dir=$1 out=$2
  shift 2
  tar --create --file="$out" --directory="$dir" --format=gnu --sort=name \
    --owner=0 --group=0 --numeric-owner --mtime=@0 "$@"
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
size_of() { stat -c %s "$1"; }

# Moves a file into the layout's blob store, printing "sha256:<hex> <size>".
add_blob() {
  local layout=$1 file=$2 hex size
  hex=$(sha256_of "$file")
  size=$(size_of "$file")
  mkdir -p "$layout/blobs/sha256"
  mv "$file" "$layout/blobs/sha256/$hex"
  echo "sha256:$hex $size"
}

# JSON array of strings from the arguments (they hold no quotes or backslashes).
json_strings() {
  local out="" s
  for s in "$@"; do out+="${out:+,}\"$s\""; done
  echo "[$out]"
}

# Builds one image archive from a root filesystem directory.
#   make_image <rootfs> <name> <archive> <config-fragment>
# <config-fragment> is the JSON body of the image config's "config" object.
make_image() {
  local rootfs=$1 name=$2 archive=$3 config_body=$4
  local layout="$work/layout-${archive##*/}"
  rm -rf "$layout"
  mkdir -p "$layout"

  local layer_digest layer_size
  local entries
  mapfile -t entries < <(cd "$rootfs" && LC_ALL=C ls -A)
  repro_tar "$rootfs" "$work/layer.tar" "${entries[@]}"
  read -r layer_digest layer_size < <(add_blob "$layout" "$work/layer.tar")

  # An uncompressed layer's diff_id is its own digest.
  printf '{"architecture":"%s","os":"linux","created":"%s","config":{%s},"rootfs":{"type":"layers","diff_ids":["%s"]},"history":[{"created":"%s","created_by":"cubelet scripts/build-images.sh"}]}' \
    "$ARCH" "$EPOCH" "$config_body" "$layer_digest" "$EPOCH" >"$work/config.json"
  local config_digest config_size
  read -r config_digest config_size < <(add_blob "$layout" "$work/config.json")

  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
    "$config_digest" "$config_size" "$layer_digest" "$layer_size" >"$work/manifest.json"
  local manifest_digest manifest_size
  read -r manifest_digest manifest_size < <(add_blob "$layout" "$work/manifest.json")

  # containerd's importer names the image from io.containerd.image.name; other
  # OCI tools read the tag from org.opencontainers.image.ref.name.
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"architecture":"%s","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest_digest" "$manifest_size" "$ARCH" "$name" "${name##*:}" >"$layout/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"

  chmod -R u=rwX,go=rX "$layout"
  repro_tar "$layout" "$archive.tmp" oci-layout index.json blobs
  mv -f "$archive.tmp" "$archive"
  echo "build-images: $archive ($name, manifest $manifest_digest)"
}

# --- pause ---------------------------------------------------------------------
pause_root="$work/pause-rootfs"
mkdir -p "$pause_root"
install -m 0755 "$pause_bin" "$pause_root/pause"
chmod 0755 "$pause_root"
make_image "$pause_root" "$PAUSE_IMAGE" "$out_dir/pause.tar" \
  "\"Env\":$(json_strings "$IMAGE_PATH_ENV"),\"Entrypoint\":[\"/pause\"],\"WorkingDir\":\"/\""

# --- busybox -------------------------------------------------------------------
bb_root="$work/busybox-rootfs"
mkdir -p "$bb_root"/{bin,etc,root,tmp,usr/bin,var,proc,sys,dev,home}
install -m 0755 "$BUSYBOX_BIN" "$bb_root/bin/busybox"
while read -r applet; do
  [[ -n $applet && $applet != busybox && ! -e $bb_root/bin/$applet ]] || continue
  ln -s busybox "$bb_root/bin/$applet"
done < <("$BUSYBOX_BIN" --list)
ln -s ../../bin/busybox "$bb_root/usr/bin/env"
for applet in sh sleep httpd wget nc echo cat; do
  [[ -L $bb_root/bin/$applet ]] || die "busybox has no '$applet' applet"
done
cat >"$bb_root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$bb_root/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
EOF
chmod 0644 "$bb_root/etc/passwd" "$bb_root/etc/group"
chmod 0755 "$bb_root" "$bb_root"/{bin,etc,usr,usr/bin,var,proc,sys,dev,home}
chmod 0700 "$bb_root/root"
chmod 1777 "$bb_root/tmp"
make_image "$bb_root" "$BUSYBOX_IMAGE" "$out_dir/busybox.tar" \
  "\"Env\":$(json_strings "$IMAGE_PATH_ENV"),\"Cmd\":[\"sh\"],\"WorkingDir\":\"/\""

echo "$stamp" >"$stamp_file"
