/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  testTimeout: 60000,
  // Integration tests start real processes; two cores do not want them all at once.
  maxWorkers: 2,
  // A test process that grew past this (the million-task tests) is replaced before the next
  // file, so a later file does not run out of memory in it.
  workerIdleMemoryLimit: '1GB',
  reporters: ['default', '<rootDir>/test/helpers/summary-reporter.js'],
};
