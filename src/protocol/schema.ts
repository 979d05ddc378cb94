import { COORD_ACTIONS, type OpType } from './messages';

/**
 * Field checks for every op, used by the decoder so that a malformed or foreign message is
 * dropped at the boundary instead of crashing a handler deep inside.
 */
type Base =
  | 'string'
  | 'number'
  | 'string[]'
  | 'number[]'
  | 'object'
  | 'object[]'
  | 'record<number>'
  | 'record<string[]>';
/** A field's type; a trailing `?` lets it be absent (undefined), never of another type. */
type FieldType = Base | `${Base}?`;

const s = 'string' as const;
const n = 'number' as const;
const ss = 'string[]' as const;
const o = 'object' as const;

export const OP_FIELDS: Record<OpType, Record<string, FieldType>> = {
  'hello-client': { id: s, name: s },
  'define-fn': { id: s, spec: o },
  submit: { task: o },
  release: { keys: ss },
  cancel: { keys: ss },
  scattered: { keys: ss, workers: ss, nbytes: 'number[]' },
  'who-has': { req: n, keys: ss },
  info: { req: n },
  rebalance: { req: n, keys: 'string[]?' },
  heartbeat: {
    cpu: 'number?',
    rss: 'number?',
    transferBytes: 'number?',
    xfer: 'number[]?',
    managed: 'number?',
    spilled: 'number?',
    spilledCount: 'number?',
    paused: 'number?',
    lag: 'number?',
  },
  shutdown: {},
  bye: {},
  coord: {
    req: n,
    action: s,
    name: s,
    token: 'string?',
    timeout: 'number?',
    max: 'number?',
    override: 'number?',
    keys: 'string[]?',
    nf: n,
  },
  'want-keys': { keys: ss },
  'coord-reply': {
    req: n,
    nf: n,
    flag: 'number?',
    n: 'number?',
    names: 'string[]?',
    error: 'object?',
  },
  retire: {},
  profile: { req: 'number', ms: 'number' },
  'profile-data': { req: 'number', tree: 'string' },
  welcome: { schedulerId: s, address: s, nWorkers: n, http: 'string?', dashboard: 'string?' },
  'key-done': { key: s, who: ss, nbytes: n, nf: n },
  'key-erred': { key: s, error: o },
  'key-cancelled': { key: s },
  'key-lost': { key: s },
  'who-has-reply': { req: n, who: 'record<string[]>' },
  'info-reply': { req: n, info: o },
  'rebalance-reply': { req: n, moved: n, bytes: n },
  'n-workers': { n },
  'task-unrunnable': { key: s, message: s, workers: 'string[]?', resources: 'record<number>?' },
  closing: { reason: s, code: 'string?' },
  register: { worker: o },
  'task-finished': { key: s, nbytes: n, duration: n, nf: n },
  'task-erred': { key: s, error: o, duration: n },
  'add-keys': { keys: ss, nbytes: 'number[]' },
  'missing-data': { key: s, dep: s, from: s },
  'long-running': { key: s },
  rejoined: { key: s },
  registered: { schedulerId: s },
  compute: { key: s, fn: s, deps: 'object[]', nf: n, gang: 'object?' },
  'acquire-replicas': { deps: 'object[]' },
  'free-keys': { keys: ss },
  'cancel-compute': { keys: ss },
  'get-data': { req: n, keys: ss, bulk: 'string?' },
  data: { req: n, key: s, nf: n },
  'bulk-at': { req: n, address: s },
  'data-bulk': { req: n, key: s, id: n, seal: s, lens: 'number[]' },
  'no-data': { req: n, key: s },
  'data-end': { req: n },
  'put-data': { req: n, key: s, nf: n },
  'put-ack': { req: n, keys: ss },
  ping: { req: n },
  pong: { req: n },
};

/** Fields of objects inside an op, checked after the op's own fields. */
const NESTED: Partial<Record<OpType, Record<string, Record<string, FieldType>>>> = {
  'define-fn': { spec: { kind: s } },
  submit: {
    task: {
      key: s,
      fn: s,
      deps: ss,
      priority: n,
      retries: n,
      nf: n,
      workers: 'string[]?',
      resources: 'record<number>?',
      fp: 'string?',
      ranks: 'number?',
    },
  },
  register: {
    worker: {
      id: s,
      name: s,
      host: s,
      address: s,
      nthreads: n,
      memoryLimit: n,
      pid: n,
      localDirectory: s,
      resources: 'record<number>?',
      mpi: 'object?',
    },
  },
  'key-erred': { error: { name: s, message: s, code: 'string?', stack: 'string?' } },
  'task-erred': { error: { name: s, message: s, code: 'string?', stack: 'string?' } },
};

/** Nested fields that may be absent as a whole (checked only when present). */
const OPTIONAL_NESTED: Partial<Record<OpType, Record<string, Record<string, FieldType>>>> = {
  'coord-reply': { error: { name: s, message: s, code: 'string?' } },
};

/** Fields of each element of an array of objects. */
const ELEMENTS: Partial<Record<OpType, Record<string, Record<string, FieldType>>>> = {
  compute: { deps: { key: s, who: ss } },
  'acquire-replicas': { deps: { key: s, who: ss } },
};

/** Fields of a function spec, by its kind. */
const SPEC_KINDS: Record<string, Record<string, FieldType>> = {
  source: { source: s, name: s, dir: 'string?' },
  module: { module: s, export: s },
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function hasType(value: unknown, type: FieldType): boolean {
  if (type.endsWith('?')) return value === undefined || hasType(value, type.slice(0, -1) as Base);
  switch (type as Base) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'object':
      return isObject(value);
    case 'string[]':
      return Array.isArray(value) && value.every((v) => typeof v === 'string');
    case 'number[]':
      return Array.isArray(value) && value.every((v) => typeof v === 'number');
    case 'object[]':
      return Array.isArray(value) && value.every(isObject);
    case 'record<number>':
      return (
        isObject(value) &&
        Object.values(value).every((v) => typeof v === 'number' && Number.isFinite(v))
      );
    case 'record<string[]>':
      return isObject(value) && Object.values(value).every((v) => hasType(v, 'string[]'));
  }
  return false;
}

/** A field check, compiled once from its table (decode checks every op of every message). */
interface FieldCheck {
  name: string;
  type: FieldType;
  base: Base;
  optional: boolean;
}

const compiled = new WeakMap<object, FieldCheck[]>();

function checksOf(fields: Record<string, FieldType>): FieldCheck[] {
  let checks = compiled.get(fields);
  if (!checks) {
    checks = Object.entries(fields).map(([name, type]) => {
      const optional = type.endsWith('?');
      return { name, type, optional, base: (optional ? type.slice(0, -1) : type) as Base };
    });
    compiled.set(fields, checks);
  }
  return checks;
}

const NO_ENTRIES: [string, Record<string, FieldType>][] = [];
const entryLists = new WeakMap<object, [string, Record<string, FieldType>][]>();

/** `Object.entries` of a nested-fields table, made once per table. */
function entriesOf(
  table: Record<string, Record<string, FieldType>> | undefined,
): [string, Record<string, FieldType>][] {
  if (table === undefined) return NO_ENTRIES;
  let list = entryLists.get(table);
  if (!list) entryLists.set(table, (list = Object.entries(table)));
  return list;
}

function checkFields(
  obj: Record<string, unknown>,
  fields: Record<string, FieldType>,
  where: string,
): string | null {
  for (const c of checksOf(fields)) {
    const v = obj[c.name];
    if (!((v === undefined && c.optional) || hasType(v, c.base))) {
      return `${where}.${c.name} should be ${c.type}`;
    }
  }
  return null;
}

/** Bounds on numbers a peer sends, so none can make the scheduler loop or allocate without end. */
export const MAX_RETRIES = 1000;
export const MAX_THREADS = 65_536;
/** The most ranks a gang task may ask for. */
export const MAX_RANKS = 1 << 20;

/** Returns null when `op` is well formed, else a short reason. */
export function checkOp(op: unknown): string | null {
  if (typeof op !== 'object' || op === null) return 'op is not an object';
  const rec = op as Record<string, unknown>;
  const t = rec.t;
  if (typeof t !== 'string' || !Object.prototype.hasOwnProperty.call(OP_FIELDS, t)) {
    return `unknown op type ${JSON.stringify(t)}`;
  }
  const type = t as OpType;
  const bad = checkFields(rec, OP_FIELDS[type], type);
  if (bad) return bad;
  for (const [field, fields] of entriesOf(NESTED[type])) {
    const inner = checkFields(rec[field] as Record<string, unknown>, fields, `${type}.${field}`);
    if (inner) return inner;
  }
  for (const [field, fields] of entriesOf(OPTIONAL_NESTED[type])) {
    if (rec[field] === undefined) continue;
    const inner = checkFields(rec[field] as Record<string, unknown>, fields, `${type}.${field}`);
    if (inner) return inner;
  }
  if (type === 'coord' && !(COORD_ACTIONS as readonly string[]).includes(rec.action as string)) {
    return `coord.action should be one of ${COORD_ACTIONS.join(', ')}`;
  }
  for (const [field, fields] of entriesOf(ELEMENTS[type])) {
    const items = rec[field] as Record<string, unknown>[];
    for (let i = 0; i < items.length; i++) {
      const inner = checkFields(items[i], fields, `${type}.${field}[${i}]`);
      if (inner) return inner;
    }
  }
  if (type === 'define-fn') {
    const spec = rec.spec as Record<string, unknown>;
    const fields = SPEC_KINDS[spec.kind as string];
    if (!fields)
      return `define-fn.spec.kind should be one of ${Object.keys(SPEC_KINDS).join(', ')}`;
    const inner = checkFields(spec, fields, 'define-fn.spec');
    if (inner) return inner;
  }
  if (type === 'scattered' || type === 'add-keys') {
    if ((rec.keys as string[]).length !== (rec.nbytes as number[]).length) {
      return `${type}.nbytes should have one entry per key`;
    }
  }
  if ('nf' in rec && (!Number.isInteger(rec.nf) || (rec.nf as number) < 0)) {
    return `${type}.nf should be a non-negative integer`;
  }
  if (type === 'submit') {
    const task = rec.task as Record<string, number>;
    if (!Number.isInteger(task.nf) || task.nf < 0) {
      return 'submit.task.nf should be a non-negative integer';
    }
    if (!Number.isInteger(task.retries) || task.retries < 0 || task.retries > MAX_RETRIES) {
      return `submit.task.retries should be an integer from 0 to ${MAX_RETRIES}`;
    }
    if (
      task.ranks !== undefined &&
      !(Number.isInteger(task.ranks) && task.ranks >= 1 && task.ranks <= MAX_RANKS)
    ) {
      return `submit.task.ranks should be an integer from 1 to ${MAX_RANKS}`;
    }
  }
  if (type === 'compute' && rec.gang !== undefined) {
    const g = rec.gang as Record<string, unknown>;
    const ranks = g.ranks as number[];
    if (
      !hasType(ranks, 'number[]') ||
      ranks.length < 1 ||
      ranks.length > MAX_RANKS ||
      !ranks.every((r) => Number.isInteger(r) && r >= 0) ||
      !Number.isInteger(g.index) ||
      (g.index as number) < 0 ||
      (g.index as number) >= ranks.length
    ) {
      return 'compute.gang should be { ranks: distinct non-negative integers, index: a place in ranks }';
    }
  }
  if (type === 'register') {
    const n = (rec.worker as Record<string, number>).nthreads;
    if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) {
      return `register.worker.nthreads should be an integer from 1 to ${MAX_THREADS}`;
    }
    const mpi = (rec.worker as Record<string, unknown>).mpi as Record<string, unknown> | undefined;
    if (
      mpi !== undefined &&
      !(
        Number.isInteger(mpi.rank) &&
        Number.isInteger(mpi.size) &&
        (mpi.rank as number) >= 0 &&
        (mpi.rank as number) < (mpi.size as number) &&
        typeof mpi.job === 'string'
      )
    ) {
      return 'register.worker.mpi should be { rank, size, job } with 0 <= rank < size';
    }
  }
  return null;
}

/** Frames owned by an op (submit carries them on its task). */
export function framesOf(op: { t: string; nf?: number; task?: { nf: number } }): number {
  if (op.t === 'submit') return op.task?.nf ?? 0;
  return op.nf ?? 0;
}

/** Whether a function definition may be stored: none yet under its id, or the same one. */
export function sameOrNew(had: object | undefined, spec: object): boolean {
  return had === undefined || JSON.stringify(had) === JSON.stringify(spec);
}
