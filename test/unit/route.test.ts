import { ClusterError } from '../../src/errors';
import {
  describeHostChoice,
  primaryAddress,
  routeTo,
  schedulerTarget,
  workerHost,
} from '../../src/net';

// routeTo connects a UDP socket to read the kernel's route: a local lookup, no packet is sent.

test.each([
  ['tcp://10.0.0.5:40123', { kind: 'tcp', host: '10.0.0.5', port: 40123 }],
  ['tcp://node07.cluster:40123', { kind: 'tcp', host: 'node07.cluster', port: 40123 }],
  ['inproc://scheduler-1', { kind: 'here' }],
  ['ipc:///tmp/sched.sock', { kind: 'here' }],
])('scheduler address %p leads to %p', (address, target) => {
  expect(schedulerTarget(address)).toEqual(target);
});

test.each([
  'nowhere',
  'tcp://10.0.0.5',
  'tcp://10.0.0.5:0',
  'tcp://10.0.0.5:70000',
  'tcp://*:40123',
  'tcp://[::1]:40123',
  'udp://10.0.0.5:40123',
])('scheduler address %p has no route: ERR_NO_ROUTE naming it', (address) => {
  expect(() => schedulerTarget(address)).toThrow(
    expect.objectContaining({ code: 'ERR_NO_ROUTE', message: expect.stringContaining(address) }),
  );
});

test('a scheduler on loopback is reached from 127.0.0.1', async () => {
  await expect(routeTo('tcp://127.0.0.1:40123')).resolves.toBe('127.0.0.1');
});

test('inproc:// and ipc:// schedulers are on this host: loopback', async () => {
  await expect(routeTo('inproc://scheduler')).resolves.toBe('127.0.0.1');
  await expect(routeTo('ipc:///tmp/s.sock')).resolves.toBe('127.0.0.1');
});

test('a scheduler host that does not resolve rejects with ERR_NO_ROUTE', async () => {
  // .invalid never resolves (RFC 2606).
  await expect(routeTo('tcp://no-such-host.invalid:40123')).rejects.toMatchObject({
    code: 'ERR_NO_ROUTE',
  });
});

test('a worker without host, interface or local serves on the address that routes to the scheduler', async () => {
  const choice = await workerHost({ scheduler: 'tcp://127.0.0.1:40123' });
  expect(choice).toEqual({ host: '127.0.0.1', how: 'route' });
  expect(describeHostChoice('w1', 'tcp://127.0.0.1:40123', choice)).toEqual({
    level: 'info',
    message:
      'worker w1: serving on 127.0.0.1, the address that routes to the scheduler at tcp://127.0.0.1:40123',
  });
});

test('host, interface and local win over the route, and say nothing', async () => {
  const route = jest.fn(async () => '10.9.9.9');
  const s = 'tcp://10.0.0.5:40123';
  const given = await workerHost({ scheduler: s, host: '10.1.1.1', interface: 'lo' }, route);
  expect(given).toEqual({ host: '10.1.1.1', how: 'host' });
  expect(await workerHost({ scheduler: s, interface: 'lo' }, route)).toEqual({
    host: '127.0.0.1',
    how: 'interface',
  });
  expect(await workerHost({ scheduler: s, local: true }, route)).toEqual({
    host: '127.0.0.1',
    how: 'local',
  });
  expect(route).not.toHaveBeenCalled();
  expect(describeHostChoice('w1', s, given)).toBeNull();
});

test('an unknown interface is still ERR_INTERFACE_NOT_FOUND, not a fallback', async () => {
  await expect(
    workerHost({ scheduler: 'tcp://127.0.0.1:1', interface: 'nosuch0' }),
  ).rejects.toMatchObject({ code: 'ERR_INTERFACE_NOT_FOUND' });
});

test('a bad scheduler address falls back to the primary address, with a warning saying why', async () => {
  const choice = await workerHost({ scheduler: 'tcp://[::1]:40123' });
  expect(choice).toMatchObject({
    host: primaryAddress(),
    how: 'primary',
    error: { code: 'ERR_NO_ROUTE' },
  });
  const said = describeHostChoice('w1', 'tcp://[::1]:40123', choice);
  expect(said?.level).toBe('warn');
  expect(said?.message).toMatch(
    /^worker w1: serving on .*primary address.*\[ERR_NO_ROUTE\].*tcp:\/\/\[::1\]:40123.*--interface or --host/,
  );
});

test('a route that fails (no route to host) falls back to the primary address with ERR_NO_ROUTE', async () => {
  const unreachable = Object.assign(new Error('connect ENETUNREACH 10.0.0.5:40123'), {
    code: 'ENETUNREACH',
  });
  const choice = await workerHost({ scheduler: 'tcp://10.0.0.5:40123' }, async () => {
    throw unreachable;
  });
  expect(choice.host).toBe(primaryAddress());
  expect(choice.error).toBeInstanceOf(ClusterError);
  expect(choice.error).toMatchObject({
    code: 'ERR_NO_ROUTE',
    message: expect.stringContaining('ENETUNREACH'),
    cause: unreachable,
  });
});
