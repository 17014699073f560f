import { defineConfig } from 'vitest/config';

// Browser tests: headless Debian chromium driven by playwright-core, against a real
// `flagstream serve`. Run after the unit and hook tests (see tests/integration/test_js_client.py).
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.test.js'],
    environment: 'node',
    testTimeout: 90_000,
    hookTimeout: 90_000,
    fileParallelism: false,
  },
});
