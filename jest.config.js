/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  testTimeout: 60000,
  // Closes the apps and removes the folders each test opened, even when an assertion failed.
  setupFilesAfterEnv: ['<rootDir>/test/helpers/cleanup-hooks.ts'],
};
