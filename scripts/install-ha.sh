#!/usr/bin/env bash
# Installs what pg-cluster's HA mode (`PgCluster.start({ ha: 'patroni' })`, `pg-cluster up --ha`)
# and its tests need, from Debian's archive (root):
#
#   scripts/install-ha.sh
#
# - patroni      Patroni 3.0 (Debian 12), the HA manager, with its Python dependencies
#                (python3-etcd, python3-psycopg2, python3-yaml, ...);
# - etcd-server  etcd 3.4, the store where the Patroni nodes elect their leader;
# - postgresql   the system PostgreSQL (initdb, postgres, pg_basebackup, pg_rewind under
#                /usr/lib/postgresql/<v>/bin), only if no /usr/lib/postgresql/<v>/bin exists.
#
# The packages enable system services (etcd on 2379/2380, a patroni.service, and a "main"
# PostgreSQL cluster on 5432 when postgresql is installed here). pg-cluster runs its own etcd,
# Patroni and servers on free ports in the cluster's directory, so those services are stopped
# and disabled here, whether or not systemd runs.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-ha.sh: run as root (it installs Debian packages with apt-get)." >&2
  exit 1
fi

packages=()
command -v patroni >/dev/null || packages+=(patroni)
command -v etcd >/dev/null || packages+=(etcd-server)
compgen -G '/usr/lib/postgresql/*/bin/pg_rewind' >/dev/null || packages+=(postgresql)

if [ ${#packages[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${packages[@]}"
fi

services=(etcd patroni)
[[ " ${packages[*]} " == *' postgresql '* ]] && services+=(postgresql)
for service in "${services[@]}"; do
  if [ -d /run/systemd/system ]; then
    systemctl disable --now "$service" >/dev/null 2>&1 || true
  else
    service "$service" stop >/dev/null 2>&1 || true
    update-rc.d "$service" disable >/dev/null 2>&1 || true
  fi
done

echo "install-ha.sh: $(patroni --version), $(etcd --version | head -n 1); their system services are off."
