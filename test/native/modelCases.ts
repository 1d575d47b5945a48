/**
 * Shared inputs of the native model tests: the tiny fixture models and packed batches of documents.
 */
import { fixtures } from "../support/fixtures.ts"
import { Effect } from "effect"
import { join } from "node:path"
import type { Batch, ModelConfig, Weights } from "../../native/index.ts"
import { loadHfModel } from "../../native/hfConfig.ts"

export const fixtureModels = join(fixtures, "models")

/** A model directory's engine config and parameters, through loadHfModel as the train stage loads them. */
export const loadModel = async (dir: string): Promise<{ readonly config: ModelConfig; readonly weights: Weights }> =>
  Effect.runPromise(loadHfModel(dir))

export interface Doc {
  readonly ids: ReadonlyArray<number>
  readonly labels: ReadonlyArray<number>
}

/**
 * Documents of the given lengths with seeded token ids; a prompt of 3 tokens is not trained (-100),
 * which also makes every document's first label -100, as packing guarantees.
 */
export const makeDocs = (vocab: number, lengths: ReadonlyArray<number>, seed: number): Array<Doc> => {
  let state = seed >>> 0
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state
  }
  return lengths.map((length) => {
    const ids = Array.from({ length }, () => next() % vocab)
    return { ids, labels: ids.map((id, i) => (i < 3 ? -100 : id)) }
  })
}

/** The documents concatenated into one packed row, positions restarting at every document. */
export const pack = (docs: ReadonlyArray<Doc>): Batch => {
  const cu = [0]
  for (const d of docs) cu.push(cu[cu.length - 1]! + d.ids.length)
  return {
    inputIds: Int32Array.from(docs.flatMap((d) => d.ids)),
    labels: Int32Array.from(docs.flatMap((d) => d.labels)),
    positionIds: Int32Array.from(docs.flatMap((d) => d.ids.map((_, i) => i))),
    cuSeqlens: Int32Array.from(cu)
  }
}

/** Scored tokens of the documents (labels shift inside each one). */
export const scoredTokens = (docs: ReadonlyArray<Doc>): number =>
  docs.reduce((n, d) => n + d.labels.slice(1).filter((l) => l !== -100).length, 0)

export const sameBits = (a: Weights, b: Weights): boolean =>
  Object.keys(a).length === Object.keys(b).length &&
  Object.entries(a).every(([name, x]) => {
    const y = b[name]
    return y !== undefined && Buffer.compare(Buffer.from(x.buffer, x.byteOffset, x.byteLength), Buffer.from(y.buffer, y.byteOffset, y.byteLength)) === 0
  })
