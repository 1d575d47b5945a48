/**
 * A bench/tokenize.ts worker: loads the template and tokenizer once, renders the rows it is sent,
 * then (on the next message) tokenizes and masks them, with the same functions the template and
 * tokenize stages run. Two messages, so the two phases can be timed apart.
 */
import { parentPort, workerData } from "node:worker_threads"
import type { TemplateMessage } from "../stages/chat/ChatTemplate.ts"
import { SpanFinder } from "../stages/chat/SpanFinder.ts"
import { deriveEndOfTurn } from "../stages/chat/spans.ts"
import { resolveTemplateSource } from "../stages/chat/TemplateSource.ts"
import { loadEncoder, tokenizeRows } from "../stages/tokenize.ts"

/** What the main thread sends: rows to render, then "tokenize" for the rows last rendered. */
export type WorkRequest =
  | { readonly rows: ReadonlyArray<{ readonly messages: ReadonlyArray<TemplateMessage>; readonly source: string }> }
  | "tokenize"

/** What a worker sends back (token arrays are transferred, not copied). */
export interface WorkResult {
  readonly texts: Array<string>
  readonly inputIds: Array<Int32Array>
  readonly labels: Array<Int32Array>
  readonly sources: Array<string>
  readonly tokens: number
  readonly trainedTokens: number
}

const { tokenizerDir } = workerData as { tokenizerDir: string }
const source = resolveTemplateSource({ kwargs: {} }, tokenizerDir)
const template = source.templateFor(false)
const endOfTurn = deriveEndOfTurn(template, source.variables, source.specialTokens)
const finder = new SpanFinder(template, { variables: source.variables, endOfTurn, specialTokens: source.specialTokens, trainAfterEndOfTurn: true })
const encoder = loadEncoder(`${tokenizerDir}/tokenizer.json`)
const port = parentPort!

let rendered: Array<ReturnType<SpanFinder["find"]> & { source: string }> = []

port.on("message", (request: WorkRequest) => {
  if (request !== "tokenize") {
    rendered = request.rows.map((row) => ({
      ...finder.find({ messages: row.messages, tools: null, source: row.source }),
      source: row.source
    }))
    port.postMessage("rendered")
    return
  }
  const { examples, counts } = tokenizeRows(
    encoder,
    rendered,
    { mode: "assistant_only", truncation: "drop", onEmpty: "error", addSpecialTokens: true },
    () => undefined
  )
  const result: WorkResult = {
    texts: rendered.map((r) => r.text),
    inputIds: examples.map((e) => e.inputIds),
    labels: examples.map((e) => e.labels),
    sources: examples.map((e) => e.source),
    tokens: counts.tokens,
    trainedTokens: counts.trainedTokens
  }
  port.postMessage(result, [...result.inputIds, ...result.labels].map((a) => a.buffer as ArrayBuffer))
})
port.postMessage("ready")
