import { fixtures as shared } from "../support/fixtures.ts"
import { Effect, Schema } from "effect"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { basename, join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import type { DatasetFile, Loaded } from "../../stages/load.ts"
import { conversationSchema, gsm8k, load, loadDatasets, LoadConfig } from "../../stages/load.ts"
import { toConversationTable } from "../../stages/formats/conversationTable.ts"
import { describeOracle, runOracle } from "../support/oracle.ts"
import { fieldShapes, ipcRoundTrip } from "../support/arrow.ts"
import { tableReader } from "./runStages.ts"

const datasets = `${shared}/datasets`
const fixtures = join(import.meta.dirname, "fixtures")

const file = (path: string): DatasetFile => ({ bytes: readFileSync(path), name: basename(path) })
const text = (name: string, content: string): DatasetFile => ({ bytes: new TextEncoder().encode(content), name })
const config = (partial: Record<string, unknown> = {}) => Schema.decodeUnknownSync(LoadConfig)(partial)

const run = (files: { train: DatasetFile; validation?: DatasetFile }, partial: Record<string, unknown> = {}, seed = 0) =>
  Effect.runPromise(loadDatasets(files, config(partial), seed))

const failureOf = async (files: { train: DatasetFile; validation?: DatasetFile }, partial: Record<string, unknown> = {}) => {
  const error = await Effect.runPromise(Effect.flip(loadDatasets(files, config(partial), 0)))
  expect(error._tag).toBe("StageFailure")
  return error.message
}

const conversations = (loaded: Loaded) => loaded.train.map((row) => row.conversation)

describe("load: LLaMA-Factory identity.json (alpaca)", () => {
  const path = join(datasets, "llama-factory/identity.json")
  const raw = readFileSync(path, "utf8")
  const original = JSON.parse(raw) as Array<{ instruction: string; input: string; output: string }>

  it("loads every row, maps instruction/input/output and applies the replacements", async () => {
    const loaded = await run({ train: file(path) }, { replace: { "{{name}}": "Ada", "{{author}}": "Lab" } })
    expect(loaded.metrics.format).toBe("alpaca")
    expect(loaded.train).toHaveLength(original.length)
    expect(loaded.metrics.replacements).toBe(raw.split("{{name}}").length - 1 + raw.split("{{author}}").length - 1)
    loaded.train.forEach(({ conversation }, index) => {
      const row = original[index]!
      const user = row.input === "" ? row.instruction : `${row.instruction}\n\n${row.input}`
      expect(conversation.messages.map((m) => [m.role, m.content])).toEqual([
        ["user", user],
        ["assistant", row.output.replaceAll("{{name}}", "Ada").replaceAll("{{author}}", "Lab")]
      ])
    })
  })

  it("locates each element at the line where it starts", async () => {
    const starts = raw.split("\n").flatMap((line, index) => (line === "  {" ? [`identity.json:${index + 1}`] : []))
    const loaded = await run({ train: file(path) })
    expect(loaded.train.map((row) => row.source)).toEqual(starts)
  })

  it("splits a seeded validation fraction deterministically", async () => {
    const a = await run({ train: file(path) }, { validationFraction: 0.1, dataSeed: 7 })
    const b = await run({ train: file(path) }, { validationFraction: 0.1, dataSeed: 7 })
    const c = await run({ train: file(path) }, { validationFraction: 0.1, dataSeed: 8 })
    expect(a.validation).toHaveLength(Math.ceil(0.1 * original.length))
    expect(a.train.length + a.validation.length).toBe(original.length)
    const sources = (rows: Loaded["train"]) => rows.map((row) => row.source)
    expect(new Set([...sources(a.train), ...sources(a.validation)]).size).toBe(original.length)
    expect(sources(b.validation)).toEqual(sources(a.validation))
    expect(sources(c.validation)).not.toEqual(sources(a.validation))
    expect(a.metrics).toMatchObject({ rowsTrain: a.train.length, rowsValidation: a.validation.length })
  })
})

describe("load: LLaMA-Factory glaive_toolcall_en_demo.json (sharegpt with tools)", () => {
  const path = join(datasets, "llama-factory/glaive_toolcall_en_demo.json")
  const original = JSON.parse(readFileSync(path, "utf8")) as Array<{
    conversations: Array<{ from: string; value: string }>
    tools: string
  }>

  it("maps every turn of all 300 rows: function_call → assistant tool_calls, observation → tool", async () => {
    const loaded = await run({ train: file(path) })
    expect(loaded.metrics.format).toBe("sharegpt")
    expect(loaded.train).toHaveLength(300)
    const roleOf: Record<string, string> = { human: "user", gpt: "assistant", function_call: "assistant", observation: "tool" }
    let calls = 0
    loaded.train.forEach(({ conversation }, index) => {
      const turns = original[index]!.conversations
      expect(conversation.messages.map((m) => m.role)).toEqual(turns.map((turn) => roleOf[turn.from]))
      turns.forEach((turn, t) => {
        const message = conversation.messages[t]!
        if (turn.from === "function_call") {
          calls++
          const call = JSON.parse(turn.value) as { name: string; arguments: unknown }
          expect(message.content).toBe("")
          expect(JSON.parse(message.tool_calls!)).toEqual([{ type: "function", function: { name: call.name, arguments: call.arguments } }])
        } else {
          expect(message.content).toBe(turn.value)
          expect(message.tool_calls).toBeNull()
        }
        if (turn.from === "observation") {
          expect(message.name).toBe((JSON.parse(turns[t - 1]!.value) as { name: string }).name)
        }
      })
      const tools = JSON.parse(original[index]!.tools) as Array<unknown>
      expect(conversation.tools === null ? [] : JSON.parse(conversation.tools)).toEqual(
        tools.map((tool) => ({ type: "function", function: tool }))
      )
    })
    expect(calls).toBe(211)
  })
})

describe("load: GSM8K (prompt/completion with question/answer fields)", () => {
  const path = join(datasets, "gsm8k/train.jsonl")
  const lines = readFileSync(path, "utf8").split("\n").filter((line) => line !== "")

  it("maps question → user and answer → assistant with the gsm8k preset", async () => {
    const loaded = await run({ train: file(path) }, { ...gsm8k })
    expect(loaded.train).toHaveLength(7473)
    loaded.train.forEach((row, index) => {
      const { question, answer } = JSON.parse(lines[index]!) as { question: string; answer: string }
      expect(row.source).toBe(`train.jsonl:${index + 1}`)
      expect(row.conversation.messages.map((m) => [m.role, m.content])).toEqual([["user", question], ["assistant", answer]])
    })
  })

  it("says how to fix an undetectable format", async () => {
    const message = await failureOf({ train: file(path) })
    expect(message).toContain("train.jsonl: cannot detect the format")
    expect(message).toContain("promptField/completionField")
  })
})

describe("load: invalid rows", () => {
  const broken = file(join(fixtures, "broken.jsonl"))
  const expected = [
    /^broken\.jsonl:2: not valid JSON: Expected ',' or '\]' after array element in JSON at line 2 column \d+$/,
    "broken.jsonl:3: expected a JSON object, got list",
    "broken.jsonl:4: messages: missing (expected a list of messages)",
    "broken.jsonl:5: messages: expected a list of messages, got string",
    "broken.jsonl:6: messages: the conversation has no messages",
    "broken.jsonl:7: messages[2].role: \"assitant\" is not one of system|user|assistant|tool",
    "broken.jsonl:8: messages[0].content: expected a string, got number",
    "broken.jsonl:9: messages: no assistant turn to train on",
    /^broken\.jsonl:10: messages\[1\]\.tool_calls\[0\]\.function\.arguments: not valid JSON: /,
    "broken.jsonl:11: tools: expected a list of tool schemas, got object",
    "broken.jsonl:12: messages[0]: expected a message object, got string"
  ]

  it("fails with every report, each with its line and field", async () => {
    const message = await failureOf({ train: broken })
    expect(message).toContain("11 of 13 rows are invalid")
    const reported = message.split("\n").filter((line) => line.startsWith("broken.jsonl:"))
    expect(reported).toHaveLength(expected.length)
    reported.forEach((line, index) => {
      const want = expected[index]!
      if (typeof want === "string") expect(line).toBe(want)
      else expect(line).toMatch(want)
    })
  })

  it("caps the listing and says how many more there are", async () => {
    const message = await failureOf({ train: broken }, { maxReports: 3 })
    expect(message.split("\n").filter((line) => line.startsWith("broken.jsonl:"))).toHaveLength(3)
    expect(message).toContain("... and 8 more")
  })

  it("skips and counts with onInvalid: skip, logging every report and ignored key", async () => {
    const loaded = await run({ train: broken }, { onInvalid: "skip" })
    expect(loaded.train.map((row) => row.source)).toEqual(["broken.jsonl:1", "broken.jsonl:14"])
    expect(loaded.metrics).toMatchObject({
      rowsRead: 13,
      rowsSkipped: 11,
      rowsTrain: 2,
      "invalid.invalid_json": 1,
      "invalid.not_an_object": 1,
      "invalid.missing_field": 1,
      "invalid.wrong_type": 2,
      "invalid.empty_conversation": 1,
      "invalid.unknown_role": 1,
      "invalid.non_string_content": 1,
      "invalid.no_assistant_turn": 1,
      "invalid.bad_tool_call": 1,
      "invalid.bad_tools": 1,
      "unknownKeys.id": 1,
      "unknownKeys.messages[].tool_call_id": 1
    })
    expect(loaded.log.filter((line) => line.startsWith("broken.jsonl:"))).toHaveLength(expected.length)
    expect(loaded.log).toContain('ignored key "id" (not read by the messages format) in 1 rows')
    const toolTurn = loaded.train[1]!.conversation.messages
    expect(JSON.parse(toolTurn[1]!.tool_calls!)).toEqual([
      { type: "function", function: { name: "get_weather", arguments: '{"city": "Paris"}' } }
    ])
    expect(toolTurn[2]).toEqual({ role: "tool", content: "sunny", tool_calls: null, name: "get_weather" })
  })

  it("reports a broken JSON array element at the line where it starts and keeps the others", async () => {
    const json = [
      "[",
      '  {"prompt": "a", "completion": "b"},',
      '  {"prompt": "c",',
      '   "completion": 5},',
      '  {"prompt": "e" "completion": "f"},',
      '  {"prompt": "g", "completion": "h"}',
      "]"
    ].join("\n")
    const loaded = await run({ train: text("rows.json", json) }, { onInvalid: "skip" })
    expect(loaded.train.map((row) => row.source)).toEqual(["rows.json:2", "rows.json:6"])
    expect(loaded.log.slice(0, 2)).toEqual([
      "rows.json:3: completion: expected a string or a list of messages, got number",
      "rows.json:5: not valid JSON: Expected ',' or '}' after property value in JSON at line 5 column 18"
    ])
  })

  const bytesOf = (...parts: ReadonlyArray<string | ReadonlyArray<number>>) =>
    Uint8Array.from(parts.flatMap((part) => (typeof part === "string" ? [...new TextEncoder().encode(part)] : [...part])))
  const row = (user: string, assistant: string) => JSON.stringify({ prompt: user, completion: assistant })

  it("reports invalid UTF-8 at file:line and column, and skip drops only that line", async () => {
    const bytes = bytesOf(`${row("a", "b")}\n{"prompt": "c`, [0xff], `", "completion": "d"}\n${row("e", "f")}\n{"x`, [0xc3, 0x28], `"}\n`)
    const train = { bytes, name: "bad.jsonl" }
    const message = await failureOf({ train })
    expect(message).toContain("2 of 4 rows are invalid")
    expect(message).toContain("bad.jsonl:2: not valid UTF-8: byte 0xff at column 14")
    expect(message).toContain("bad.jsonl:4: not valid UTF-8: byte 0xc3 at column 4")
    const loaded = await run({ train }, { onInvalid: "skip" })
    expect(loaded.train.map((r) => r.source)).toEqual(["bad.jsonl:1", "bad.jsonl:3"])
    expect(loaded.metrics).toMatchObject({ rowsRead: 4, rowsSkipped: 2, "invalid.invalid_utf8": 2 })
  })

  it("reports invalid UTF-8 in a JSON array element at the element's line and keeps the others", async () => {
    const bytes = bytesOf(`[\n  ${row("a", "b")},\n  {"prompt": "`, [0xe2, 0x82], `", "completion": "d"},\n  ${row("e", "f")}\n]\n`)
    const loaded = await run({ train: { bytes, name: "bad.json" } }, { onInvalid: "skip" })
    expect(loaded.train.map((r) => r.source)).toEqual(["bad.json:2", "bad.json:4"])
    expect(loaded.log[0]).toBe("bad.json:3: not valid UTF-8: byte 0xe2 at line 3 column 15 (and 1 more)")
  })

  it("keeps a U+FFFD that the data really holds, and says which rows could not be read when none can", async () => {
    const loaded = await run({ train: text("ok.jsonl", `${row("\ufffd", "b")}\n`) })
    expect(loaded.train[0]!.conversation.messages[0]!.content).toBe("\ufffd")
    const message = await failureOf({ train: { bytes: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), name: "bad.jsonl" } })
    expect(message).toContain("bad.jsonl: cannot detect the format")
    expect(message).toContain("the first: bad.jsonl:1: not valid UTF-8: byte 0xff at column 2 (and 1 more)")
  })

  it("counts blank lines", async () => {
    const loaded = await run({ train: text("gaps.jsonl", `\n${row("a", "b")}\n\n  \r\n${row("c", "d")}\n`) })
    expect(loaded.metrics).toMatchObject({ rowsRead: 2, blankLines: 3 })
  })

  it("reports an empty assistant reply and a conversation that does not end with the assistant, counted under skip", async () => {
    const rows = [
      row("fine", "yes"),
      row("silent", "  "),
      JSON.stringify({ messages: [{ role: "user", content: "q" }, { role: "assistant", content: "a" }, { role: "user", content: "and?" }] }),
      JSON.stringify({ messages: [{ role: "user", content: "q" }, { role: "assistant", content: "" }, { role: "user", content: "?" }, { role: "assistant", content: "a" }] })
    ]
    const train = text("turns.jsonl", rows.join("\n"))
    const message = await failureOf({ train }, { format: "auto" })
    expect(message).toContain("turns.jsonl:2: completion: message 2 of 2 is an empty assistant reply (nothing to train on)")
    const messages = await failureOf({ train: text("m.jsonl", rows.slice(2).join("\n")) })
    expect(messages).toContain("m.jsonl:1: messages: the conversation ends with a user turn, not the assistant's")
    expect(messages).toContain("m.jsonl:2: messages: message 2 of 4 is an empty assistant reply")
    const loaded = await run({ train: text("m.jsonl", [JSON.stringify({ messages: [{ role: "user", content: "q" }, { role: "assistant", content: "a" }] }), ...rows.slice(2)].join("\n")) }, { onInvalid: "skip" })
    expect(loaded.metrics).toMatchObject({ rowsRead: 3, rowsSkipped: 2, "invalid.not_ending_with_assistant": 1, "invalid.empty_assistant_reply": 1 })
  })

  it("names a gzip-compressed file as such", async () => {
    const message = await failureOf({ train: { bytes: new Uint8Array([0x1f, 0x8b, 8, 0]), name: "train.jsonl.gz" } })
    expect(message).toContain("train.jsonl.gz: gzip-compressed; decompress it first")
  })
})

describe("load: formats", () => {
  it("reads conversational prompt/completion as prompt messages + completion messages", async () => {
    const row = {
      prompt: [{ role: "system", content: "s" }, { role: "user", content: "u" }],
      completion: [{ role: "assistant", content: "a" }],
      tools: [{ name: "f", parameters: { type: "object" } }]
    }
    const loaded = await run({ train: text("pc.jsonl", JSON.stringify(row)) })
    expect(loaded.metrics.format).toBe("prompt_completion")
    expect(conversations(loaded)).toEqual([{
      messages: [
        { role: "system", content: "s", tool_calls: null, name: null },
        { role: "user", content: "u", tool_calls: null, name: null },
        { role: "assistant", content: "a", tool_calls: null, name: null }
      ],
      tools: JSON.stringify([{ type: "function", function: { name: "f", parameters: { type: "object" } } }])
    }])
  })

  it("reads alpaca system and history, and a .json file holding JSON Lines", async () => {
    const row = { instruction: "q2", input: "ctx", output: "a2", system: "sys", history: [["q1", "a1"]] }
    const loaded = await run({ train: text("alpaca.json", `${JSON.stringify(row)}\n`) })
    expect(conversations(loaded)[0]!.messages.map((m) => [m.role, m.content])).toEqual([
      ["system", "sys"], ["user", "q1"], ["assistant", "a1"], ["user", "q2\n\nctx"], ["assistant", "a2"]
    ])
  })

  it("reads the validation file with the train file's format", async () => {
    const train = text("t.jsonl", JSON.stringify({ prompt: "p", completion: "c" }))
    const validation = text("v.jsonl", JSON.stringify({ prompt: "vp", completion: "vc" }))
    const loaded = await run({ train, validation })
    expect(loaded.validation.map((row) => row.source)).toEqual(["v.jsonl:1"])
    expect(await failureOf({ train, validation }, { validationFraction: 0.5 })).toContain("use one of them")
  })

  it("builds a table whose schema survives Arrow IPC exactly as declared", async () => {
    const loaded = await run({ train: file(join(fixtures, "messages.jsonl")) })
    const table = ipcRoundTrip(toConversationTable(loaded.train))
    expect(fieldShapes(table.schema)).toEqual(fieldShapes(conversationSchema))
    expect(JSON.parse(JSON.stringify(table.toArray()))).toEqual(
      loaded.train.map((row) => ({ ...row.conversation, source: row.source }))
    )
    expect(load.name).toBe("load")
  })
})

describe("load: inspect", () => {
  it("shows the first rows one message per line, tool calls and tool names included", async () => {
    const loaded = await run({ train: file(join(datasets, "llama-factory/glaive_toolcall_en_demo.json")) })
    const view = await Effect.runPromise(Effect.scoped(load.inspect!({
      config: config(),
      inputs: { train: undefined as never, validation: undefined },
      outputs: { train: await tableReader(toConversationTable(loaded.train)), validation: await tableReader(toConversationTable([])) },
      rows: 1,
      color: false
    })))
    const lines = view.split("\n")
    expect(lines.slice(0, 3)).toEqual([
      "train: 300 rows",
      "glaive_toolcall_en_demo.json:2",
      `  tools: ${loaded.train[0]!.conversation.tools!.slice(0, 97)}...`
    ])
    expect(lines).toContain("  user: I have chicken, bell peppers, and rice.")
    expect(lines).toContain("  assistant: ")
    expect(lines.some((line) => line.startsWith('    tool_calls: [{"type":"function","function":{"name":"search_recipes"'))).toBe(true)
    expect(lines.some((line) => line.startsWith('  tool (search_recipes): {"recipes"'))).toBe(true)
    expect(lines.at(-1)).toBe("validation: 0 rows")
  })
})

describeOracle("load: columnar files written by pyarrow (oracle)", () => {
  const jsonl = join(fixtures, "messages.jsonl")
  let dir = ""
  let written: { codecs: Record<string, Array<string>> } = { codecs: {} }
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "load-columnar-"))
    written = JSON.parse(runOracle(join(import.meta.dirname, "oracle", "write_columnar.py"), [jsonl, dir]))
  })

  it("wrote snappy and zstd Parquet with nested list<struct> messages", () => {
    expect(written.codecs).toEqual({ snappy: ["SNAPPY"], zstd: ["ZSTD"] })
  })

  it.each(["messages.snappy.parquet", "messages.zstd.parquet", "messages.arrow", "messages.arrows"])(
    "%s loads identically to the same data as JSONL",
    async (name) => {
      const reference = await run({ train: file(jsonl) })
      const loaded = await run({ train: file(join(dir, name)) })
      expect(loaded.metrics.format).toBe("messages")
      expect(conversations(loaded)).toEqual(conversations(reference))
      expect(loaded.train.map((row) => row.source)).toEqual(reference.train.map((_, index) => `${name}:row ${index}`))
      // null struct fields (tool_calls, name) are absent values, not unknown keys; the int64 id is one
      expect(Object.keys(loaded.metrics).filter((key) => key.startsWith("unknownKeys."))).toEqual(["unknownKeys.id"])
      expect(loaded.metrics["unknownKeys.id"]).toBe(reference.train.length)
    }
  )
})
