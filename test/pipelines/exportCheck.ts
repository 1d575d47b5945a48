/**
 * What a user does with `pipeline export`'s directory, checked against transformers: it loads with
 * AutoModelForCausalLM and AutoTokenizer, renders the held-out prompts as our evaluate stage did
 * (same text, same ids), gives our logits within 1e-4 (float32) and our greedy answers.
 */
import * as arrow from "apache-arrow"
import { Effect } from "effect"
import { mkdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { expect } from "vitest"
import { loadHfModel } from "../../native/hfConfig.ts"
import { NativeModel } from "../../native/index.ts"
import { readPrompts } from "../../stages/evaluate/prompts.ts"
import type { ConversationColumns } from "../../stages/schemas/conversation.ts"
import { maxAbsDiff } from "../native/compare.ts"
import type { CliResult } from "../support/cli.ts"
import { runOracle } from "../support/oracle.ts"

const script = join(import.meta.dirname, "..", "stages", "oracle", "exported_model.py")
const readTable = (file: string) => arrow.tableFromIPC(readFileSync(file))
const rows = (table: arrow.Table) => table.toArray().map((row) => row.toJSON() as Record<string, any>)

/**
 * Checks the export `out` of the last run against the held-out rows of its load stage and the
 * answers of its evaluate stage (`maxNewTokens` as evaluate's). `scratch` is an empty directory.
 */
export const checkExport = async (
  cli: (...args: Array<string>) => Promise<CliResult>,
  out: string,
  scratch: string,
  maxNewTokens: number
): Promise<void> => {
  for (const stage of ["load", "evaluate"]) expect((await cli("export", "last", join(scratch, stage), "--stage", stage)).code).toBe(0)
  const heldOut = readTable(join(scratch, "load", "validation.arrow")) as unknown as arrow.Table<ConversationColumns>
  // The card names the step of the checkpoint select-best picked.
  const chosen = Number(/from step (\d+)/.exec(readFileSync(join(out, "README.md"), "utf8"))![1])
  const samples = rows(readTable(join(scratch, "evaluate", "samples.arrow"))).filter((s) => s.step === chosen)
  const ours = readPrompts(heldOut, out, { kwargs: {} }, samples.length)
  const conversations = heldOut.toArray().slice(0, samples.length).map((row) => [...row.toJSON().messages].map((m: any) => ({ role: m.role, content: m.content })))
  const logitsDir = join(scratch, "logits")
  mkdirSync(logitsDir)
  const theirs = JSON.parse(runOracle(script, [], JSON.stringify({ dir: out, out: logitsDir, conversations, max_new_tokens: maxNewTokens })))
  const model = await Effect.runPromise(loadHfModel(out))
  const native = NativeModel.create(model.config, model.weights, { threads: 2 })
  expect(theirs).toHaveLength(samples.length)
  expect(ours.prompts).toHaveLength(samples.length)
  let worst = 0
  for (const [i, prompt] of ours.prompts.entries()) {
    expect(theirs[i].prompt, prompt.source).toBe(prompt.text)
    expect(theirs[i].ids, prompt.source).toEqual(Array.from(prompt.ids))
    expect(samples[i]!.prompt).toBe(prompt.text)
    const positions = Int32Array.from(prompt.ids, (_, t) => t)
    const logits = await native.logits({ inputIds: prompt.ids, labels: prompt.ids, positionIds: positions, cuSeqlens: Int32Array.from([0, prompt.ids.length]) })
    const reference = new Float32Array(readFileSync(join(logitsDir, `logits-${i}.f32`)).buffer.slice(0))
    const diff = maxAbsDiff(logits, reference)
    worst = Math.max(worst, diff)
    expect(diff, prompt.source).toBeLessThanOrEqual(1e-4)
    expect(theirs[i].text.trim(), prompt.source).toBe(samples[i]!.generated)
  }
  console.log(`${out}: ${samples.length} prompts, logits max |diff| ${worst.toExponential(2)} against transformers, greedy answers equal`)
}
