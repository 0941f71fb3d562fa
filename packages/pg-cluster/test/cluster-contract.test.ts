import { PgCluster } from '@kysely-replicas/pg-cluster'
import { describeClusterContract } from './cluster-contract.js'

describeClusterContract('pg-cluster (npm binaries)', () => PgCluster.start({ replicas: 2 }))
