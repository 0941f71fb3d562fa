import { PostgresContainerCluster } from '@kysely-replicas/testcontainers'
import { getContainerRuntimeClient } from 'testcontainers'
import { expect, inject } from 'vitest'
import { describeClusterContract } from '../../pg-cluster/test/cluster-contract.js'

const image = inject('dockerImage')

let cluster: PostgresContainerCluster | undefined
let volumesBefore: string[] = []

const dockerode = async () => (await getContainerRuntimeClient()).container.dockerode
const volumeNames = async () =>
  ((await (await dockerode()).listVolumes()).Volumes ?? []).map((volume) => volume.Name).sort()

describeClusterContract(
  'Testcontainers (Docker)',
  async () => {
    volumesBefore = await volumeNames()
    cluster = await PostgresContainerCluster.start({ image: image ?? '', replicas: 2 })
    return cluster
  },
  {
    skip: image === null,
    afterStop: async () => {
      const docker = await dockerode()
      const containers = await docker.listContainers({
        all: true,
        filters: { label: ['org.kysely-replicas.cluster'] },
      })
      expect(containers).toEqual([])
      const networkId = cluster?.network.getId() as string
      await expect(docker.getNetwork(networkId).inspect()).rejects.toMatchObject({
        statusCode: 404,
      })
      // The image declares a data VOLUME, as the official ones do: each container got one.
      expect(await volumeNames()).toEqual(volumesBefore)
    },
  },
)
