#!/usr/bin/env node
// @ts-check
// The CLI runs as one bundle of src/ (see src/cli/Bundle.js): Node 20 neither runs TypeScript nor
// loads hundreds of small modules quickly. The bundle is rebuilt whenever a source file changes.
import { fileURLToPath } from "node:url"
import { buildMessage, bundle, runBundle } from "../src/cli/Bundle.js"

const main = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
let cli
try {
  cli = await bundle(main)
} catch (error) {
  // An engine source that does not compile, or a cache directory that cannot be written.
  const first = buildMessage(error)
  const at = first?.location
  const where = at ? `${at.file}:${at.line}:${at.column + 1}: ` : ""
  process.stderr.write(`error: ${where}${first?.text ?? (error instanceof Error ? error.message : String(error))}\n`)
  process.exit(1)
}
runBundle(cli, main)
