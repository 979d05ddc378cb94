/**
 * The child process of a client's rank that runs that rank's scheduler and/or worker (roles.ts).
 * It takes one RoleSpec over IPC, answers ready (with the scheduler's address and keys) or
 * failed, and ends when its roles have stopped or its parent has gone (the IPC channel closed).
 */
import { log } from '../log';
import { startHere, type RoleSpec } from './roles';

process.once('message', (spec: RoleSpec) => {
  startHere(spec).then(
    (started) => {
      const join = started.join && {
        address: started.join.address,
        keys: started.join.security || null,
      };
      process.send!({ t: 'ready', join });
      process.once('disconnect', () => {
        void started.close('its MPI rank ended');
      });
      void started.closed.then(() => process.exit(0));
    },
    (err: { code?: string; message?: string }) => {
      log.error(`rank's role process: ${err.message ?? String(err)}`);
      process.send!({ t: 'failed', code: err.code, message: err.message ?? String(err) }, () =>
        process.exit(1),
      );
    },
  );
});
