/**
 * A bench/tokenize.ts worker: loads the template and tokenizer once, then renders, tokenizes and
 * masks the rows it is sent, with the same functions the template and tokenize stages run.
 */
import { parentPort, workerData } from "node:worker_threads"
import type { TemplateMessage } from "../stages/chat/ChatTemplate.ts"
import { SpanFinder } from "../stages/chat/SpanFinder.ts"
import { deriveEndOfTurn } from "../stages/chat/spans.ts"
import { resolveTemplateSource } from "../stages/chat/TemplateSource.ts"
import { loadEncoder, tokenizeRows } from "../stages/tokenize.ts"

/** What the main thread sends: rows to process. */
export interface WorkRequest {
  readonly rows: ReadonlyArray<{ readonly messages: ReadonlyArray<TemplateMessage>; readonly source: string }>
}

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
const finder = new SpanFinder(template, { variables: source.variables, endOfTurn, specialTokens: source.specialTokens })
const encoder = loadEncoder(`${tokenizerDir}/tokenizer.json`)
const port = parentPort!

port.on("message", (request: WorkRequest) => {
  const rendered = request.rows.map((row) => ({
    ...finder.find({ messages: row.messages, tools: null, source: row.source }),
    source: row.source
  }))
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
