import { OptionError } from '../../src';
import { sharedCluster } from '../helpers/shared-cluster';

/**
 * Gang tasks (issue 21) need workers that are MPI ranks of one job. A LocalCluster's workers are
 * not: `ranks` there is a coded error that says which clusters can run gangs, and the cluster
 * goes on serving ordinary tasks. (The gangs themselves run under mpirun: test/bootstrap/gangs.)
 */
const shared = sharedCluster({ nWorkers: 2, dashboardAddress: false });

test('ranks on a LocalCluster: ERR_GANG_NO_MPI naming the clusters that run gangs', async () => {
  const { client } = shared;
  const f = client.submitWith({ ranks: 2 }, (comm) => comm.rank);
  await expect(f.result()).rejects.toMatchObject({
    code: 'ERR_GANG_NO_MPI',
    message: expect.stringMatching(/initialize\(\).*mpi-init/),
  });
  expect(await client.submit((x: number) => x + 1, 1).result()).toBe(2);
});

test.each([0, -1, 1.5, '2'])('ranks: %p is refused at once with an OptionError', (ranks) => {
  expect(() => shared.client.submitWith({ ranks } as never, () => 1)).toThrow(OptionError);
  expect(() => shared.client.submitWith({ ranks } as never, () => 1)).toThrow(
    /options\.ranks must be an integer from 1/,
  );
});
