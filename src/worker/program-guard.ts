/**
 * `node program-guard.js <launcher> [args...]`: runs an mpiProgram's launcher (srun, mpirun) in a
 * process group of its own and ends that group when its stdin closes.
 *
 * The task thread that starts a program can be terminated at any moment (a cancelled task) and
 * runs no code when it is, nor does a worker killed with SIGKILL; but either way the thread's end
 * of this process's stdin closes, which is the one signal that always comes. The launcher's output
 * goes straight to this process's stdout and stderr (the task's pipes); how it ended goes to fd 3
 * as one JSON line { code, signal } or { error }.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';

/** After SIGTERM, how long the launcher has to take its ranks down before SIGKILL. */
const GRACE_MS = 5000;

function report(status: object): void {
  try {
    fs.writeSync(3, `${JSON.stringify(status)}\n`);
  } catch {
    // the task is gone: nobody to tell
  }
}

function main(): void {
  const [command, ...args] = process.argv.slice(2);
  const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
  let stopping = false;
  const stop = (): void => {
    if (stopping || child.exitCode !== null || child.signalCode !== null) return;
    stopping = true;
    const signal = (s: NodeJS.Signals): void => {
      try {
        process.kill(-(child.pid as number), s);
      } catch {
        // already gone
      }
    };
    signal('SIGTERM');
    setTimeout(() => signal('SIGKILL'), GRACE_MS).unref();
  };
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
  child.on('error', (err) => {
    report({ error: err.message });
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    report({ code, signal });
    process.exit(0);
  });
}

main();
