import { createConnection, createServer, type Server } from 'node:net'
import { PgClusterError, PortInUseError } from './errors.js'

const HOST = '127.0.0.1'

/**
 * `count` distinct ports that are free on 127.0.0.1 right now. All listeners are held open until
 * every port is known, so the kernel cannot hand out the same port twice.
 */
export async function findFreePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => listen(0)))
  const ports = servers.map((server) => {
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('no TCP address')
    return address.port
  })
  await Promise.all(servers.map(close))
  return ports
}

/** Throws `PortInUseError` for the first of `ports` that something already listens on. */
export async function assertPortsFree(ports: readonly number[]): Promise<void> {
  for (const port of ports) {
    if (!Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new PgClusterError(`Port ${port} is not a valid TCP port (1-65535).`)
    }
    let server: Server
    try {
      server = await listen(port)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EADDRINUSE') throw new PortInUseError(port, { cause: error })
      throw new PgClusterError(`Cannot listen on 127.0.0.1:${port} (${code}).`, { cause: error })
    }
    await close(server)
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function isPortOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
    socket.setTimeout(1000, () => {
      socket.destroy()
      resolve(false)
    })
  })
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({ host: HOST, port, exclusive: true }, () => resolve(server))
  })
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}
