#!/usr/bin/env bash
# Builds the container image offline, from a gateway binary built on this
# machine: deploy/rootfs.sh assembles the root filesystem, then buildah
# (Debian's package; vfs storage, no daemon, no registry) builds
# deploy/Dockerfile's final stage over it (`--build-arg ROOTFS=host`: the
# Rust build stage is skipped, nothing is pulled).
#
#   bash deploy/build-image.sh [--bin PATH] [--tag NAME] [--check]
#
# --bin   the binary (default target/release/switchyard; CI passes the debug one)
# --tag   the image name (default localhost/switchyard:latest)
# --check then run the image's own filesystem as the image would — chrooted,
#         as its user, with its environment, in a network namespace of its
#         own — and check that the gateway starts on the shipped config,
#         answers, and writes its ledger in its data directory (and nowhere
#         in /etc/switchyard); the image is removed afterwards. Needs root
#         (chroot, unshare) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=target/release/switchyard
tag=localhost/switchyard:latest
check=0
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --check) check=1; shift ;;
    *) echo "build-image: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$bin" ] || { echo "build-image: no binary at $bin (cargo build --release)" >&2; exit 1; }
command -v buildah >/dev/null || { echo "build-image: buildah is missing (apt-get install buildah)" >&2; exit 1; }

export STORAGE_DRIVER=vfs
ctx=$(mktemp -d)
container=
cleanup() {
  [ -n "$container" ] && { buildah umount "$container" >/dev/null 2>&1 || true; buildah rm "$container" >/dev/null 2>&1 || true; }
  [ "$check" = 1 ] && buildah rmi "$tag" >/dev/null 2>&1
  rm -rf "$ctx"
}
trap cleanup EXIT

bash deploy/rootfs.sh "$bin" "$ctx/rootfs"
buildah bud --quiet --layers=false --build-arg ROOTFS=host -f deploy/Dockerfile -t "$tag" "$ctx" >/dev/null
echo "build-image: built $tag"
[ "$check" = 1 ] || exit 0

# The image's configuration, as a runtime would read it.
inspect() { buildah inspect --type image --format "$1" "$tag"; }
[ "$(inspect '{{.OCIv1.Config.User}}')" = "10001:10001" ] || { echo "build-image: wrong user" >&2; exit 1; }
env_line=$(inspect '{{range .OCIv1.Config.Env}}{{println .}}{{end}}' | grep '^SWITCHYARD_DATA_DIR=' || true)
[ "$env_line" = "SWITCHYARD_DATA_DIR=/var/lib/switchyard" ] || { echo "build-image: no SWITCHYARD_DATA_DIR" >&2; exit 1; }
# `[/usr/local/bin/switchyard run --config …]`: no argument has a space.
entrypoint=$(inspect '{{.OCIv1.Config.Entrypoint}}')

container=$(buildah from "$tag")
root=$(buildah mount "$container")
[ "$(stat -c %u "$root/var/lib/switchyard")" = 10001 ] || { echo "build-image: the data directory is not the gateway's" >&2; exit 1; }
[ "$(stat -c %u "$root/etc/switchyard")" = 0 ] || { echo "build-image: /etc/switchyard must be root's" >&2; exit 1; }

# Run the entrypoint in the image's root, as its user, with its data
# directory, in a network namespace of its own (its port 8080 cannot clash
# with anything here); probe it from inside that namespace.
cmd=$(printf '%s' "$entrypoint" | tr -d '[]')
config_before=$(cd "$root/etc/switchyard" && find . -printf '%p %s %T@\n' | sort)
ENV_LINE=$env_line unshare --net bash -euo pipefail -c '
  ip link set lo up
  root=$1; shift
  env -i "$ENV_LINE" SWITCHYARD_LOG=warn \
    "$(command -v chroot)" --userspec=10001:10001 "$root" "$@" &
  gw=$!
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null http://127.0.0.1:8080/health 2>/dev/null && break
    sleep 0.2
  done
  curl -fsS http://127.0.0.1:8080/health >/dev/null
  # No provider key here: a 503, recorded in the ledger like any request.
  code=$(curl -s -o /dev/null -w "%{http_code}" -H "content-type: application/json" \
    -d "{\"model\":\"fast\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" \
    http://127.0.0.1:8080/v1/chat/completions)
  [ "$code" = 503 ] || { echo "build-image: expected 503, got $code" >&2; kill $gw; exit 1; }
  kill -TERM $gw
  wait $gw || true
' _ "$root" $cmd
[ -s "$root/var/lib/switchyard/switchyard-usage.db" ] || { echo "build-image: no ledger in the data directory" >&2; exit 1; }
config_after=$(cd "$root/etc/switchyard" && find . -printf '%p %s %T@\n' | sort)
[ "$config_before" = "$config_after" ] || { echo "build-image: the gateway wrote in /etc/switchyard" >&2; exit 1; }
echo "build-image: $tag runs as 10001 and keeps its ledger in /var/lib/switchyard"
