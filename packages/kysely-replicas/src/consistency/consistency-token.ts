import { createHmac, timingSafeEqual } from 'node:crypto'

/** What a token carries. */
export interface TokenContent {
  readonly cluster: string
  readonly position: bigint | undefined
  readonly lastWriteAt: number | undefined
}

const PREFIX = 'ryw1'

/**
 * Encodes a scope as an opaque string: `ryw1.<cluster>.<position hex>.<last write ms>[.<mac>]`,
 * signed with HMAC-SHA256 when a secret is given.
 */
export function encodeToken(content: TokenContent, secret: string | undefined): string {
  const body = [
    PREFIX,
    encodeCluster(content.cluster),
    content.position === undefined ? '' : content.position.toString(16),
    content.lastWriteAt === undefined ? '' : content.lastWriteAt.toString(36),
  ].join('.')
  return secret === undefined ? body : `${body}.${sign(body, secret)}`
}

/** Why a token was not used. */
export type TokenProblem = 'malformed' | 'bad-signature' | 'other-cluster'

/**
 * Decodes a token; returns a problem instead of throwing, since a bad token must never break a
 * read.
 */
export function decodeToken(
  token: unknown,
  secret: string | undefined,
): TokenContent | TokenProblem {
  if (typeof token !== 'string' || token.length > 512) {
    return 'malformed'
  }
  const parts = token.split('.')
  const signed = parts.length === 5
  if ((parts.length !== 4 && !signed) || parts[0] !== PREFIX) {
    return 'malformed'
  }
  if (secret !== undefined) {
    const body = parts.slice(0, 4).join('.')
    const mac = parts[4]
    if (mac === undefined || !sameMac(mac, sign(body, secret))) {
      return 'bad-signature'
    }
  }
  const [, cluster = '', position = '', lastWriteAt = ''] = parts
  if (!/^[0-9a-f]{0,16}$/.test(position) || !/^[0-9a-z]{0,12}$/.test(lastWriteAt)) {
    return 'malformed'
  }
  let decodedCluster: string
  try {
    decodedCluster = decodeURIComponent(cluster)
  } catch {
    return 'malformed'
  }
  return {
    cluster: decodedCluster,
    position: position === '' ? undefined : BigInt(`0x${position}`),
    lastWriteAt: lastWriteAt === '' ? undefined : Number.parseInt(lastWriteAt, 36),
  }
}

// encodeURIComponent() leaves `.` as it is: escaped here, since it separates the parts.
function encodeCluster(cluster: string): string {
  return encodeURIComponent(cluster).replaceAll('.', '%2E')
}

function sign(body: string, secret: string): string {
  return createHmac('sha256', secret).update(body).digest('base64url')
}

function sameMac(given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}
