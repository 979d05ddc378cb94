/**
 * mpirun across the emulated hosts, no Slurm (issue 5, item 7): Open MPI's rsh launcher starts
 * the ranks "on" hosts mh1..mh3 (network namespaces whose only link is ib0) and the script's
 * initialize({ interface: 'ib0' }) builds the cluster there.
 */
import * as path from 'node:path';
import { describeLab, run, ROOT, TESTBED, type Lab } from '../slurm/lab';

const SCRIPT = path.join(ROOT, 'test', 'slurm', 'fixtures', 'ib0-squares.js');
const SQUARES = Array.from({ length: 16 }, (_, i) => i * i).join(' ');

describeLab(
  'mpirun across 3 hosts with initialize({ interface: "ib0" })',
  { prefix: 'mh', index: 6, nodes: 3, slurm: false, mpi: true },
  (lab: Lab) => {
    test('6 ranks on 3 hosts: right results, traffic on ib0, exit 0', async () => {
      const before = lab.counters();
      // mpirun itself runs on the first host; ib0 exists only inside the namespaces.
      const r = await run(
        path.join(TESTBED, 'nsrun'),
        [
          lab.hosts[0],
          'mpirun',
          '--mca',
          'plm_rsh_agent',
          path.join(TESTBED, 'rsh-netns'),
          '--mca',
          'oob_tcp_if_include',
          'ib0',
          '--mca',
          'btl_tcp_if_include',
          'ib0',
          '--bind-to',
          'none',
          '-np',
          '6',
          '--hostfile',
          path.join(lab.dir, 'net', 'hostfile'),
          process.execPath,
          SCRIPT,
        ],
        { ...lab.env, PAYLOAD_MB: '8' },
        60_000,
      );
      const show = `mpirun exited ${r.code}; output:\n${r.out}`;
      expect({ code: r.code, show }).toEqual({ code: 0, show });
      expect(r.out).toContain(`SQUARES ${SQUARES}\n`);
      expect(r.out).toContain(`BYTES ${8 << 20}\n`);
      const [a1, a2, a3] = lab.addresses;
      expect(r.out).toMatch(new RegExp(`^SCHEDULER tcp://${a1}:\\d+$`, 'm'));
      const workers = [...r.out.matchAll(/^WORKER (\S+) (\S+) (\S+)$/gm)].map((m) => ({
        name: m[1],
        host: m[2],
        address: m[3],
      }));
      expect(workers.map((w) => w.name).sort()).toEqual(['2', '3', '4', '5']);
      for (const w of workers) expect(w.address).toMatch(new RegExp(`^tcp://(${a2}|${a3}):\\d+$`));
      const after = lab.counters();
      const [h1, h2, h3] = lab.hosts;
      expect(after[h2].tx - before[h2].tx).toBeGreaterThan(2 << 20);
      expect(after[h3].tx - before[h3].tx).toBeGreaterThan(2 << 20);
      expect(after[h1].rx - before[h1].rx).toBeGreaterThan(8 << 20);
    }, 90_000);
  },
);
