import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Parity tests start a Python oracle and end-to-end tests spawn the CLI: both take seconds.
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Two vCPUs share one physical core: more forks only thrash.
    maxWorkers: 2
  }
})
