import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // The client's sources (src/, also served by the app as-is); resolve their bare
    // "react" import to this package's copy so hook and tests share one React.
    dedupe: ['react', 'react-dom'],
  },
  test: {
    include: ['test/**/*.test.js'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // The real-server tests start `flagstream serve` processes; keep the 2-core
    // machine calm by running test files one after another.
    fileParallelism: false,
  },
});
