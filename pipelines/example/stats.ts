/**
 * Counting stages of the example pipeline: word frequencies, the top of the vocabulary, document
 * length statistics, a text report, and the corpus written as a directory of shards.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { Effect, Schema } from "effect"
import { Blob, defineStage, Files, StageFailure, Table, tableFrom, withDefault } from "../../src/index.ts"
import { countsSchema, documentsSchema, wordsSchema } from "./schemas.ts"

const byCountThenWord = (a: [string, number], b: [string, number]) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)

/** Word frequencies, most frequent first (ties by word, so the order is deterministic). */
export const count = defineStage({
  name: "count",
  module: import.meta.url,
  reads: [],
  config: Schema.Struct({}),
  inputs: { words: Table(wordsSchema) },
  outputs: { counts: Table(countsSchema) },
  run: (ctx) =>
    Effect.sync(() => {
      const counts = new Map<string, number>()
      for (const word of ctx.inputs.words.getChild("word")!) counts.set(String(word), (counts.get(String(word)) ?? 0) + 1)
      const sorted = [...counts.entries()].sort(byCountThenWord)
      const table = tableFrom(countsSchema, { word: sorted.map(([w]) => w), count: sorted.map(([, c]) => c) })
      return { outputs: { counts: table }, metrics: { vocabulary: sorted.length } }
    })
})

/** The `size` most frequent words. */
export const top = defineStage({
  name: "top",
  module: import.meta.url,
  reads: [],
  config: Schema.Struct({ size: Schema.Int.pipe(withDefault(20)) }),
  inputs: { counts: Table(countsSchema) },
  outputs: { top: Table(countsSchema) },
  run: (ctx) => Effect.sync(() => ({ outputs: { top: ctx.inputs.counts.slice(0, ctx.config.size) } }))
})

/** Document length statistics as JSON. */
export const lengths = defineStage({
  name: "lengths",
  module: import.meta.url,
  reads: [],
  config: Schema.Struct({}),
  inputs: { documents: Table(documentsSchema) },
  outputs: { stats: Blob() },
  run: (ctx) =>
    Effect.sync(() => {
      const sizes = [...ctx.inputs.documents.getChild("text")!].map((text) => String(text).length).sort((a, b) => a - b)
      const mean = sizes.reduce((s, n) => s + n, 0) / Math.max(1, sizes.length)
      const stats = { documents: sizes.length, mean, median: sizes[Math.floor(sizes.length / 2)] ?? 0 }
      return { outputs: { stats: new TextEncoder().encode(JSON.stringify(stats) + "\n") }, metrics: { meanLength: mean } }
    })
})

/** A plain-text report of the top words and the length statistics. */
export const report = defineStage({
  name: "report",
  module: import.meta.url,
  reads: [],
  config: Schema.Struct({}),
  inputs: { top: Table(countsSchema), stats: Blob() },
  outputs: { report: Blob() },
  run: (ctx) =>
    Effect.tryPromise({
      try: async () => {
        const stats = await readFile(ctx.inputs.stats.path, "utf8")
        const words = [...ctx.inputs.top.getChild("word")!]
        const counts = [...ctx.inputs.top.getChild("count")!]
        const lines = words.map((word, i) => `${String(i + 1).padStart(3)}. ${word} ${counts[i]}`)
        return { outputs: { report: new TextEncoder().encode(`lengths: ${stats}top words:\n${lines.join("\n")}\n`) } }
      },
      catch: (cause) => new StageFailure({ stage: "report", message: String(cause), cause })
    })
})

/** The corpus as a directory of text shards of `size` documents each. */
export const shard = defineStage({
  name: "shard",
  module: import.meta.url,
  reads: [],
  config: Schema.Struct({ size: Schema.Int.pipe(withDefault(50)) }),
  inputs: { documents: Table(documentsSchema) },
  outputs: { shards: Files() },
  run: (ctx) =>
    Effect.tryPromise({
      try: async () => {
        const texts = [...ctx.inputs.documents.getChild("text")!].map(String)
        const dir = join(ctx.tmpDir, "shards")
        await mkdir(dir, { recursive: true })
        for (let i = 0; i * ctx.config.size < texts.length; i++) {
          const part = texts.slice(i * ctx.config.size, (i + 1) * ctx.config.size)
          await writeFile(join(dir, `${String(i).padStart(4, "0")}.txt`), part.join("\n") + "\n")
        }
        return { outputs: { shards: { dir } } }
      },
      catch: (cause) => new StageFailure({ stage: "shard", message: String(cause), cause })
    })
})
