/**
 * Stage configs: `--set instance.key=value` overrides merged into the pipeline's encoded config,
 * decoded by the stage's Schema (defaults applied, unknown keys rejected), then made canonical.
 */
import { Effect, Schema, SchemaIssue } from "effect"
import { externalNames, stageNodes } from "../Pipeline.ts"
import type { PipelineGraph, StageNode } from "../Pipeline.ts"
import { jsonPointer, NotCanonical, toCanonical } from "../key/Canonical.ts"
import type { Json } from "../key/Canonical.ts"

/** A config is invalid; `path` is a JSON pointer starting at the instance name. */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  path: Schema.String,
  message: Schema.String
}) {}

/** One parsed `--set` override. */
export interface Override {
  readonly instance: string
  readonly path: ReadonlyArray<string>
  readonly value: unknown
  readonly text: string
}

/** Parses `instance.key[.sub]=value`; the value is JSON when it parses as JSON, else a string. */
export const parseOverride = (text: string): Effect.Effect<Override, ConfigError> => {
  const eq = text.indexOf("=")
  const lhs = eq === -1 ? "" : text.slice(0, eq)
  const parts = lhs.split(".")
  if (eq === -1 || parts.length < 2 || parts.some((part) => part === "")) {
    return Effect.fail(new ConfigError({ path: text, message: "expected --set instance.key=value" }))
  }
  const raw = text.slice(eq + 1)
  let value: unknown = raw
  try {
    value = JSON.parse(raw)
  } catch {
    // Not JSON: the value is the string itself (so --set a.b=hello needs no quotes).
  }
  return Effect.succeed({ instance: parts[0]!, path: parts.slice(1), value, text })
}

const setPath = (target: unknown, path: ReadonlyArray<string>, value: unknown): unknown => {
  if (path.length === 0) return value
  const base = typeof target === "object" && target !== null && !Array.isArray(target)
    ? target as Record<string, unknown>
    : {}
  const [head, ...rest] = path
  return { ...base, [head!]: setPath(base[head!], rest, value) }
}

const valueAt = (value: unknown, path: ReadonlyArray<PropertyKey>): unknown =>
  path.reduce<unknown>((v, key) => (typeof v === "object" && v !== null ? (v as Record<PropertyKey, unknown>)[key] : undefined), value)

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** A config that has no canonical encoding, as the ConfigError that names its path. */
export const asConfigError = (fallbackPath: string) => (error: unknown): ConfigError =>
  error instanceof NotCanonical
    ? new ConfigError({ path: error.path, message: error.message })
    : new ConfigError({ path: fallbackPath, message: String(error) })

/** A stage node with its decoded and canonical config. */
export interface ConfiguredStage {
  readonly node: StageNode
  readonly config: unknown
  readonly canonical: Json
}

/** Applies overrides and decodes every stage config of the graph. */
export const configure = (
  graph: PipelineGraph,
  overrides: ReadonlyArray<Override>
): Effect.Effect<Map<string, ConfiguredStage>, ConfigError> =>
  Effect.gen(function*() {
    const stages = stageNodes(graph)
    const ids = new Set(stages.map((node) => node.id))
    // A named input's `--set <name>.path=…` was applied when the graph was built.
    const inputs = externalNames(graph)
    for (const override of overrides) {
      if (inputs.has(override.instance)) {
        if (override.path.join(".") !== "path" || typeof override.value !== "string") {
          return yield* new ConfigError({ path: override.text, message: `input "${override.instance}" takes only --set ${override.instance}.path=<path>` })
        }
        continue
      }
      if (!ids.has(override.instance)) {
        const named = inputs.size === 0 ? "" : `; inputs: ${[...inputs].join(", ")}`
        return yield* new ConfigError({
          path: override.text,
          message: `no stage instance "${override.instance}" (instances: ${[...ids].join(", ")}${named})`
        })
      }
    }
    const out = new Map<string, ConfiguredStage>()
    for (const node of stages) {
      let encoded: unknown = node.config
      for (const override of overrides) {
        // `resources` is the executor's (Resources.ts), never the stage's config.
        if (override.instance === node.id && override.path[0] !== "resources") encoded = setPath(encoded, override.path, override.value)
      }
      const schema = node.stage.config as Schema.Codec<unknown, unknown>
      const decoded = yield* Schema.decodeUnknownEffect(schema)(encoded, {
        onExcessProperty: "error",
        errors: "all"
      }).pipe(
        Effect.mapError((error) => {
          const issue = formatter(error.issue).issues[0]
          const path = (issue?.path ?? []).map((segment) =>
            typeof segment === "object" ? String(segment.key) : String(segment)
          )
          const got = valueAt(encoded, path)
          const shown = got === undefined ? "" : `, got ${JSON.stringify(got) ?? String(got)}`
          return new ConfigError({
            path: jsonPointer([node.id, ...path]),
            message: `${issue?.message ?? error.message}${shown}`
          })
        })
      )
      const keyed = { ...(decoded as Record<string, unknown>) }
      for (const field of node.stage.unkeyed ?? []) delete keyed[field]
      const canonical = yield* Effect.try({ try: () => toCanonical(keyed, [node.id]), catch: asConfigError(`/${node.id}`) })
      out.set(node.id, { node, config: decoded, canonical })
    }
    return out
  })
