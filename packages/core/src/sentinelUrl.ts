import { ConfigError } from './errors.ts';

/**
 * The scheme of a Redis Sentinel address:
 * `redis-sentinel://[user:password@]host[:port],host[:port]/<masterName>[?db=N&sentinelUsername=u&sentinelPassword=p]`.
 */
export const SENTINEL_SCHEME = 'redis-sentinel://';

/** Sentinel's own default port, used for a sentinel given without one. */
const DEFAULT_SENTINEL_PORT = 26379;

/** What a `redis-sentinel://` address says: the sentinels to ask, the master group's name, and credentials. */
export interface SentinelAddress {
  sentinels: { host: string; port: number }[];
  /** The master group's name, as in the sentinels' `sentinel monitor <name> ...`. */
  name: string;
  /** Credentials of the Redis servers (the master and replicas), from `user:password@`. */
  username?: string;
  password?: string;
  /** Credentials of the sentinels themselves (query `sentinelUsername`, `sentinelPassword`). */
  sentinelUsername?: string;
  sentinelPassword?: string;
  /** Database number (query `db`). Default: 0. */
  db?: number;
}

const QUERY_KEYS = new Set(['db', 'sentinelUsername', 'sentinelPassword']);

/** True for a `redis-sentinel://` address. */
export function isSentinelUrl(url: string): boolean {
  return url.startsWith(SENTINEL_SCHEME);
}

/**
 * Parses a `redis-sentinel://` address (see {@link SENTINEL_SCHEME}); user, password and query values are
 * percent-decoded. Throws {@link ConfigError} naming what is wrong.
 */
export function parseSentinelUrl(url: string): SentinelAddress {
  if (!isSentinelUrl(url)) throw new ConfigError(`Not a ${SENTINEL_SCHEME} address`);
  const rest = url.slice(SENTINEL_SCHEME.length);
  const [beforeQuery = '', query = ''] = splitOnce(rest, '?');
  const at = beforeQuery.lastIndexOf('@');
  const auth = at === -1 ? undefined : beforeQuery.slice(0, at);
  const [hosts = '', name = ''] = splitOnce(at === -1 ? beforeQuery : beforeQuery.slice(at + 1), '/');
  if (!/^[\w.-]+$/.test(name)) {
    throw new ConfigError(`Invalid Redis Sentinel address: name the master group after the sentinels, e.g. ${SENTINEL_SCHEME}host:26379/mymaster`);
  }
  const address: SentinelAddress = { sentinels: hosts.split(',').map(sentinelNode), name };
  if (auth !== undefined) {
    const [user = '', password] = splitOnce(auth, ':');
    if (user !== '') address.username = decode(user);
    if (password !== undefined && password !== '') address.password = decode(password);
  }
  for (const [key, value] of new URLSearchParams(query)) {
    if (!QUERY_KEYS.has(key)) throw new ConfigError(`Unknown Redis Sentinel option ${JSON.stringify(key)}: use ${[...QUERY_KEYS].join(', ')}`);
    if (key === 'db') {
      if (!/^\d+$/.test(value)) throw new ConfigError(`Invalid Redis Sentinel option db=${value}: a database number`);
      address.db = Number(value);
    } else if (key === 'sentinelUsername' || key === 'sentinelPassword') {
      address[key] = value;
    }
  }
  return address;
}

function sentinelNode(node: string): { host: string; port: number } {
  const [host = '', port] = splitOnce(node.trim(), ':');
  if (!/^[\w.-]+$/.test(host) || (port !== undefined && !/^\d+$/.test(port))) {
    throw new ConfigError(`Invalid Redis Sentinel node ${JSON.stringify(node)}: use host:port`);
  }
  return { host, port: port === undefined ? DEFAULT_SENTINEL_PORT : Number(port) };
}

/** `[before, after]` around the first `separator`, or `[text, undefined]`. */
function splitOnce(text: string, separator: string): [string, string | undefined] {
  const index = text.indexOf(separator);
  return index === -1 ? [text, undefined] : [text.slice(0, index), text.slice(index + 1)];
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new ConfigError('Invalid Redis Sentinel address: bad percent-encoding in the credentials');
  }
}
