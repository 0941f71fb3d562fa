import net from 'node:net'

/**
 * A TCP load balancer on 127.0.0.1 that sends each new connection to the next of its backends,
 * as a Kubernetes Service, HAProxy or a cloud reader endpoint does: one address, several servers.
 */
export class RoundRobinProxy {
  readonly #server: net.Server
  readonly #sockets = new Set<net.Socket>()
  #next = 0

  private constructor(backends: readonly number[]) {
    this.#server = net.createServer((client) => {
      const port = backends[this.#next++ % backends.length] as number
      const backend = net.connect({ host: '127.0.0.1', port })
      for (const socket of [client, backend]) {
        this.#sockets.add(socket)
        socket.on('close', () => this.#sockets.delete(socket))
        socket.on('error', () => {
          client.destroy()
          backend.destroy()
        })
      }
      client.pipe(backend).pipe(client)
    })
  }

  /** Starts a proxy over the backends' ports, on a free port of its own. */
  static async start(backends: readonly number[]): Promise<RoundRobinProxy> {
    const proxy = new RoundRobinProxy(backends)
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once('error', reject)
      proxy.#server.listen(0, '127.0.0.1', resolve)
    })
    return proxy
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port
  }

  /** Closes the proxy and every connection through it. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) {
      socket.destroy()
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}
