/**
 * `WorkerPool`: runs a task over a batch of rows on worker threads, results in input order, so a
 * stage's output is the same for any number of workers. One pool serves every data stage that
 * spreads rows over cores (template rendering, tokenization).
 *
 * A task is a module exporting `start(init)`, which returns a handler from rows to results (with
 * the buffers to transfer back rather than copy). A batch is cut into small contiguous pieces that
 * the workers take in turn, and the results are joined in input order. With one worker the
 * handler runs on the calling thread: no thread to start, the same code.
 *
 * This file is also each worker's entry (when `workerData.poolTask` is set), so the pool is one
 * module.
 *
 * Hand-written rather than Effect's `effect/workers` (marked unstable in 4.0.6) with an RPC pool
 * over it: that path encodes every message through a Schema, while here rows go as structured
 * clones, token arrays come back by transfer, and a worker loads only its task module (no Arrow,
 * no engine).
 */
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { pathToFileURL } from "node:url"
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads"

/** What a task's handler returns for its part of a batch. */
export interface TaskResult<Out> {
  readonly results: Array<Out>
  /** Buffers inside `results` to move to the calling thread instead of copying. */
  readonly transfer?: ReadonlyArray<ArrayBuffer>
}

/** A task's handler: rows in, one result per row out. */
export type TaskHandler<In, Out> = (rows: ReadonlyArray<In>) => TaskResult<Out>

/** What a task module exports. */
export interface TaskModule<Init, In, Out> {
  readonly start: (init: Init) => TaskHandler<In, Out>
}

interface PoolWorkerData {
  readonly poolTask: string
  readonly init: unknown
}

/**
 * Rows sent to a worker at once. Small pieces keep each worker's live data (and so its heap) small
 * and the workers evenly loaded: 0.05 GB of chats, 2 workers, parts of 5000 rows held ~300 MiB per
 * worker during tokenize.
 */
const pieceRows = 256

/**
 * A worker's old-generation heap limit: V8 otherwise lets each thread's heap grow far past what a
 * piece needs before collecting (0.05 GB of chats, 2 workers: 721 instead of 878 MiB during
 * template at 256). 512 leaves room for a large tokenizer's vocabulary.
 */
const workerHeapMb = 512

type Reply = { readonly ok: true; readonly results: Array<unknown> } | { readonly ok: false; readonly message: string }

// Node 20 does not apply the main thread's loader (tsx, vitest's) to a worker, so each worker
// registers tsx before importing the TypeScript entry: tsx's ES module API, found through its
// package.json since `require.resolve` gives the CommonJS one.
const tsxPackage = createRequire(import.meta.url).resolve("tsx/package.json")
const tsxExports = (JSON.parse(readFileSync(tsxPackage, "utf8")) as { exports: Record<string, { import: { default: string } }> }).exports
const tsxApi = pathToFileURL(join(dirname(tsxPackage), tsxExports["./esm/api"]!.import.default)).href
const bootstrap = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${
  JSON.stringify(import.meta.url)
}) })`

/** A worker thread running one task, handling one part at a time. */
class PoolWorker {
  private pending: { resolve: (results: Array<unknown>) => void; reject: (error: Error) => void } | undefined
  private failure: Error | undefined

  private constructor(private readonly worker: Worker) {
    worker.on("message", (reply: Reply | "ready") => {
      if (reply === "ready") return
      const pending = this.pending
      this.pending = undefined
      if (reply.ok) pending?.resolve(reply.results)
      else pending?.reject(new Error(reply.message))
    })
    const fail = (error: Error) => {
      this.failure = error
      this.pending?.reject(error)
      this.pending = undefined
    }
    worker.on("error", fail)
    worker.on("exit", (code) => fail(new Error(`a worker thread exited (code ${code})`)))
  }

  static start(task: string, init: unknown): Promise<PoolWorker> {
    const data: PoolWorkerData = { poolTask: task, init }
    const worker = new Worker(bootstrap, { eval: true, workerData: data, resourceLimits: { maxOldGenerationSizeMb: workerHeapMb } })
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error)
      worker.once("error", onError)
      worker.once("message", (message: Reply | "ready") => {
        worker.off("error", onError)
        if (message === "ready") resolve(new PoolWorker(worker))
        else reject(new Error(message.ok ? "a worker answered before it was asked" : message.message))
      })
    })
  }

  run(rows: ReadonlyArray<unknown>): Promise<Array<unknown>> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject }
      this.worker.postMessage(rows)
    })
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners("exit")
    await this.worker.terminate()
  }
}

/** Runs one task over batches of rows on `size` threads (the calling thread when `size` is 1). */
export class WorkerPool<In, Out> {
  private constructor(
    private readonly local: TaskHandler<In, Out> | undefined,
    private readonly workers: ReadonlyArray<PoolWorker>
  ) {}

  /**
   * Starts `size` workers of the task module at `task` (its `import.meta.url`); `module` is that
   * module itself, whose handler runs in-thread when `size` is 1. `init` is copied to each worker.
   */
  static async start<Init, In, Out>(
    task: string,
    module: TaskModule<Init, In, Out>,
    init: Init,
    size: number
  ): Promise<WorkerPool<In, Out>> {
    if (!Number.isInteger(size) || size < 1) throw new Error(`workers: expected a positive integer, got ${size}`)
    if (size === 1) return new WorkerPool<In, Out>(module.start(init), [])
    const started = await Promise.allSettled(Array.from({ length: size }, () => PoolWorker.start(task, init)))
    const workers = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []))
    const failed = started.find((s) => s.status === "rejected")
    if (failed !== undefined) {
      await Promise.all(workers.map((worker) => worker.close()))
      throw failed.reason
    }
    return new WorkerPool<In, Out>(undefined, workers)
  }

  /**
   * The task's results for `rows`, in order. Rows go out in pieces of at most {@link pieceRows},
   * each to the next free worker, and come back into their places. A failing piece fails the
   * batch with its error, the first piece's first.
   */
  async map(rows: ReadonlyArray<In>): Promise<Array<Out>> {
    if (this.local !== undefined) return this.local(rows).results
    const pieces = Math.ceil(rows.length / pieceRows)
    const results: Array<Array<Out>> = new Array(pieces)
    const errors: Array<unknown> = new Array(pieces)
    let next = 0
    const drain = async (worker: PoolWorker) => {
      while (next < pieces) {
        const piece = next++
        try {
          results[piece] = (await worker.run(rows.slice(piece * pieceRows, (piece + 1) * pieceRows))) as Array<Out>
        } catch (error) {
          errors[piece] = error
        }
      }
    }
    await Promise.all(this.workers.map(drain))
    const failed = errors.findIndex((error) => error !== undefined)
    if (failed >= 0) throw errors[failed]
    return results.flat()
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.close()))
  }
}

const serve = async ({ poolTask, init }: PoolWorkerData) => {
  const port = parentPort!
  try {
    const module = (await import(poolTask)) as TaskModule<unknown, unknown, unknown>
    const handle = module.start(init)
    port.on("message", (rows: ReadonlyArray<unknown>) => {
      let reply: TaskResult<unknown>
      try {
        reply = handle(rows)
      } catch (error) {
        port.postMessage({ ok: false, message: error instanceof Error ? error.message : String(error) } satisfies Reply)
        return
      }
      port.postMessage({ ok: true, results: reply.results } satisfies Reply, [...(reply.transfer ?? [])])
    })
    port.postMessage("ready")
  } catch (error) {
    port.postMessage({ ok: false, message: error instanceof Error ? error.message : String(error) } satisfies Reply)
  }
}

if (!isMainThread && typeof (workerData as Partial<PoolWorkerData> | null)?.poolTask === "string") {
  void serve(workerData as PoolWorkerData)
}
