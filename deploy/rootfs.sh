#!/usr/bin/env bash
# Assembles the container image's root filesystem in OUT/root: a
# distroless-style root with nothing but the gateway and what it needs to
# run — its binary, the shared libraries it links (from `ldd`: the C
# library, libm, libgcc_s, the loader), CA certificates for TLS to the
# providers, passwd/group entries for its user (uid 10001), the shipped
# routes.yaml (listening on 0.0.0.0:8080) and scripts in /etc/switchyard,
# root-owned and read-only to the gateway; and in OUT/data/switchyard its
# data directory, which the Dockerfile copies to /var/lib/switchyard owned
# by the gateway's user (COPY --chown applies to what it copies, not to a
# directory that exists already). No shell, no package manager.
#
# Used by deploy/Dockerfile (in its build stage) and by
# deploy/build-image.sh (on the host, offline: CI).
#
#   bash deploy/rootfs.sh target/release/switchyard /tmp/rootfs
set -euo pipefail
bin=${1:?usage: rootfs.sh BINARY OUT}
out=${2:?usage: rootfs.sh BINARY OUT}
repo=$(cd "$(dirname "$0")/.." && pwd)
certs=/etc/ssl/certs/ca-certificates.crt
[ -f "$certs" ] || { echo "rootfs: $certs is missing (apt-get install ca-certificates)" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out"/data/switchyard
chmod 0700 "$out"/data/switchyard
out=$out/root
mkdir -p "$out"/usr/local/bin "$out"/etc/ssl/certs "$out"/etc/switchyard \
  "$out"/var/lib "$out"/tmp
install -m 0755 "$bin" "$out"/usr/local/bin/switchyard
# Every library the binary links, at the path the loader looks for it.
ldd "$bin" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }' | while read -r lib; do
  mkdir -p "$out$(dirname "$lib")"
  cp -L "$lib" "$out$lib"
done
cp "$certs" "$out"/etc/ssl/certs/
cat > "$out"/etc/passwd <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
switchyard:x:10001:10001:switchyard:/var/lib/switchyard:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
EOF
cat > "$out"/etc/group <<'EOF'
root:x:0:
switchyard:x:10001:
nogroup:x:65534:
EOF
cp -r "$repo"/scripts "$out"/etc/switchyard/
# The shipped routes.yaml listens on 127.0.0.1, unreachable from outside a
# container; fail if that line ever changes.
sed 's/^listen: 127\.0\.0\.1:8080$/listen: 0.0.0.0:8080/' "$repo"/routes.yaml > "$out"/etc/switchyard/routes.yaml
grep -q '^listen: 0\.0\.0\.0:8080$' "$out"/etc/switchyard/routes.yaml
chmod -R a+rX,go-w "$out"/etc
chmod 1777 "$out"/tmp
