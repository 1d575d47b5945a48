/**
 * The tokenize stage's worker task: rendered rows → each row's outcome, token arrays moved back to
 * the stage rather than copied.
 */
import type { RenderedRow, RowOutcome, TokenizeOptions } from "../chat/tokenizeRows.ts"
import { loadEncoder, rowTokenizer } from "../chat/tokenizeRows.ts"
import type { TaskHandler } from "./WorkerPool.ts"

/** What each worker is started with. */
export interface TokenizeInit {
  readonly tokenizerPath: string
  readonly options: TokenizeOptions
}

export const start = (init: TokenizeInit): TaskHandler<RenderedRow, RowOutcome> => {
  const tokenizeRow = rowTokenizer(loadEncoder(init.tokenizerPath), init.options)
  return (rows) => {
    const results = rows.map(tokenizeRow)
    // A buffer may back both arrays of a row: each is listed once.
    const transfer = new Set<ArrayBuffer>()
    for (const r of results) {
      if (r.kind !== "example") continue
      transfer.add(r.inputIds.buffer as ArrayBuffer)
      transfer.add(r.labels.buffer as ArrayBuffer)
    }
    return { results, transfer: [...transfer] }
  }
}
