import { GenericContainer } from 'testcontainers'

const POSTGRES_PORT = '5432/tcp'

/**
 * A container whose PostgreSQL port is published on 127.0.0.1 only, on a chosen host port.
 * Testcontainers' own `withExposedPorts` publishes on every interface, which would put a test
 * server with a known password on the machine's network.
 */
export class LoopbackPostgresContainer extends GenericContainer {
  withLoopbackPort(hostPort: number): this {
    this.createOpts.ExposedPorts = { ...this.createOpts.ExposedPorts, [POSTGRES_PORT]: {} }
    this.hostConfig.PortBindings = {
      ...this.hostConfig.PortBindings,
      [POSTGRES_PORT]: [{ HostIp: '127.0.0.1', HostPort: String(hostPort) }],
    }
    return this
  }
}
