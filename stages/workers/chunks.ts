/**
 * `forEachChunk`: a streamed table's rows in chunks of `batchSize`, whatever its record batches
 * hold, so a stage's memory is one chunk (plus one stored batch) and the chunking is the stage's
 * `--batch-size`, not the producer's.
 */
import type * as arrow from "apache-arrow"
import { Effect } from "effect"
import type { TableReader } from "../../src/index.ts"

/**
 * Reads `reader` batch by batch, turns each batch into rows with `rowsOf`, and calls `handle` on
 * every `batchSize` rows (the last chunk shorter), in order. `progress` gets batches read so far.
 */
export const forEachChunk = <T extends arrow.TypeMap, R, E>(
  reader: TableReader<T>,
  batchSize: number,
  rowsOf: (batch: arrow.RecordBatch<T>) => Iterable<R>,
  handle: (rows: Array<R>) => Effect.Effect<void, E>,
  progress: (batches: number, total: number) => void,
  onError: (cause: unknown) => E
): Effect.Effect<void, E> =>
  Effect.suspend(() => {
    const batches = reader.batches()
    return Effect.gen(function*() {
      let pending: Array<R> = []
      let read = 0
      while (true) {
        const next = yield* Effect.tryPromise({ try: () => batches.next(), catch: onError })
        if (next.done === true) break
        const rows = yield* Effect.try({ try: () => Array.from(rowsOf(next.value)), catch: onError })
        for (const row of rows) {
          pending.push(row)
          if (pending.length === batchSize) {
            const chunk = pending
            pending = []
            yield* handle(chunk)
          }
        }
        progress(++read, reader.numBatches)
      }
      if (pending.length > 0) yield* handle(pending)
    }).pipe(Effect.ensuring(Effect.promise(() => batches.return(undefined))))
  })
