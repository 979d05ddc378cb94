import { Client, LocalCluster, type LocalClusterOptions } from '../../src';

/**
 * One LocalCluster and client for every test of a file: started before the first, closed after
 * the last. Read `.cluster` and `.client` inside tests.
 */
export function sharedCluster(options: LocalClusterOptions): {
  cluster: LocalCluster;
  client: Client;
} {
  const shared = {} as { cluster: LocalCluster; client: Client };
  beforeAll(async () => {
    shared.cluster = await LocalCluster.start(options);
    shared.client = await Client.connect(shared.cluster);
  });
  afterAll(async () => {
    await shared.client.close();
    await shared.cluster.close();
  });
  return shared;
}
