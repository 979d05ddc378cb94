import * as zmq from 'zeromq';
import { ClusterError } from '../errors';
import { log } from '../log';

/**
 * A cluster's CurveZMQ keys (Z85 text, 40 characters each). Every process of the cluster holds
 * all four: its ROUTERs (the scheduler's, each worker's data service) are CURVE servers with the
 * server pair, and every DEALER connects with the client pair. The ZAP handler admits only the
 * cluster's client key, so a peer without the keys fails the handshake and never reaches our
 * code. The keys are secrets: they travel over MPI, through a child's environment, or in a
 * scheduler file of mode 0600, never on a command line.
 */
export interface ClusterKeys {
  serverPublic: string;
  serverSecret: string;
  clientPublic: string;
  clientSecret: string;
}

/** `false` turns security off (with a warning); keys turn it on. */
export type Security = ClusterKeys | false;

/** The environment variable that carries keys to worker processes (LocalCluster, jobs). */
export const KEYS_ENV = 'MPI_CLUSTER_KEYS';

const FIELDS = ['serverPublic', 'serverSecret', 'clientPublic', 'clientSecret'] as const;
const Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

function requireCurve(): void {
  if (!zmq.capability.curve) {
    throw new ClusterError(
      'ERR_SECURITY',
      'this ZeroMQ build has no CURVE support, so the cluster cannot be secured: reinstall zeromq (its prebuilt binary has CURVE), or pass security: false / --no-security on a trusted network',
    );
  }
}

/** Fresh keys for a new cluster. */
export function makeKeys(): ClusterKeys {
  requireCurve();
  const server = zmq.curveKeyPair();
  const client = zmq.curveKeyPair();
  return {
    serverPublic: server.publicKey,
    serverSecret: server.secretKey,
    clientPublic: client.publicKey,
    clientSecret: client.secretKey,
  };
}

/** Checks keys read from a file, the environment or a peer; throws ERR_SECURITY if malformed. */
export function parseKeys(value: unknown, where: string): ClusterKeys {
  const v = (typeof value === 'string' ? safeJson(value) : value) as Record<string, unknown>;
  const ok =
    typeof v === 'object' &&
    v !== null &&
    FIELDS.every((f) => typeof v[f] === 'string' && /^[\x21-\x7e]{40}$/.test(v[f] as string));
  if (!ok) {
    throw new ClusterError(
      'ERR_SECURITY',
      `the cluster keys in ${where} are malformed: expected { ${FIELDS.join(', ')} }, 40-character Z85 each`,
    );
  }
  return {
    serverPublic: v.serverPublic as string,
    serverSecret: v.serverSecret as string,
    clientPublic: v.clientPublic as string,
    clientSecret: v.clientSecret as string,
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Says once per process that security is off. */
let warned = false;
export function warnInsecure(who: string): void {
  if (warned) return;
  warned = true;
  log.warn(
    `${who}: security is off (security: false / --no-security): anyone who can reach these ports can run code as you`,
  );
}

function z85Decode(text: string): Buffer {
  const out = Buffer.alloc((text.length * 4) / 5);
  for (let i = 0, o = 0; i < text.length; i += 5, o += 4) {
    let v = 0;
    for (let j = 0; j < 5; j++) v = v * 85 + Z85.indexOf(text[i + j]);
    out.writeUInt32BE(v >>> 0, o);
  }
  return out;
}

// ---------------------------------------------------------------- ZAP

/**
 * The ZeroMQ context of every socket of ours. A context of our own, not the default one: its
 * ZAP endpoint (inproc://zeromq.zap.01, one handler per context) is then ours alone, and a module
 * loaded anew (as test runners do, while the native addon and its default context stay) gets a
 * fresh one. Inproc peers (a LocalCluster's own client) share it.
 */
export const context = new zmq.Context();

/**
 * The ZAP handler: bound once and never closed (libzmq may hold a closed one's endpoint), read
 * while some secured server socket is open, with a timeout, so that once the last one closes no
 * pending read keeps Node alive.
 */
interface Zap {
  socket: zmq.Reply;
  bound: Promise<void>;
  serving: boolean;
  /** Client public keys admitted, by ZAP domain (each cluster's server sockets use their own). */
  admitted: Map<string, { key: Buffer; sockets: number }>;
}
let zap: Zap | null = null;
/** How long an idle ZAP read waits before it checks whether it is still needed (ms). */
const ZAP_IDLE_MS = 250;

function zapOf(): Zap {
  if (!zap) {
    const socket = new zmq.Reply({ linger: 0, context });
    socket.receiveTimeout = ZAP_IDLE_MS;
    zap = {
      socket,
      bound: socket.bind('inproc://zeromq.zap.01'),
      serving: false,
      admitted: new Map(),
    };
  }
  return zap;
}

/** The ZAP domain of a cluster: derived from its client key, so one domain per cluster. */
const domainOf = (keys: ClusterKeys): string => `mpi-cluster-${keys.clientPublic.slice(0, 20)}`;

async function startZap(z: Zap): Promise<void> {
  await z.bound;
  if (!z.serving) void serveZap(z);
}

async function serveZap(z: Zap): Promise<void> {
  z.serving = true;
  try {
    while (z.admitted.size > 0) {
      let msg: Buffer[];
      try {
        msg = await z.socket.receive();
      } catch (err) {
        if ((err as { code?: string }).code === 'EAGAIN') continue;
        throw err;
      }
      // ZAP 1.0: version, request id, domain, address, identity, mechanism, credentials...
      const [version, id, domain, , , mechanism, key] = msg;
      const entry = z.admitted.get(domain?.toString() ?? '');
      const ok = mechanism?.toString() === 'CURVE' && !!entry && !!key && entry.key.equals(key);
      await z.socket.send([
        version,
        id,
        ok ? '200' : '400',
        ok ? 'OK' : 'not of this cluster',
        '',
        '',
      ]);
    }
  } catch (err) {
    log.warn(`ZAP handler stopped: ${(err as Error).message}`);
  } finally {
    z.serving = false;
  }
}

/**
 * Makes `socket` a CURVE server of the cluster: only peers with the cluster's client key get in.
 * Await it before binding. Returns the function to call when the socket closes.
 */
export async function secureServer(socket: zmq.Router, keys: ClusterKeys): Promise<() => void> {
  requireCurve();
  const domain = domainOf(keys);
  const z = zapOf();
  const entry = z.admitted.get(domain) ?? { key: z85Decode(keys.clientPublic), sockets: 0 };
  entry.sockets += 1;
  z.admitted.set(domain, entry);
  await startZap(z);
  socket.curveServer = true;
  socket.curveSecretKey = keys.serverSecret;
  socket.zapDomain = domain;
  // Without a ZAP handler, refuse everyone rather than admit everyone.
  socket.zapEnforceDomain = true;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    entry.sockets -= 1;
    if (entry.sockets === 0) z.admitted.delete(domain);
  };
}

/** Makes `socket` a CURVE client of the cluster; before it connects. */
export function secureClient(socket: zmq.Dealer, keys: ClusterKeys): void {
  requireCurve();
  socket.curveServerKey = keys.serverPublic;
  socket.curvePublicKey = keys.clientPublic;
  socket.curveSecretKey = keys.clientSecret;
}

/** Keys of the schedulers running in this process, by address (tcp and inproc). */
const local = new Map<string, ClusterKeys>();

/** A scheduler in this process tells its keys, so a client here may connect by address alone. */
export function rememberKeys(addresses: string[], keys: ClusterKeys | null): () => void {
  if (!keys) return () => {};
  for (const a of addresses) local.set(a, keys);
  return () => {
    for (const a of addresses) local.delete(a);
  };
}

/** The keys of a scheduler running in this process at `address`, if any. */
export function localKeys(address: string): ClusterKeys | undefined {
  return local.get(address);
}

/**
 * The keys a process uses, in one place: given keys, or `false` (off, with a warning), or, when
 * nothing was given, those in MPI_CLUSTER_KEYS (how LocalCluster and batch jobs hand them to
 * workers). A worker must have one or the other; a client without any connects without
 * security, which only an insecure scheduler accepts.
 */
export function resolveSecurity(
  given: Security | undefined,
  who: string,
  orElse: 'refuse' | 'plain',
): ClusterKeys | null {
  if (given === false) {
    warnInsecure(who);
    return null;
  }
  if (given !== undefined) return parseKeys(given, `${who}'s security option`);
  const env = process.env[KEYS_ENV];
  if (env) return parseKeys(env, KEYS_ENV);
  if (orElse === 'plain') return null;
  throw new ClusterError(
    'ERR_SECURITY',
    `${who} has no cluster keys: start it with --scheduler-file (the file holds them), set ${KEYS_ENV}, or turn security off on both sides (--no-security / security: false)`,
  );
}
