'use strict';
// The bench's MPI job: launch, 16 no-op tasks, exit. Prints READY and END with timestamps.
const { initialize } = require('../dist');

async function main() {
  const client = await initialize({ interface: 'lo' });
  process.stdout.write(`READY ${Date.now()}\n`);
  const r = await client.gather(
    client.map(
      (x) => x,
      Array.from({ length: 16 }, (_, i) => i),
    ),
  );
  if (r.length !== 16) throw new Error('wrong results');
  process.stdout.write(`END ${Date.now()}\n`);
}

main();
