/**
 * A script that starts a cluster and ends without `close()` ends (Dask closes such clusters at
 * exit). Node ends a script when nothing keeps its event loop alive, but a cluster's scheduler in
 * this process always has a ZeroMQ read pending, which does. Everything else of a cluster (worker
 * processes, their pipes, the HTTP server, timers) is unreferenced, so while a cluster is open a
 * watcher looks, a few times a second, for the moment Node would have ended the script were it
 * not for those reads: no referenced handle or request of Node's (timers, sockets, child
 * processes, files) and no client of ours waiting for an answer. Seen twice in a row, it closes
 * every client and cluster of this process, and the script ends.
 */
export interface ScriptEndMember {
  /** Still waited on by the script (a client with a result, a reply or workers awaited). */
  busy(): boolean;
  close(): Promise<void>;
}

const WATCH_MS = 100;
/** Idle readings in a row before closing: one reading may fall between two steps of a wait. */
const IDLE_READINGS = 2;

const clients = new Set<ScriptEndMember>();
const clusters = new Set<ScriptEndMember>();
let watcher: NodeJS.Timeout | null = null;
let idleReadings = 0;
let ending: Promise<void> | null = null;

/** A client: closed first at the script's end, and busy while it waits for the scheduler. */
export function closeClientAtScriptEnd(member: ScriptEndMember): () => void {
  clients.add(member);
  return () => clients.delete(member);
}

/** A cluster whose scheduler runs in this process: closed once the script has nothing left. */
export function closeClusterAtScriptEnd(member: ScriptEndMember): () => void {
  clusters.add(member);
  if (!watcher) {
    idleReadings = 0;
    watcher = setInterval(check, WATCH_MS);
    watcher.unref();
  }
  return () => {
    clusters.delete(member);
    if (clusters.size === 0 && watcher) {
      clearInterval(watcher);
      watcher = null;
    }
  };
}

function check(): void {
  if (ending) return;
  idleReadings = scriptIsIdle() ? idleReadings + 1 : 0;
  if (idleReadings < IDLE_READINGS) return;
  ending = closeAll().finally(() => {
    ending = null;
    idleReadings = 0;
  });
}

async function closeAll(): Promise<void> {
  for (const group of [clients, clusters]) {
    await Promise.all([...group].map((m) => m.close().catch(() => undefined)));
  }
}

/** @internal Exported for its unit test: would Node end the script were it not for our reads? */
export function scriptIsIdle(): boolean {
  for (const group of [clients, clusters]) for (const m of group) if (m.busy()) return false;
  return nodeWouldExit();
}

/**
 * Node's own answer, from its list of referenced handles and requests. The process's stdout and
 * stderr are listed while they exist, but hold the loop only while a write is pending.
 */
export function nodeWouldExit(): boolean {
  const resources = process.getActiveResourcesInfo();
  for (const stream of [process.stdout, process.stderr]) {
    const handle = (stream as unknown as { _handle?: { constructor?: { name?: string } } })._handle;
    if (!handle || stream.writableLength > 0) continue;
    const i = resources.indexOf(`${handle.constructor?.name ?? ''}Wrap`);
    if (i >= 0) resources.splice(i, 1);
  }
  return resources.length === 0;
}
