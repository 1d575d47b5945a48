/**
 * load → template → tokenize → pack through the engine on real data (GSM8K test split, the Qwen3
 * tokenizer and chat template): the packed rows hold exactly the tokenized documents, every trained
 * token once, at its position in its document.
 */
import * as arrow from "apache-arrow"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { gsm8k, load } from "../../stages/load.ts"
import { pack } from "../../stages/pack.ts"
import { template } from "../../stages/template.ts"
import { tokenize } from "../../stages/tokenize.ts"
import { fixtures } from "../support/fixtures.ts"
import { describeOracle, runOracle } from "../support/oracle.ts"
import { runStages } from "./runStages.ts"

const gsm8kTest = `${fixtures}/datasets/gsm8k/test.jsonl`
const qwen3 = `${fixtures}/tokenizers/qwen3`
const maxSeqLength = 1024

const lists = (table: arrow.Table, column: string): Array<Array<number>> =>
  Array.from({ length: table.numRows }, (_, row) => [...(table.getChild(column)!.get(row) as arrow.Vector).toArray()])

const runSft = async () => {
  const run = await runStages({ name: "pack-test", file: join(import.meta.dirname, "pack_pipeline.test.ts") }, (p) => {
    const data = p.add(load, { inputs: { train: p.file(gsm8kTest) }, config: { ...gsm8k } })
    const rendered = p.add(template, { inputs: { conversations: data.train, tokenizer: p.dir(qwen3) } })
    const tokens = p.add(tokenize, {
      inputs: { rows: rendered.rendered, tokenizer: p.file(join(qwen3, "tokenizer.json")) },
      config: { maxSeqLength }
    })
    p.add(pack, { inputs: { tokens: tokens.tokens }, config: { maxSeqLength, dataSeed: 11 } })
  })
  expect(["load", "template", "tokenize", "pack"].map((id) => [id, run.stage(id).status, run.stage(id).error])).toEqual(
    ["load", "template", "tokenize", "pack"].map((id) => [id, "ran", undefined])
  )
  return { tokens: run.table("tokenize", "tokens"), packed: run.table("pack", "packed"), metrics: run.stage("pack").metrics! }
}

let once: ReturnType<typeof runSft> | undefined
const sft = () => (once ??= runSft())

describe("pack after tokenize on GSM8K test (Qwen3)", () => {
  it("packs every tokenized document exactly once, within maxSeqLength", async () => {
    const { tokens, packed, metrics } = await sft()
    const docIds = lists(tokens, "input_ids")
    const docLabels = lists(tokens, "labels")
    const key = (ids: ReadonlyArray<number>) => ids.join(",")
    const wanted = new Map<string, number>()
    docIds.forEach((ids) => wanted.set(key(ids), (wanted.get(key(ids)) ?? 0) + 1))
    const expectedLabels = new Map(docIds.map((ids, d) => [key(ids), [-100, ...docLabels[d]!.slice(1)]]))

    const rowIds = lists(packed, "input_ids")
    const rowLabels = lists(packed, "labels")
    const rowPositions = lists(packed, "position_ids")
    const rowLengths = lists(packed, "seq_lengths")
    let trained = 0
    rowIds.forEach((ids, r) => {
      expect(ids.length).toBeLessThanOrEqual(maxSeqLength)
      let at = 0
      for (const length of rowLengths[r]!) {
        const doc = ids.slice(at, at + length)
        expect(wanted.get(key(doc)), `row ${r} holds a document tokenize did not produce`).toBeGreaterThan(0)
        wanted.set(key(doc), wanted.get(key(doc))! - 1)
        expect(rowLabels[r]!.slice(at, at + length)).toEqual(expectedLabels.get(key(doc)))
        expect(rowPositions[r]!.slice(at, at + length)).toEqual([...Array(length).keys()])
        trained += rowLabels[r]!.slice(at, at + length).filter((label) => label !== -100).length
        at += length
      }
      expect(at).toBe(ids.length)
    })
    expect([...wanted.values()].every((count) => count === 0)).toBe(true)
    const tokenCount = docIds.reduce((sum, ids) => sum + ids.length, 0)
    expect(metrics).toEqual({
      rows: rowIds.length,
      documents: docIds.length,
      tokens: tokenCount,
      trainedTokens: trained,
      packingEfficiency: tokenCount / (rowIds.length * maxSeqLength)
    })
    expect(metrics.packingEfficiency).toBeGreaterThan(0.95)
    console.log(`GSM8K test, Qwen3, maxSeqLength ${maxSeqLength}: ${docIds.length} documents, ${tokenCount} tokens → ` +
      `${rowIds.length} rows, packing efficiency ${(metrics.packingEfficiency as number).toFixed(4)}`)
  })
})

describeOracle("pack after tokenize on GSM8K test (Qwen3) against TRL", () => {
  it("gives TRL pack_dataset(bfd)'s bins, bin for bin: the same documents in the same order, tokens, labels and positions", async () => {
    const { tokens, packed } = await sft()
    const reference = JSON.parse(runOracle(
      join(import.meta.dirname, "oracle", "trl_pack.py"),
      [],
      JSON.stringify([{ seq_length: maxSeqLength, input_ids: lists(tokens, "input_ids"), labels: lists(tokens, "labels") }])
    )) as [Array<Record<"input_ids" | "labels" | "position_ids" | "seq_lengths", Array<number>>>]
    // Our rows are TRL's bins in a seeded order: compare them as a set.
    const rows = (table: ReadonlyArray<Record<string, Array<number>>>) =>
      table.map((row) => JSON.stringify([row.input_ids, row.labels, row.position_ids, row.seq_lengths])).sort()
    const columns = ["input_ids", "labels", "position_ids", "seq_lengths"].map((column) => lists(packed, column))
    const ours = rows(columns[0]!.map((_, r) => ({
      input_ids: columns[0]![r]!,
      labels: columns[1]![r]!,
      position_ids: columns[2]![r]!,
      seq_lengths: columns[3]![r]!
    })))
    const theirs = rows(reference[0])
    const theirSet = new Set(theirs)
    console.log(`GSM8K test, Qwen3, maxSeqLength ${maxSeqLength}: ${ours.filter((row) => theirSet.has(row)).length} of ` +
      `${theirs.length} packed rows equal TRL's`)
    expect(ours).toEqual(theirs)
  }, 300_000) // torch + datasets start-up and 263k tokens through the collator: tens of seconds on a busy machine
})
