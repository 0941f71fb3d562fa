import { createServer, type Server } from 'node:net'

/**
 * `count` distinct ports free on 127.0.0.1 now. The containers publish their server on fixed
 * ports, so that a node keeps its address when its container is stopped and started again
 * (Docker gives an ephemeral binding a new port on every start).
 */
export async function findFreePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, listenAnywhere))
  const ports = servers.map((server) => (server.address() as { port: number }).port)
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
  return ports
}

function listenAnywhere(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve(server))
  })
}
