import type { OpType } from './messages';

/**
 * Field checks for every op, used by the decoder so that a malformed or foreign message is
 * dropped at the boundary instead of crashing a handler deep inside.
 */
type FieldType = 'string' | 'number' | 'string[]' | 'number[]' | 'object' | 'object[]';

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
  heartbeat: {},
  shutdown: {},
  bye: {},
  welcome: { schedulerId: s, address: s, nWorkers: n },
  'key-done': { key: s, who: ss, nbytes: n, nf: n },
  'key-erred': { key: s, error: o },
  'key-cancelled': { key: s },
  'key-lost': { key: s },
  'who-has-reply': { req: n, who: o },
  'info-reply': { req: n, info: o },
  'n-workers': { n },
  closing: { reason: s },
  register: { worker: o },
  'task-finished': { key: s, nbytes: n, duration: n, nf: n },
  'task-erred': { key: s, error: o, duration: n },
  'add-keys': { keys: ss, nbytes: 'number[]' },
  'missing-data': { key: s, dep: s, from: s },
  registered: { schedulerId: s },
  compute: { key: s, fn: s, deps: 'object[]', nf: n },
  'free-keys': { keys: ss },
  'cancel-compute': { keys: ss },
  'get-data': { req: n, keys: ss },
  data: { req: n, key: s, nf: n },
  'no-data': { req: n, key: s },
  'data-end': { req: n },
  'put-data': { req: n, key: s, nf: n },
  'put-ack': { req: n, keys: ss },
  ping: { req: n },
  pong: { req: n },
};

const NESTED: Partial<Record<OpType, Record<string, Record<string, FieldType>>>> = {
  'define-fn': { spec: { kind: s } },
  submit: { task: { key: s, fn: s, deps: ss, priority: n, retries: n, nf: n } },
  register: {
    worker: { id: s, name: s, host: s, address: s, nthreads: n, memoryLimit: n, pid: n },
  },
  'key-erred': { error: { name: s, message: s } },
  'task-erred': { error: { name: s, message: s } },
};

function hasType(value: unknown, type: FieldType): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'string[]':
      return Array.isArray(value) && value.every((v) => typeof v === 'string');
    case 'number[]':
      return Array.isArray(value) && value.every((v) => typeof v === 'number');
    case 'object[]':
      return Array.isArray(value) && value.every((v) => typeof v === 'object' && v !== null);
  }
}

function checkFields(
  obj: Record<string, unknown>,
  fields: Record<string, FieldType>,
  where: string,
): string | null {
  for (const [field, type] of Object.entries(fields)) {
    if (!hasType(obj[field], type)) return `${where}.${field} should be ${type}`;
  }
  return null;
}

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
  const nested = NESTED[type];
  if (nested) {
    for (const [field, fields] of Object.entries(nested)) {
      const inner = checkFields(rec[field] as Record<string, unknown>, fields, `${type}.${field}`);
      if (inner) return inner;
    }
  }
  if ('nf' in rec && (!Number.isInteger(rec.nf) || (rec.nf as number) < 0)) {
    return `${type}.nf should be a non-negative integer`;
  }
  if (type === 'submit') {
    const nf = (rec.task as Record<string, unknown>).nf as number;
    if (!Number.isInteger(nf) || nf < 0) return 'submit.task.nf should be a non-negative integer';
  }
  return null;
}

/** Frames owned by an op (submit carries them on its task). */
export function framesOf(op: { t: string; nf?: number; task?: { nf: number } }): number {
  if (op.t === 'submit') return op.task?.nf ?? 0;
  return op.nf ?? 0;
}
