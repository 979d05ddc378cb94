/**
 * Jobs must not outlive the client that submitted them: on SIGINT, SIGTERM or exit every live
 * job-queue cluster cancels its jobs (synchronously, before the process goes). Where no one else
 * listens for the signal, it is raised again afterwards, so the process ends as it would have.
 */
const cancellers = new Set<() => void>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function runAll(): void {
  for (const c of [...cancellers]) {
    try {
      c();
    } catch {
      // the process is going: nothing to tell
    }
  }
  cancellers.clear();
}

function onSignal(sig: NodeJS.Signals): void {
  runAll();
  const alone = process.listenerCount(sig) === 1;
  uninstall();
  if (alone) process.kill(process.pid, sig);
}

let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  for (const s of SIGNALS) process.on(s, onSignal);
  process.on('exit', runAll);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  process.removeListener('exit', runAll);
}

/** Runs `cancel` if the process is signalled or exits; the returned function undoes that. */
export function onExitCancel(cancel: () => void): () => void {
  cancellers.add(cancel);
  install();
  return () => {
    cancellers.delete(cancel);
    if (cancellers.size === 0) uninstall();
  };
}
