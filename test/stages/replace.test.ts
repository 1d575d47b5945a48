import { describe, expect, it } from "vitest"
import { message } from "../../stages/formats/conversation.ts"
import type { Conversation } from "../../stages/formats/conversation.ts"
import { makeReplacer } from "../../stages/formats/replace.ts"

const conversation = (...contents: ReadonlyArray<string>): Conversation => ({
  messages: contents.map((content, k) => message(k % 2 === 0 ? "user" : "assistant", content)),
  tools: null
})

const replace = (table: Record<string, string>, ...contents: ReadonlyArray<string>) => {
  const { conversation: out, count } = makeReplacer(table).apply(conversation(...contents))
  return { contents: out.messages.map((m) => m.content), count }
}

describe("makeReplacer", () => {
  it("replaces every placeholder of every message and counts them", () => {
    expect(replace({ "{{name}}": "Ada", "{{author}}": "Lab" }, "Who are you?", "I am {{name}}, by {{author}}. {{name}}!"))
      .toEqual({ contents: ["Who are you?", "I am Ada, by Lab. Ada!"], count: 3 })
  })

  it("never replaces text that a replacement inserted", () => {
    expect(replace({ "{{name}}": "Ada", "Ada": "X" }, "{{name}}", "Ada and {{name}}"))
      .toEqual({ contents: ["Ada", "X and Ada"], count: 3 })
    expect(replace({ "a": "b", "b": "a" }, "abba")).toEqual({ contents: ["baab"], count: 4 })
  })

  it("takes the longest key where keys overlap, whatever their order", () => {
    const expected = { contents: ["Ada N"], count: 2 }
    expect(replace({ "name": "N", "{{name}}": "Ada" }, "{{name}} name")).toEqual(expected)
    expect(replace({ "{{name}}": "Ada", "name": "N" }, "{{name}} name")).toEqual(expected)
  })

  it("treats keys and values as literal text", () => {
    expect(replace({ "(.*)": "$&$1", "[x]": "\\" }, "a (.*) [x] b")).toEqual({ contents: ["a $&$1 \\ b"], count: 2 })
  })

  it("leaves a conversation without placeholders as it was", () => {
    const input = conversation("Hi", "Hello")
    const { conversation: out, count } = makeReplacer({ "{{name}}": "Ada" }).apply(input)
    expect(count).toBe(0)
    out.messages.forEach((m, k) => expect(m).toBe(input.messages[k]))
    expect(makeReplacer({ "": "x" }).apply(input)).toEqual({ conversation: input, count: 0 })
  })
})
