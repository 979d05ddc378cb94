// The task runtime with no MPI at all: Client.connect() starts a local cluster.
//   node examples/local.js
const { Client } = require('..');

async function main() {
  const client = await Client.connect(); // scheduler here, one worker process per CPU
  const squares = client.map((x) => x * x, [1, 2, 3, 4, 5, 6, 7, 8]);
  const total = client.submit((xs) => xs.reduce((a, b) => a + b, 0), squares);
  console.log('squares:', await client.gather(squares));
  console.log('sum:', await total.result());
  await client.close(); // stops the local cluster it started
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
