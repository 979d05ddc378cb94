/**
 * Every code block of README.md and docs/*.md runs as written (issue 19), so a sample cannot
 * drift from the code. Each block has a note just above it, `<!-- block: kind=... -->`, saying
 * how it runs; a block without one fails here. Kinds:
 * - `node`: a script on its own (js: CommonJS; ts: an ES module, type-checked with `tsc --strict`
 *   first, then run);
 * - `mpirun np=N`: a js script under `mpirun -np N` (Open MPI);
 * - `sh`: bash, in a project where `mpi-cluster` is installed (a link to this checkout) and its
 *   commands are on PATH, with `srun` a stand-in that runs `mpirun -np 3` (real Slurm runs the
 *   same commands from slurm/*.sbatch in test/slurm);
 * - `ci`: the set-up and test commands, which .ci/run runs (this checks it still does);
 * - `test file=...`: run by that test, which reads the block from the README itself;
 * - `typecheck why=...`: checked with `tsc --strict` only, for the reason given;
 * - `output`: shown output or a rendered file, not code (a fence without a language);
 * - `manual why=...`: not run here, for the reason printed.
 * A note may add `env="K=V K2=V2"`, `stdout="REGEX"` (what must be printed) and `stderr="REGEX"`
 * (lines allowed on stderr besides a program's ready line). Everywhere `ib0` and `eth0` become `lo`, and `~` a fresh home. What a block says the user
 * provides (`./tasks`, `train.js`) is a small stand-in written below.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DIST, ROOT, runCommand } from '../helpers/cluster';

interface Block {
  where: string;
  lang: string;
  code: string;
  kind: string;
  attrs: Record<string, string>;
}

const DOCS = [
  'README.md',
  ...fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

function blocksOf(file: string): Block[] {
  const lines = fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const end = lines.indexOf('```', i + 1);
    let j = i - 1;
    while (j >= 0 && lines[j].trim() === '') j--;
    const note = /^<!-- block: (.*) -->$/.exec(lines[j] ?? '');
    const attrs: Record<string, string> = {};
    for (const m of (note?.[1] ?? '').matchAll(/(\w+)=(?:"([^"]*)"|(\S+))/g))
      attrs[m[1]] = m[2] ?? m[3];
    out.push({
      where: `${file}:${i + 1}`,
      lang: open[1],
      code: lines.slice(i + 1, end).join('\n'),
      kind: attrs.kind ?? '(none)',
      attrs,
    });
    i = end;
  }
  return out;
}

const BLOCKS = DOCS.flatMap(blocksOf);
const KINDS = ['node', 'mpirun', 'sh', 'ci', 'test', 'typecheck', 'output', 'manual'];

/** What the user runs on: the interfaces here, a fresh home. */
const localize = (code: string, home: string) =>
  code.replace(/\b(ib0|eth0)\b/g, 'lo').replace(/~\//g, `${home}/`);

// ------------------------------------------------------------------ the user's project

let proj = '';
let home = '';
const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(npm_|MPI_CLUSTER_LOG)/i.test(k)) e[k] = v;
  return {
    ...e,
    HOME: home,
    PATH: `${path.join(proj, 'bin')}:${process.env.PATH}`,
    OMPI_ALLOW_RUN_AS_ROOT: '1',
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
    OMPI_MCA_rmaps_base_oversubscribe: '1',
    // mpirun gives ranks a terminal, where console.log colours numbers.
    NO_COLOR: '1',
    ...extra,
  };
};

const STAND_INS: Record<string, string> = {
  // `fromModule(require.resolve('./tasks'), 'simulate')`: a module of the user's.
  'tasks.js': `exports.simulate = (n) => require('node:crypto').createHash('sha256').update(String(n)).digest('hex').slice(0, 8);\n`,
  // `mpi-init ... train.js` runs it on the client's rank; `trainOnGpu` is the user's function.
  'train.js': `exports.trainOnGpu = function trainOnGpu(shard) {
  return shard + ' on GPU ' + String(process.env.CUDA_VISIBLE_DEVICES).split(',')[0];
};
// Run as a script (mpi-init sets argv[1] to it), not when imported for trainOnGpu.
if (process.argv[1] === __filename) {
  require('mpi-cluster').initialize().then(async (client) => {
    const info = await client.schedulerInfo();
    console.log('WORKERS ' + Object.values(info.workers).map((w) => JSON.stringify(w.resources)).join(' '));
  });
}
`,
};

beforeAll(() => {
  proj = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'readme-blocks-')));
  home = path.join(proj, 'home');
  fs.mkdirSync(home);
  fs.mkdirSync(path.join(proj, 'node_modules'));
  fs.symlinkSync(ROOT, path.join(proj, 'node_modules', 'mpi-cluster'));
  for (const d of ['dist', 'examples', 'slurm'])
    fs.symlinkSync(path.join(ROOT, d), path.join(proj, d));
  // What `npm install` puts on PATH for the package's bin entries.
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
  };
  fs.mkdirSync(path.join(proj, 'bin'));
  for (const [name, file] of Object.entries(pkg.bin)) {
    const shim = path.join(proj, 'bin', name);
    fs.writeFileSync(
      shim,
      `#!/bin/sh\nexec "${process.execPath}" "${path.join(ROOT, file)}" "$@"\n`,
    );
    fs.chmodSync(shim, 0o755);
  }
  // The stand-in for srun (see the header).
  fs.writeFileSync(path.join(proj, 'bin', 'srun'), '#!/bin/sh\nexec mpirun -np 3 "$@"\n');
  fs.chmodSync(path.join(proj, 'bin', 'srun'), 0o755);
  for (const [f, text] of Object.entries(STAND_INS)) fs.writeFileSync(path.join(proj, f), text);
  fs.writeFileSync(path.join(proj, 'package.json'), '{ "name": "readme-user", "private": true }\n');
});
afterAll(() => {
  if (proj) fs.rmSync(proj, { recursive: true, force: true });
});

// ------------------------------------------------------------------ TypeScript blocks

const tsBlocks = BLOCKS.filter((b) => b.lang === 'ts');
const tsFile = (b: Block) => `block-${b.where.replace(/[^\w]+/g, '-')}.mts`;

/** Type-checks every TypeScript block at once (--strict, as ES modules) and emits .mjs files. */
let tscOutput: Promise<string> | null = null;
function typecheck(): Promise<string> {
  tscOutput ??= (async () => {
    for (const b of tsBlocks) fs.writeFileSync(path.join(proj, tsFile(b)), localize(b.code, home));
    fs.writeFileSync(
      path.join(proj, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          allowJs: true,
          outDir: 'out',
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [path.join(ROOT, 'node_modules', '@types')],
        },
        files: tsBlocks.map(tsFile),
      }),
    );
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = await runCommand(process.execPath, [tsc, '-p', proj], { cwd: proj, timeout: 60_000 });
    for (const f of Object.keys(STAND_INS))
      fs.copyFileSync(path.join(proj, f), path.join(proj, 'out', f));
    return r.stdout + r.stderr;
  })();
  return tscOutput;
}

async function typeErrorsOf(b: Block): Promise<string[]> {
  const out = await typecheck();
  return out.split('\n').filter((l) => l.startsWith(tsFile(b)));
}

// ------------------------------------------------------------------ running

async function run(b: Block) {
  const extra = Object.fromEntries(
    (b.attrs.env ?? '')
      .split(' ')
      .filter(Boolean)
      .map((kv) => kv.split('=') as [string, string]),
  );
  const e = env(extra);
  const timeout = 90_000;
  if (b.kind === 'sh') {
    return runCommand('bash', ['-euo', 'pipefail', '-c', localize(b.code, home)], {
      cwd: proj,
      env: e,
      timeout,
    });
  }
  let script: string;
  if (b.lang === 'ts') {
    expect(await typeErrorsOf(b)).toEqual([]);
    script = path.join(proj, 'out', tsFile(b).replace(/\.mts$/, '.mjs'));
  } else {
    script = path.join(proj, `block-${b.where.replace(/[^\w]+/g, '-')}.js`);
    fs.writeFileSync(script, localize(b.code, home));
  }
  if (b.kind === 'mpirun') {
    return runCommand('mpirun', ['-np', b.attrs.np, process.execPath, script], {
      cwd: proj,
      env: e,
      timeout,
    });
  }
  return runCommand(process.execPath, [script], { cwd: proj, env: e, timeout });
}

test('every code block has a note saying how it runs, with a known kind', () => {
  const bad = BLOCKS.filter((b) => !KINDS.includes(b.kind)).map((b) => b.where);
  expect(bad).toEqual([]);
  // Shown output is not code: no language on its fence.
  expect(BLOCKS.filter((b) => b.kind === 'output' && b.lang).map((b) => b.where)).toEqual([]);
  expect(
    BLOCKS.filter((b) => ['node', 'mpirun'].includes(b.kind) && !['js', 'ts'].includes(b.lang)).map(
      (b) => b.where,
    ),
  ).toEqual([]);
});

describe.each(
  BLOCKS.map((b) => [`${b.where} (${b.kind}${b.lang ? `, ${b.lang}` : ''})`, b] as const),
)('%s', (_name, b) => {
  if (b.kind === 'node' || b.kind === 'mpirun' || b.kind === 'sh') {
    test('runs as written', async () => {
      const r = await run(b);
      if (r.code !== 0)
        throw new Error(`exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
      if (b.attrs.stdout) expect(r.stdout).toMatch(new RegExp(b.attrs.stdout, 'm'));
      // Nothing on stderr but what a program says at its default level (that a cluster is
      // ready), and what the block's note allows (a by-hand scheduler's joins, a progress line).
      const allowed = new RegExp(
        ` info: cluster ready: ${b.attrs.stderr ? `|${b.attrs.stderr}` : ''}`,
      );
      expect(r.stderr.split('\n').filter((l) => l && !allowed.test(l))).toEqual([]);
    }, 120_000);
  } else if (b.kind === 'typecheck') {
    test(`type-checks under --strict (not run: ${b.attrs.why})`, async () => {
      expect(b.lang).toBe('ts');
      expect(await typeErrorsOf(b)).toEqual([]);
    }, 90_000);
  } else if (b.kind === 'ci') {
    test('is what .ci/run runs', () => {
      const ci = fs.readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8');
      const commands = ci.split('\n').filter((l) => /^(bash|npm) /.test(l));
      expect(commands).toEqual(['bash scripts/setup.sh', 'npm test']);
      for (const c of commands) expect(b.code).toContain(c);
    });
  } else if (b.kind === 'test') {
    test(`is run by ${b.attrs.file}`, () => {
      expect(fs.readFileSync(path.join(ROOT, b.attrs.file), 'utf8')).toContain('README');
    });
  } else if (b.kind === 'manual') {
    test('is not run here, for a reason', () => {
      expect(b.attrs.why).toBeTruthy();
      console.log(`${b.where}: not run: ${b.attrs.why}`);
    });
  } else if (b.kind === 'output') {
    test('is output, not code', () => expect(b.lang).toBe(''));
  }
});

test('the README blocks use the package as a user installs it, not paths into this checkout', () => {
  const js = BLOCKS.filter((b) => b.lang === 'js' || b.lang === 'ts');
  for (const b of js) expect(b.code).not.toMatch(/require\('\.\.?\/|from '\.\.\//);
  expect(fs.existsSync(path.join(DIST, 'index.js'))).toBe(true);
  expect(spawnSync('mpirun', ['--version']).status).toBe(0);
});
