import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const DIST = path.join(ROOT, 'dist');

/** Runs a command and collects its output; resolves on exit, rejects after `timeout` ms. */
export function runCommand(
  command: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not exit in time; stderr: ${stderr}`));
    }, opts.timeout ?? 20_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - start });
    });
  });
}

/** Runs a CLI from dist/ and collects its output; resolves on exit. */
export function runCli(
  script: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeout?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runCommand(process.execPath, [path.join(DIST, script), ...args], {
    env: { ...process.env, ...opts.env },
    timeout: opts.timeout,
  });
}

export interface Started {
  child: ChildProcess;
  output: () => string;
  line: (re: RegExp, timeout?: number) => Promise<string>;
  exited: Promise<number | null>;
}

/** Starts a long-running CLI; `line(re)` waits for matching output. */
export function startCli(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Started {
  return startCommand(process.execPath, [path.join(DIST, script), ...args], env);
}

/** Starts a long-running command (e.g. a CLI under `ip netns exec`); `line(re)` waits for output. */
export function startCommand(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Started {
  const child = spawn(command, args, { env: { ...process.env, ...env } });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const line = (re: RegExp, timeout = 15_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const m = re.exec(out);
        if (m) {
          listeners.delete(check);
          clearTimeout(timer);
          resolve(m[0]);
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`no output matching ${re} in ${timeout} ms; got:\n${out}`));
      }, timeout);
      listeners.add(check);
      check();
    });
  return { child, output: () => out, line, exited };
}

/** A scheduler CLI on loopback without security or dashboard, and its address. */
export async function startPlainScheduler(): Promise<{ sched: Started; address: string }> {
  const sched = startCli('cli/scheduler.js', [
    '--host',
    '127.0.0.1',
    '--no-security',
    '--no-dashboard',
  ]);
  const address = (await sched.line(/tcp:\/\/127\.0\.0\.1:\d+/)).trim();
  return { sched, address };
}
