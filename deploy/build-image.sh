#!/usr/bin/env bash
# `make image`: build the bankfeeds OCI image with buildah (vfs storage, chroot isolation), as root.
#
# No registry is reachable from these machines, so the base image is built from Debian's own mirror
# with mmdebstrap and cached: the rootfs tarball in $BANKFEEDS_IMAGE_CACHE (default
# /var/cache/bankfeeds-image) and the imported image in buildah's storage, both keyed by a hash of
# the base's recipe; pip's downloaded wheels stay in buildah's cache mount. A second build reuses
# all three.
#
# Result: localhost/bankfeeds:$VERSION and localhost/bankfeeds:latest. Prints the build time and
# the image's size.
set -euo pipefail
cd "$(dirname "$0")/.."

STORAGE=(--storage-driver vfs)
IMAGE=${BANKFEEDS_IMAGE:-localhost/bankfeeds}
CACHE=${BANKFEEDS_IMAGE_CACHE:-/var/cache/bankfeeds-image}
PIP_CA=${BANKFEEDS_PIP_CA:-/etc/ssl/certs/ca-certificates.crt}
MIRROR=${BANKFEEDS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${BANKFEEDS_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
started=$(date +%s)

need() { command -v "$1" >/dev/null 2>&1; }
if ! need buildah || ! need podman || ! need mmdebstrap; then
  if [ "$(id -u)" = 0 ] && need apt-get; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah podman mmdebstrap >/dev/null
  else
    echo "make image needs buildah, podman and mmdebstrap (apt-get install buildah podman mmdebstrap)" >&2
    exit 2
  fi
fi

# The base: Debian bookworm minbase with Python 3.11; no compilers, no docs, no apt lists.
BASE_PACKAGES=python3,python3-venv,ca-certificates,tzdata
BASE_RECIPE="bookworm minbase $BASE_PACKAGES $MIRROR $SECURITY nodoc-norecommends-mergedusr-v2"
BASE_TAG=$(printf %s "$BASE_RECIPE" | sha256sum | cut -c1-12)
BASE_IMAGE=localhost/bankfeeds-base:bookworm-$BASE_TAG
if ! buildah "${STORAGE[@]}" inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
  tarball=$CACHE/debian-bookworm-$BASE_TAG.tar
  if [ ! -s "$tarball" ]; then
    mkdir -p "$CACHE"
    echo "building the base image with mmdebstrap into $tarball"
    # merged /usr done by mmdebstrap's hook (not the usrmerge package, which drags in all of perl),
    # and no Recommends: 130 MB instead of 225 MB.
    mmdebstrap --variant=minbase --format=tar --include="$BASE_PACKAGES" \
      --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr --aptopt='APT::Install-Recommends "false"' \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/*.log' \
      bookworm "$tarball.part" \
      "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" \
      "deb $SECURITY bookworm-security main" </dev/null
    mv "$tarball.part" "$tarball"
  fi
  echo "importing $tarball as $BASE_IMAGE"
  podman "${STORAGE[@]}" import --quiet "$tarball" "$BASE_IMAGE" >/dev/null
fi

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
previous=$(buildah "${STORAGE[@]}" inspect --type image --format '{{.FromImageID}}' "$IMAGE:$VERSION" 2>/dev/null || true)
mounts=()
[ -s "$PIP_CA" ] && mounts+=(-v "$PIP_CA:/run/hostca.crt:ro")
# No --layers: with vfs storage (the only driver that works here) every cached layer is a full
# copy of the filesystem, which costs more than it saves; the Containerfile's pip cache mount keeps
# rebuilds fast.
buildah "${STORAGE[@]}" bud --isolation chroot --quiet \
  --build-arg BASE="$BASE_IMAGE" --ignorefile deploy/containerignore "${mounts[@]}" \
  -f deploy/Containerfile -t "$IMAGE:$VERSION" -t "$IMAGE:latest" . >/dev/null

# The image this build replaced, now untagged: remove it (vfs keeps full copies).
current=$(buildah "${STORAGE[@]}" inspect --type image --format '{{.FromImageID}}' "$IMAGE:$VERSION")
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
  buildah "${STORAGE[@]}" rmi "$previous" >/dev/null 2>&1 || true
fi

elapsed=$(( $(date +%s) - started ))
sizes=$(buildah "${STORAGE[@]}" images --format '{{.Size}}' "$IMAGE:$VERSION")
size=${sizes%%$'\n'*}
echo "built $IMAGE:$VERSION (and :latest) in ${elapsed} s; image size ${size}"
