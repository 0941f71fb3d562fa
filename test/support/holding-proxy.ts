import net from 'node:net'

/**
 * A TCP proxy on 127.0.0.1 in front of one server that can stop answering as a network
 * partition does: `hold()` stops passing bytes both ways (no RST, no FIN: both sides just wait,
 * and new connections are accepted and then hear nothing); `release()` lets everything held flow
 * again, in order. With `delayMs`, every byte takes that much longer each way, as a server in
 * another zone does.
 */
export class HoldingProxy {
  readonly #server: net.Server
  readonly #sockets = new Set<net.Socket>()
  /** How much later each byte is passed on, each way; may change while connections are open. */
  delayMs: number
  #holding = false

  private constructor(backendPort: number, delayMs: number) {
    this.delayMs = delayMs
    this.#server = net.createServer((client) => {
      const backend = net.connect({ host: '127.0.0.1', port: backendPort })
      this.#join(client, backend)
      this.#join(backend, client)
    })
  }

  /** Starts a proxy to the server on `backendPort`, on a free port of its own. */
  static async start(backendPort: number, { delayMs = 0 } = {}): Promise<HoldingProxy> {
    const proxy = new HoldingProxy(backendPort, delayMs)
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once('error', reject)
      proxy.#server.listen(0, '127.0.0.1', resolve)
    })
    return proxy
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port
  }

  /** Stops passing bytes, on every connection, open or to come. */
  hold(): void {
    this.#holding = true
    for (const socket of this.#sockets) {
      socket.pause()
    }
  }

  /** Passes bytes again, those held first. */
  release(): void {
    this.#holding = false
    for (const socket of this.#sockets) {
      socket.resume()
    }
  }

  /** Closes the proxy and every connection through it. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) {
      socket.destroy()
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  // Timers of one delay fire in the order they were set: bytes keep their order (as long as the
  // delay does not shrink while bytes are on their way).
  #later(step: () => void): void {
    if (this.delayMs === 0) {
      step()
    } else {
      setTimeout(step, this.delayMs)
    }
  }

  // Bytes read from `from` go to `to`; a paused socket leaves them unread (in the kernel), which
  // is what holding is. Backpressure pauses too, and only release() or a drain resumes.
  #join(from: net.Socket, to: net.Socket): void {
    this.#sockets.add(from)
    if (this.#holding) {
      from.pause()
    }
    from.on('data', (chunk) =>
      this.#later(() => {
        if (!to.write(chunk)) {
          from.pause()
          to.once('drain', () => {
            if (!this.#holding) {
              from.resume()
            }
          })
        }
      }),
    )
    from.on('end', () => this.#later(() => to.end()))
    from.on('close', () => {
      this.#sockets.delete(from)
      to.destroy()
    })
    from.on('error', () => from.destroy())
  }
}
