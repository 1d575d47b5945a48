#!/usr/bin/env node
// @ts-check
// The CLI runs as one bundle of src/ (see src/cli/Bundle.js): Node 20 neither runs TypeScript nor
// loads hundreds of small modules quickly. The bundle is rebuilt whenever a source file changes.
import { fileURLToPath } from "node:url"
import { runBundled } from "../src/cli/Bundle.js"

try {
  await runBundled(fileURLToPath(new URL("../src/cli/main.ts", import.meta.url)))
} catch (error) {
  // Only a broken engine source gets here; the CLI reports everything else itself.
  const first = /** @type {{ errors?: Array<import("esbuild").Message> }} */ (error).errors?.[0]
  if (first === undefined) throw error
  const at = first.location
  process.stderr.write(`error: ${at ? `${at.file}:${at.line}:${at.column + 1}: ` : ""}${first.text}\n`)
  process.exitCode = 1
}
