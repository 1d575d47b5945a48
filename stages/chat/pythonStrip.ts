/**
 * Python's `str.strip`/`lstrip`/`rstrip` and jinja2's `trim` filter for @huggingface/jinja templates.
 *
 * transformers renders chat templates with jinja2, where these are Python's: `'  a'.lstrip('\n')` is
 * `'  a'`, `'xxaxx'.strip('x')` is `'a'`, and without an argument they strip what `str.isspace()`
 * calls whitespace. @huggingface/jinja (0.5.11, and 0.5.13 still) ignores the argument and strips
 * JavaScript's whitespace, which differs too (U+FEFF is, U+001C–U+001F are not); Qwen3's template
 * applies `content.lstrip('\n')` to the last turn, so a reply starting with spaces lost them. The
 * library exposes its parsed program (`Template.parsed`) and resolves identifiers against the render
 * variables, so rather than fork it, {@link rewriteStripCalls} turns every `x.strip(…)`,
 * `x.lstrip(…)`, `x.rstrip(…)` and `x | trim(…)` into a call of a function from
 * {@link stripFunctions}, passed with the variables. `{% filter trim %}` blocks keep the library's
 * trim: no chat template we know uses one.
 */
import type { Template } from "@huggingface/jinja"
import { parse, tokenize } from "@huggingface/jinja"

type Side = "strip" | "lstrip" | "rstrip"

/** A node of the library's AST: every node class has a string `type`; fields hold nodes, arrays of nodes or Maps of them. */
interface AstNode {
  type: string
  [field: string]: unknown
}

interface CallNode extends AstNode {
  callee: AstNode
  args: Array<AstNode>
}

// Names no template defines (jinja2 would not see them: it runs the original template).
const methodFunction: Record<Side, string> = {
  strip: "__python_str_strip",
  lstrip: "__python_str_lstrip",
  rstrip: "__python_str_rstrip"
}
const trimFunction = "__jinja2_trim"

/** `str.isspace()`: the 29 characters CPython 3 accepts, all in the BMP. */
const isPythonSpace = (c: number): boolean =>
  (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c === 0x85 || c === 0xa0 || c === 0x1680 ||
  (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000

const isHigh = (unit: number) => unit >= 0xd800 && unit <= 0xdbff
const isLow = (unit: number) => unit >= 0xdc00 && unit <= 0xdfff

/** Python's `text.strip(chars)` (and lstrip/rstrip): `chars` is a set of code points, null means whitespace. */
export const pythonStrip = (text: string, chars: string | null, side: Side): string => {
  const codePoints = chars === null ? undefined : new Set(Array.from(chars, (c) => c.codePointAt(0)!))
  const strips = (c: number) => (codePoints === undefined ? isPythonSpace(c) : codePoints.has(c))
  let start = 0
  let end = text.length
  if (side !== "rstrip") {
    while (start < end) {
      const c = text.codePointAt(start)!
      if (!strips(c)) break
      start += c > 0xffff ? 2 : 1
    }
  }
  if (side !== "lstrip") {
    while (end > start) {
      const pair = end - start >= 2 && isLow(text.charCodeAt(end - 1)) && isHigh(text.charCodeAt(end - 2))
      const width = pair ? 2 : 1
      if (!strips(text.codePointAt(end - width)!)) break
      end -= width
    }
  }
  return text.slice(start, end)
}

const typeName = (value: unknown): string =>
  value === null ? "none" : value === undefined ? "undefined" : value instanceof Map ? "mapping" : Array.isArray(value) ? "list" : typeof value

// The library passes a function the `.value` of each argument; keyword arguments come last, as a
// Map of runtime values (whose `.value` is the argument).
const method = (side: Side) => (...args: Array<unknown>): string => {
  const [text, chars] = args
  if (typeof text !== "string") throw new Error(`${side}() called on ${typeName(text)}, not a string`)
  if (args.some((arg) => arg instanceof Map)) throw new Error(`str.${side}() takes no keyword arguments`)
  if (args.length > 2) throw new Error(`str.${side}() takes at most 1 argument (${args.length - 1} given)`)
  if (chars !== undefined && chars !== null && typeof chars !== "string") {
    throw new Error(`str.${side}() argument must be none or a string, not ${typeName(chars)}`)
  }
  return pythonStrip(text, chars ?? null, side)
}

const trim = (...args: Array<unknown>): string => {
  const keywords = args.at(-1) instanceof Map ? (args.pop() as Map<string, unknown>) : new Map<string, unknown>()
  const [text, ...positional] = args
  if (typeof text !== "string") throw new Error(`trim: expected a string, got ${typeName(text)}`)
  for (const key of keywords.keys()) if (key !== "chars") throw new Error(`trim: unexpected keyword argument '${key}'`)
  if (positional.length + keywords.size > 1) throw new Error("trim takes at most one argument, chars")
  const chars = positional[0] ?? (keywords.get("chars") as { value: unknown } | undefined)?.value
  if (chars !== undefined && chars !== null && typeof chars !== "string") {
    throw new Error(`trim: chars must be none or a string, not ${typeName(chars)}`)
  }
  return pythonStrip(text, chars ?? null, "strip")
}

/** The functions rewritten templates call, to pass among the render variables. */
export const stripFunctions: Readonly<Record<string, (...args: Array<unknown>) => string>> = {
  [methodFunction.strip]: method("strip"),
  [methodFunction.lstrip]: method("lstrip"),
  [methodFunction.rstrip]: method("rstrip"),
  [trimFunction]: trim
}

/** A call `name()` built by the library's own parser, so its nodes are the library's classes. */
const callOf = (name: string): CallNode => parse(tokenize(`{{ ${name}() }}`)).body[0] as unknown as CallNode

const isNode = (value: unknown): value is AstNode =>
  typeof value === "object" && value !== null && typeof (value as { type?: unknown }).type === "string"

const isSide = (name: unknown): name is Side => name === "strip" || name === "lstrip" || name === "rstrip"

/** `node` with strip calls and trim filters replaced, children first (the walk covers every field, so no node kind is missed). */
const rewrite = (node: AstNode): AstNode => {
  for (const [field, value] of Object.entries(node)) {
    if (Array.isArray(value)) value.forEach((item, i) => isNode(item) && (value[i] = rewrite(item)))
    else if (value instanceof Map) {
      const entries = [...value.entries()].map(([k, v]) => [isNode(k) ? rewrite(k) : k, isNode(v) ? rewrite(v) : v] as const)
      value.clear()
      for (const [k, v] of entries) value.set(k, v)
    } else if (isNode(value)) node[field] = rewrite(value)
  }
  if (node.type === "CallExpression") {
    const call = node as CallNode
    const callee = call.callee
    const property = callee.property as AstNode | undefined
    if (callee.type === "MemberExpression" && callee.computed === false && property?.type === "Identifier" && isSide(property.value)) {
      call.args = [callee.object as AstNode, ...call.args]
      call.callee = callOf(methodFunction[property.value]).callee
    }
    return call
  }
  if (node.type === "FilterExpression") {
    const filter = node.filter as AstNode
    const name = filter.type === "Identifier" ? filter.value : filter.type === "CallExpression" ? (filter as CallNode).callee.value : undefined
    if (name !== "trim") return node
    const call = callOf(trimFunction)
    call.args = [node.operand as AstNode, ...(filter.type === "CallExpression" ? (filter as CallNode).args : [])]
    return call
  }
  return node
}

/** Rewrites a parsed template in place so that it strips as jinja2 does when rendered with {@link stripFunctions}. */
export const rewriteStripCalls = (program: Template["parsed"]): void => {
  rewrite(program as unknown as AstNode)
}
