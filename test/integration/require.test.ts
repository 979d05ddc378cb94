import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fnSpecOf } from '../../src/client/fnspec';
import { DIST, ROOT, runCommand } from '../helpers/cluster';

/**
 * `require` inside a task resolves from the script that submitted it (its files, its project's
 * node_modules), both from a checkout and from a project that installed the packed tarball the
 * way the README says.
 */
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'require');
const temps: string[] = [];

afterAll(() => {
  for (const dir of temps) fs.rmSync(dir, { recursive: true, force: true });
});

/** A directory outside the repository, resolved (os.tmpdir() may be a link). */
function tempDir(prefix: string): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  temps.push(dir);
  return dir;
}

/** A user's script and helper file, with tiny-pkg in its own node_modules. */
function userProject(dir: string): void {
  for (const f of ['script.js', 'helper.js', 'spec-of.js']) {
    fs.copyFileSync(path.join(FIXTURES, f), path.join(dir, f));
  }
  fs.cpSync(path.join(FIXTURES, 'tiny-pkg'), path.join(dir, 'node_modules', 'tiny-pkg'), {
    recursive: true,
  });
}

// Children must not inherit `npm run`'s settings (npm_config_*, npm_lifecycle_*).
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, npm_config_update_notifier: 'false', ...extra };
}

/** A command with npm's own settings kept out of its environment. */
const run = (
  command: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; timeout: number },
) => runCommand(command, args, { ...opts, env: cleanEnv(opts.env) });

interface ScriptOutput {
  value: number;
  where: string;
  failure: { code: string; remoteCode: string; message: string; stack: string } | null;
}

function parseOutput(r: { code: number | null; stdout: string; stderr: string }): ScriptOutput {
  if (r.code !== 0) throw new Error(`script exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ScriptOutput;
}

function expectUserResolution(out: ScriptOutput, dir: string): void {
  expect(out.value).toBe(2 * 21 + 1000);
  expect(out.where.startsWith(dir + path.sep)).toBe(true);
  expect(out.failure).toMatchObject({ code: 'ERR_TASK_FAILED', remoteCode: 'ERR_TASK_REQUIRE' });
  const { message, stack } = out.failure!;
  expect(message).toContain('needsMissing');
  expect(message).toContain('./no-such-helper');
  expect(message).toContain(dir);
  // The stack shows the task, not the runtime's own files.
  expect(stack).toMatch(/at needsMissing \(/);
  expect(stack).not.toMatch(/[\\/]dist[\\/]worker[\\/]|[\\/]src[\\/]worker[\\/]|node:internal/);
}

test('the function id includes where it was submitted from', () => {
  const a = tempDir('mpi-cluster-spec-a-');
  const b = tempDir('mpi-cluster-spec-b-');
  for (const dir of [a, b]) fs.copyFileSync(path.join(FIXTURES, 'spec-of.js'), `${dir}/spec-of.js`);
  const specOf = (dir: string) =>
    (require(path.join(dir, 'spec-of.js')) as (f: typeof fnSpecOf) => ReturnType<typeof fnSpecOf>)(
      fnSpecOf,
    );
  const [sa, sb] = [specOf(a), specOf(b)];
  expect(sa.spec).toMatchObject({ kind: 'source', dir: a });
  expect(sb.spec).toMatchObject({ kind: 'source', dir: b });
  expect(sa.spec.kind === 'source' && sb.spec.kind === 'source' && sa.spec.source).toBe(
    sb.spec.kind === 'source' && sb.spec.source,
  );
  expect(sa.id).not.toBe(sb.id);
  // Called from this file: this directory. A function that never calls require has no directory.
  expect(fnSpecOf((x: number) => require('node:path').join(String(x))).spec).toMatchObject({
    dir: __dirname,
  });
  expect(fnSpecOf((x: number) => x + 1).spec).not.toHaveProperty('dir');
});

test('require in a task resolves from the submitting script: its files and its node_modules', async () => {
  const dir = tempDir('mpi-cluster-require-');
  userProject(dir);
  // Run from elsewhere: resolution must not depend on the working directory.
  const out = parseOutput(
    await run(process.execPath, [path.join(dir, 'script.js')], {
      cwd: os.tmpdir(),
      env: { MPI_CLUSTER_MODULE: DIST },
      timeout: 30_000,
    }),
  );
  expectUserResolution(out, dir);
}, 40_000);

test('installed from the packed tarball as the README says, in a fresh project', async () => {
  const version = (
    JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  const tarball = `mpi-cluster-${version}.tgz`;
  // The README's section shows these very commands.
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Using it from your own project'));
  expect(section).toMatch(/^npm pack\b/m);
  expect(section).toContain(`npm install /path/to/mpi-cluster/${tarball}`);

  expect(fs.existsSync(path.join(DIST, 'index.js'))).toBe(true); // npm run build:ts first
  const work = tempDir('mpi-cluster-install-');
  const started = Date.now();
  // --ignore-scripts: dist/ is already built (`prepare` would rebuild it in the shared tree).
  const pack = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', work], {
    cwd: ROOT,
    timeout: 30_000,
  });
  expect(pack).toMatchObject({ code: 0 });
  expect(fs.existsSync(path.join(work, tarball))).toBe(true);

  const proj = path.join(work, 'user-project');
  fs.mkdirSync(proj);
  fs.writeFileSync(
    path.join(proj, 'package.json'),
    JSON.stringify({ name: 'user-project', version: '1.0.0', private: true }, null, 2),
  );
  for (const f of ['script.js', 'helper.js']) {
    fs.copyFileSync(path.join(FIXTURES, f), path.join(proj, f));
  }
  fs.cpSync(path.join(FIXTURES, 'tiny-pkg'), path.join(proj, 'tiny-pkg'), { recursive: true });
  const args = ['install', '--no-audit', '--no-fund', path.join(work, tarball), './tiny-pkg'];
  let install = await run('npm', [...args, '--offline'], { cwd: proj, timeout: 45_000 });
  let mode = 'offline';
  if (install.code !== 0 && /ENOTCACHED/.test(install.stderr)) {
    // A cache filled by `npm ci` holds the dependencies' tarballs but not always their registry
    // metadata, which resolving a tarball's version ranges needs: fetch only what is missing.
    mode = 'prefer-offline';
    install = await run('npm', [...args, '--prefer-offline'], { cwd: proj, timeout: 45_000 });
  }
  if (install.code !== 0) throw new Error(`npm install failed:\n${install.stderr}`);
  expect(fs.realpathSync(path.join(proj, 'node_modules', 'mpi-cluster'))).toBe(
    path.join(proj, 'node_modules', 'mpi-cluster'), // a copy, not a link to the checkout
  );

  const script = await run(process.execPath, ['script.js'], { cwd: proj, timeout: 30_000 });
  expectUserResolution(parseOutput(script), proj);

  // ES modules reach the public entry points through the exports map.
  fs.writeFileSync(
    path.join(proj, 'esm.mjs'),
    `import { Client, connect } from 'mpi-cluster';
import { MPI } from 'mpi-cluster/mpi';
import { MPI as Same } from 'mpi-cluster/dist/mpi';
console.log(JSON.stringify([typeof Client.connect, typeof connect, typeof MPI.init, Same === MPI]));
`,
  );
  const esm = await run(process.execPath, ['esm.mjs'], { cwd: proj, timeout: 30_000 });
  expect(esm.stdout.trim()).toBe('["function","function","function",true]');
  // The installed types, under tsc --strict, in an ES module and in CommonJS.
  fs.writeFileSync(
    path.join(proj, 'typed.mts'),
    `import { initialize } from 'mpi-cluster';
import { MPI } from 'mpi-cluster/mpi';
const client = await initialize({ interface: 'ib0' });
console.log(client.address, MPI.initialized());
`,
  );
  fs.writeFileSync(
    path.join(proj, 'typed.cts'),
    `import { Client } from 'mpi-cluster';
export async function main(): Promise<number[]> {
  const client = await Client.connect();
  return client.gather(client.map((x: number) => x * x, [1, 2]));
}
`,
  );
  const tsc = await run(
    process.execPath,
    [
      path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      '--strict',
      '--noEmit',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--types',
      'node',
      '--typeRoots',
      path.join(ROOT, 'node_modules', '@types'),
      'typed.mts',
      'typed.cts',
    ],
    { cwd: proj, timeout: 60_000 },
  );
  expect(tsc.stdout + tsc.stderr).toBe('');
  console.log(
    `install test: pack ${pack.ms} ms, npm install (${mode}) ${install.ms} ms, ` +
      `script ${script.ms} ms, total ${Date.now() - started} ms`,
  );
}, 120_000);
