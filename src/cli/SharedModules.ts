/**
 * The modules a pipeline bundle takes from the running CLI instead of bundling its own copy (see
 * Bundle.js): Effect, Arrow and the engine's public API. Two copies of Effect would mean two
 * runtimes, and two copies of the engine two sets of stage and artifact definitions.
 */
import { fileURLToPath } from "node:url"
import * as arrow from "apache-arrow"
import * as effect from "effect"
import * as engine from "../index.ts"
import { sharedModulesKey } from "./Bundle.js"

/** The engine's source directory: pipeline code may import only its public entry, src/index.ts. */
export const engineDir = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "")

/** Publishes the shared modules on globalThis and returns their names for the bundler. */
export const publishSharedModules = (): Array<string> => {
  const shared: Record<string, object> = { effect, "apache-arrow": arrow, [`${engineDir}/index.ts`]: engine }
  // The barrel's namespaces are the package's top-level modules: `effect/Schema` is `effect.Schema`.
  for (const [name, value] of Object.entries(effect)) {
    if (typeof value === "object" && value !== null) shared[`effect/${name}`] = value
  }
  ;(globalThis as Record<symbol, unknown>)[Symbol.for(sharedModulesKey)] = shared
  return Object.keys(shared)
}
