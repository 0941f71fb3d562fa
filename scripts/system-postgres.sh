#!/usr/bin/env bash
# Installs Debian's PostgreSQL binaries for the test that runs the cluster kit on system binaries
# (PG_BIN; packages/pg-cluster/test/binaries.test.ts), when none are under
# /usr/lib/postgresql/<version>/bin. As root. No server is created or started: the package's
# default cluster is turned off before the install, so nothing outlives the tests.
set -euo pipefail

if compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
  echo "system PostgreSQL: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
  exit 0
fi
mkdir -p /etc/postgresql-common/createcluster.d
echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/no-main-cluster.conf
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
echo "system PostgreSQL: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
