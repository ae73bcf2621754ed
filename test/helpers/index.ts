/** The integration-test harness: real programs on loopback, cleaned up per test. */
export * from './files.js';
export * from './keys.js';
export * from './ports.js';
export * from './proc.js';
export * from './proxy.js';
export * from './reaper.js';
export * from './run.js';
export * from './scope.js';
export * from './ssh.js';
export * from './sshd.js';
export * from './tmp.js';
export * from './wait.js';
