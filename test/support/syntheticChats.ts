/**
 * Seeded synthetic chat datasets in the `messages` format (JSON Lines), the shape of real SFT data:
 * multi-turn conversations, a system prompt in some, tool calls with their tool results (and the
 * row's `tools`) in others. The same seed gives the same bytes.
 */
import { createWriteStream } from "node:fs"

/** mulberry32: a small seeded PRNG, enough to vary lengths and words reproducibly. */
const generator = (seed: number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const words = (
  "the model learns to answer questions about data pipelines training loss gradient batch token " +
  "packing sequence attention layer weight optimizer schedule warmup evaluation checkpoint export " +
  "what why how when which could would should please explain show list compare describe summarise " +
  "Paris Tokyo Berlin café naïve 東京 данные résumé 42 3.14 2026 JSON Arrow Parquet"
).split(" ")

/** The one tool of the synthetic rows (and of the mask oracle's tool conversation). */
export const weatherTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Get the current weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
  }
}

/** One JSON line per conversation, `rows` of them, from `seed`. */
export function* syntheticChats(seed: number, rows: number): Generator<string> {
  const random = generator(seed)
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1))
  const sentence = (lo: number, hi: number) => Array.from({ length: int(lo, hi) }, () => words[int(0, words.length - 1)]!).join(" ")
  for (let row = 0; row < rows; row++) {
    const messages: Array<Record<string, unknown>> = []
    if (random() < 0.4) messages.push({ role: "system", content: `You are ${sentence(3, 12)}.` })
    const withTools = random() < 0.15
    const turns = int(1, 4)
    for (let turn = 0; turn < turns; turn++) {
      messages.push({ role: "user", content: `${sentence(5, 60)}?` })
      if (withTools && turn === 0) {
        const city = ["Paris", "Tokyo", "Berlin"][int(0, 2)]!
        messages.push({
          role: "assistant",
          content: "",
          tool_calls: [{ type: "function", function: { name: "get_weather", arguments: JSON.stringify({ city }) } }]
        })
        messages.push({ role: "tool", name: "get_weather", content: JSON.stringify({ city, temperature: int(-10, 35) }) })
      }
      messages.push({ role: "assistant", content: `${sentence(10, 200)}.` })
    }
    yield JSON.stringify(withTools ? { messages, tools: JSON.stringify([weatherTool]) } : { messages }) + "\n"
  }
}

/** Writes `rows` synthetic conversations to `path` (or until `bytes` are written). */
export const writeSyntheticChats = (path: string, seed: number, limit: { readonly rows?: number; readonly bytes?: number }) =>
  new Promise<{ rows: number; bytes: number }>((resolve, reject) => {
    const out = createWriteStream(path)
    let rows = 0
    let bytes = 0
    const lines = syntheticChats(seed, limit.rows ?? Number.MAX_SAFE_INTEGER)
    const pump = () => {
      while (limit.bytes === undefined || bytes < limit.bytes) {
        const next = lines.next()
        if (next.done === true) break
        rows++
        bytes += Buffer.byteLength(next.value)
        if (!out.write(next.value)) return void out.once("drain", pump)
      }
      out.end(() => resolve({ rows, bytes }))
    }
    out.on("error", reject)
    pump()
  })
