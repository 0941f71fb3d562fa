#!/usr/bin/env bash
# Builds the PostgreSQL image the Testcontainers tests use, from Debian packages, for machines
# that cannot pull images: debootstrap a minimal bookworm with postgresql-15, then `docker import`.
# Skipped when the tag already exists. Needs root, debootstrap and a running engine
# (scripts/docker-engine.sh start).
#
#   scripts/postgres-test-image.sh            # builds kysely-replicas/postgres-test:15 if missing
#
# The image offers only what the official `postgres` images guarantee (the server binaries on
# PATH, a `postgres` user) plus their data-directory VOLUME, so that the tests also check that
# no anonymous volume is left behind.
set -euo pipefail

TAG="${POSTGRES_TEST_IMAGE:-kysely-replicas/postgres-test:15}"
# The mirror apt uses on this machine, else Debian's redirector.
MIRROR="${DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
PG_BIN=/usr/lib/postgresql/15/bin

if docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "postgres-test-image: $TAG exists; not rebuilding" >&2
  exit 0
fi

root="$(mktemp -d /tmp/postgres-test-rootfs.XXXXXX)"
trap 'rm -rf "$root"' EXIT

echo "postgres-test-image: debootstrap bookworm from $MIRROR (about 1.5 min)" >&2
debootstrap --variant=minbase --include=postgresql-15 bookworm "$root" "$MIRROR" >"$root.log" 2>&1 || {
  tail -n 30 "$root.log" >&2
  echo "postgres-test-image: debootstrap failed (log above, full log in $root.log)" >&2
  exit 1
}
rm -f "$root.log"

# The package's own cluster and caches are not needed: the tests make their own data directories.
rm -rf "$root/var/lib/postgresql/15" "$root/etc/postgresql/15" "$root/var/cache/apt/archives"/*.deb \
  "$root/var/lib/apt/lists"/*

tar -C "$root" -c . | docker import \
  --change "ENV PATH=$PG_BIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change 'ENV PGDATA=/var/lib/postgresql/data' \
  --change 'VOLUME /var/lib/postgresql/data' \
  --change 'EXPOSE 5432' \
  --change 'CMD ["postgres"]' \
  - "$TAG" >/dev/null
echo "postgres-test-image: built $TAG" >&2
