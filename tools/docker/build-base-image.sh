#!/usr/bin/env bash
# Builds a stand-in for node:20-bookworm-slim where no image registry is reachable: Debian bookworm
# (debootstrap --variant=minbase, from the machine's Debian mirror) plus this machine's own Node 20
# and npm, with a `node` user (uid 1000) as in the official image. Use it through the Dockerfile's
# NODE_IMAGE argument:
#
#   sudo tools/docker/build-base-image.sh                      # → correio-node:20-local
#   docker build --build-arg NODE_IMAGE=correio-node:20-local -f tools/docker/Dockerfile -t correio:latest .
#
# The machine's trust store (/etc/ssl/certs/ca-certificates.crt) is copied in, so that a build
# behind an intercepting proxy can install packages (the Dockerfile's NODE_EXTRA_CA_CERTS argument).
# The image is for this machine only: do not push it. Needs root, debootstrap and a Docker engine.
#
# Usage: build-base-image.sh [image] (default correio-node:20-local; CORREIO_DEBIAN_MIRROR overrides
# the mirror read from /etc/apt).
set -euo pipefail

image="${1:-correio-node:20-local}"
suite=bookworm

fail() { echo "build-base-image: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "debootstrap needs root"
command -v debootstrap >/dev/null || fail "debootstrap is not installed (apt-get install debootstrap)"
command -v docker >/dev/null || fail "no docker CLI"

node_bin="$(readlink -f "$(command -v node)")" || fail "no node on PATH"
node_version="$("$node_bin" -v)"
case "$node_version" in v20.*) ;; *) fail "node $node_version is not Node 20" ;; esac
# The installation the binary belongs to: <prefix>/bin/node, <prefix>/lib/node_modules/npm.
node_prefix="$(dirname "$(dirname "$node_bin")")"
[ -d "$node_prefix/lib/node_modules/npm" ] || fail "no npm next to $node_bin ($node_prefix/lib/node_modules/npm)"

# The machine's Debian mirror: the first URIs of a deb822 source, else the first deb line.
mirror="${CORREIO_DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror="$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
fi
if [ -z "$mirror" ]; then
  mirror="$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' /etc/apt/sources.list 2>/dev/null || true)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

rootfs="$(mktemp -d /tmp/correio-base.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT

echo "build-base-image: debootstrap $suite from $mirror"
debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || { tail -20 "$rootfs.log" >&2; rm -f "$rootfs.log"; fail "debootstrap failed"; }
rm -f "$rootfs.log"

echo "build-base-image: node $node_version and npm $("$node_bin" "$node_prefix/lib/node_modules/npm/bin/npm-cli.js" -v) from $node_prefix"
install -D -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules" "$rootfs/usr/local/include"
cp -a "$node_prefix/lib/node_modules/npm" "$rootfs/usr/local/lib/node_modules/"
[ -d "$node_prefix/lib/node_modules/corepack" ] && cp -a "$node_prefix/lib/node_modules/corepack" "$rootfs/usr/local/lib/node_modules/"
# Headers for node-gyp, the Dockerfile's fallback when a native module has no prebuilt binary.
[ -d "$node_prefix/include/node" ] && cp -a "$node_prefix/include/node" "$rootfs/usr/local/include/"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
[ -d "$rootfs/usr/local/lib/node_modules/corepack" ] && ln -s ../lib/node_modules/corepack/dist/corepack.js "$rootfs/usr/local/bin/corepack"

install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
# The official image's user: uid and gid 1000, a home directory.
chroot "$rootfs" groupadd --gid 1000 node
chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
chroot "$rootfs" /usr/local/bin/node -e 'process.exit(process.version === process.argv[1] ? 0 : 1)' "$node_version" || fail "node does not run in the new root"
# Smaller: package lists and caches are not needed to run Node (the build stage updates apt itself).
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb

echo "build-base-image: importing $image"
chmod 0755 "$rootfs" # mktemp made it 0700: it becomes the image's /, which every user must traverse
tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${node_version#v}" \
  --change 'CMD ["node"]' \
  - "$image" >/dev/null
docker image inspect --format '{{.Size}}' "$image" | awk -v image="$image" '{ printf "build-base-image: %s, %.0f MB\n", image, $1 / 1e6 }'
