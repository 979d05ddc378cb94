import type * as acorn from 'acorn';

/**
 * Finds the names a function's source refers to but does not define itself: free variables that
 * would be undefined on a worker. Globals of the runtime (Math, Buffer, require, ...) are fine.
 */
type Node = acorn.Node & Record<string, unknown>;

/** TypeScript's CommonJS output calls these for `import()`; workers provide them (functions.ts). */
export const TS_HELPERS = ['__importStar', '__importDefault'];
const EXTRA_GLOBALS = ['require', 'arguments', 'undefined', ...TS_HELPERS];

let globalNames: Set<string> | undefined;
function isGlobal(name: string): boolean {
  globalNames ??= new Set([...Object.getOwnPropertyNames(globalThis), ...EXTRA_GLOBALS]);
  return globalNames.has(name);
}

/** Parses a function's `toString()` as an expression (also method shorthand). */
export function parseFunction(source: string): Node {
  // Loaded on first use: worker and scheduler ranks never parse functions.
  const { parse } = require('acorn') as typeof acorn;
  const opts: acorn.Options = {
    ecmaVersion: 'latest',
    sourceType: 'script',
    allowAwaitOutsideFunction: true,
  };
  try {
    const prog = parse(`(${source})`, opts) as unknown as Node;
    return ((prog.body as Node[])[0] as Node).expression as Node;
  } catch {
    const prog = parse(`({ ${source} })`, opts) as unknown as Node;
    const obj = ((prog.body as Node[])[0] as Node).expression as Node;
    return ((obj.properties as Node[])[0] as Node).value as Node;
  }
}

function declare(pattern: Node | null, into: Set<string>): void {
  if (!pattern) return;
  switch (pattern.type) {
    case 'Identifier':
      into.add(pattern.name as string);
      return;
    case 'ObjectPattern':
      for (const p of pattern.properties as Node[])
        declare((p.type === 'RestElement' ? p.argument : p.value) as Node, into);
      return;
    case 'ArrayPattern':
      for (const e of pattern.elements as (Node | null)[]) declare(e, into);
      return;
    case 'RestElement':
      declare(pattern.argument as Node, into);
      return;
    case 'AssignmentPattern':
      declare(pattern.left as Node, into);
      return;
  }
}

/** Names declared anywhere inside a function body (var, let, const, function, class). */
function collectDeclarations(node: Node, into: Set<string>, top: boolean): void {
  if (!node || typeof node.type !== 'string') return;
  const isFn = /Function/.test(node.type);
  if (isFn && !top) {
    if (node.type === 'FunctionDeclaration' && node.id) into.add((node.id as Node).name as string);
    return;
  }
  if (node.type === 'VariableDeclarator') declare(node.id as Node, into);
  if (node.type === 'ClassDeclaration' && node.id) into.add((node.id as Node).name as string);
  if (node.type === 'CatchClause' && node.param) declare(node.param as Node, into);
  for (const key of Object.keys(node)) {
    if (key === 'type' || key === 'start' || key === 'end') continue;
    const v = node[key];
    if (Array.isArray(v)) for (const c of v) collectDeclarations(c as Node, into, false);
    else if (v && typeof v === 'object' && typeof (v as Node).type === 'string')
      collectDeclarations(v as Node, into, false);
  }
}

function scopeOf(fn: Node): Set<string> {
  const names = new Set<string>();
  for (const p of fn.params as Node[]) declare(p, names);
  if (fn.id) names.add((fn.id as Node).name as string);
  collectDeclarations(fn.body as Node, names, false);
  if (fn.type === 'ClassExpression' || fn.type === 'ClassDeclaration') return names;
  return names;
}

/** Free variables of the function whose source is given, in order of first use. */
export function freeVariables(source: string): string[] {
  const root = parseFunction(source);
  const free: string[] = [];
  const seen = new Set<string>();
  const visit = (node: Node, scopes: Set<string>[], parent: Node | null, key: string): void => {
    if (!node || typeof node.type !== 'string') return;
    if (/Function/.test(node.type)) {
      scopes = [...scopes, scopeOf(node)];
    } else if (node.type === 'CatchClause' && node.param) {
      const s = new Set<string>();
      declare(node.param as Node, s);
      scopes = [...scopes, s];
    } else if (node.type === 'ClassExpression' && node.id) {
      scopes = [...scopes, new Set([(node.id as Node).name as string])];
    }
    if (node.type === 'Identifier' && isReference(parent, key)) {
      const name = node.name as string;
      if (!scopes.some((s) => s.has(name)) && !isGlobal(name) && !seen.has(name)) {
        seen.add(name);
        free.push(name);
      }
    }
    for (const k of Object.keys(node)) {
      if (k === 'type' || k === 'start' || k === 'end') continue;
      const v = node[k];
      if (Array.isArray(v)) for (const c of v) visit(c as Node, scopes, node, k);
      else if (v && typeof v === 'object' && typeof (v as Node).type === 'string')
        visit(v as Node, scopes, node, k);
    }
  };
  visit(root, [], null, '');
  return free;
}

/** Whether an Identifier in `parent[key]` reads a variable (not a property name or label). */
function isReference(parent: Node | null, key: string): boolean {
  if (!parent) return true;
  switch (parent.type) {
    case 'MemberExpression':
      return key === 'object' || parent.computed === true;
    case 'Property':
    case 'PropertyDefinition':
    case 'MethodDefinition':
      return key === 'value' || (key === 'key' && parent.computed === true);
    case 'LabeledStatement':
    case 'BreakStatement':
    case 'ContinueStatement':
      return false;
    case 'MetaProperty':
      return false;
    case 'FunctionExpression':
    case 'FunctionDeclaration':
    case 'ArrowFunctionExpression':
    case 'ClassExpression':
    case 'ClassDeclaration':
      return key === 'body';
    case 'VariableDeclarator':
      return key === 'init';
    case 'CatchClause':
      return key !== 'param';
    case 'ExportSpecifier':
    case 'ImportSpecifier':
      return false;
    default:
      return true;
  }
}
