/**
 * Text stages of the example pipeline: generate a seeded synthetic corpus, normalise it, split it
 * into words. Plain computations, so the example runs anywhere in a second.
 */
import { Effect, Schema } from "effect"
import { defineStage, Table, tableFrom, withDefault } from "../../src/index.ts"
import { documentsSchema, wordsSchema } from "./schemas.ts"

const syllables = ["ka", "lo", "mi", "ra", "te", "su", "no", "vi", "da", "pe", "Zu", "Ho"]

/** xorshift32: a tiny PRNG so the corpus depends only on the stage seed. */
const rng = (seed: number) => {
  let state = seed === 0 ? 0x9e3779b9 : seed >>> 0
  return () => {
    state ^= state << 13
    state >>>= 0
    state ^= state >>> 17
    state ^= state << 5
    state >>>= 0
    return state / 0x100000000
  }
}

/** A synthetic corpus: `documents` documents of `words` words made of random syllables. */
export const generate = defineStage({
  name: "generate",
  module: import.meta.url,
  reads: ["seed"],
  config: Schema.Struct({
    documents: Schema.Int.pipe(withDefault(200)),
    words: Schema.Int.pipe(withDefault(40))
  }),
  inputs: {},
  outputs: { documents: Table(documentsSchema) },
  run: (ctx) =>
    Effect.sync(() => {
      const random = rng(ctx.seed)
      const pick = () => syllables[Math.floor(random() * syllables.length)]!
      const texts = Array.from({ length: ctx.config.documents }, () =>
        Array.from({ length: ctx.config.words }, () => pick() + pick() + (random() < 0.1 ? "," : "")).join(" ") + ".")
      const ids = texts.map((_, i) => i)
      return { outputs: { documents: tableFrom(documentsSchema, { id: ids, text: texts }) } }
    })
})

/** Lower-cases and strips punctuation. */
export const normalize = defineStage({
  name: "normalize",
  module: import.meta.url,
  reads: [],
  config: Schema.Struct({ lowercase: Schema.Boolean.pipe(withDefault(true)) }),
  inputs: { documents: Table(documentsSchema) },
  outputs: { documents: Table(documentsSchema) },
  run: (ctx) =>
    Effect.sync(() => {
      const ids = [...ctx.inputs.documents.getChild("id")!].map(Number)
      const texts = [...ctx.inputs.documents.getChild("text")!].map((text) => {
        const plain = String(text).replace(/[^\p{L}\p{N}\s]/gu, "")
        return ctx.config.lowercase ? plain.toLowerCase() : plain
      })
      return { outputs: { documents: tableFrom(documentsSchema, { id: ids, text: texts }) } }
    }),
  inspect: (ctx) =>
    Effect.sync(() => [...ctx.outputs.documents.getChild("text")!].slice(0, ctx.rows).join("\n"))
})

/** One row per word occurrence. */
export const words = defineStage({
  name: "words",
  module: import.meta.url,
  reads: [],
  config: Schema.Struct({ minLength: Schema.Int.pipe(withDefault(1)) }),
  inputs: { documents: Table(documentsSchema) },
  outputs: { words: Table(wordsSchema) },
  run: (ctx) =>
    Effect.sync(() => {
      const ids: Array<number> = []
      const out: Array<string> = []
      const docIds = [...ctx.inputs.documents.getChild("id")!]
      const texts = [...ctx.inputs.documents.getChild("text")!]
      texts.forEach((text, row) => {
        for (const word of String(text).split(/\s+/)) {
          if (word.length < ctx.config.minLength) continue
          ids.push(Number(docIds[row]))
          out.push(word)
        }
      })
      return { outputs: { words: tableFrom(wordsSchema, { id: ids, word: out }) }, metrics: { words: out.length } }
    })
})
