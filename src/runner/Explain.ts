/**
 * Why two keys differ: walks two key manifests field by field and names each difference
 * (`config /train/learningRate 0.00002 → 0.00005`, `code stages/pack.ts`, `input tokens ab… → cd…`,
 * `package @huggingface/tokenizers 0.2.0 → 0.2.1`).
 */
import type { Json } from "../key/Canonical.ts"
import { jsonPointer } from "../key/Canonical.ts"
import { short } from "../key/Key.ts"
import type { KeyManifest } from "../key/Manifest.ts"

/** One reason two manifests differ. */
export interface Reason {
  readonly kind: "scheme" | "engine" | "stage" | "code" | "package" | "config" | "input" | "env" | "seed"
  /** Config JSON pointer, code file, package, input or env name. */
  readonly path: string
  readonly old?: string
  readonly new?: string
}

const show = (value: Json | undefined): string => (value === undefined ? "(absent)" : JSON.stringify(value))

const isObject = (value: Json | undefined): value is { readonly [key: string]: Json } =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** The keys of either record, sorted, so reasons come in a stable order. */
const keysOf = (a: object, b: object): Array<string> => [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()

const diffJson = (a: Json | undefined, b: Json | undefined, path: ReadonlyArray<string>, out: Array<Reason>): void => {
  if (JSON.stringify(a) === JSON.stringify(b)) return
  if (isObject(a) && isObject(b)) {
    for (const key of keysOf(a, b)) {
      diffJson(a[key], b[key], [...path, key], out)
    }
    return
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((item, index) => diffJson(item, (b as ReadonlyArray<Json>)[index], [...path, String(index)], out))
    return
  }
  out.push({ kind: "config", path: jsonPointer(path), old: show(a), new: show(b) })
}

const shortDigest = (digest: string | undefined): string => (digest === undefined ? "(none)" : short(digest))

/** The differences between the manifests of the same instance in two runs, most fundamental first. */
export const explainManifests = (instance: string, a: KeyManifest, b: KeyManifest): Array<Reason> => {
  const out: Array<Reason> = []
  if (a.scheme !== b.scheme) out.push({ kind: "scheme", path: "", old: String(a.scheme), new: String(b.scheme) })
  if (a.engine !== b.engine) out.push({ kind: "engine", path: "", old: a.engine, new: b.engine })
  if (a.stage !== b.stage) out.push({ kind: "stage", path: "", old: a.stage, new: b.stage })
  for (const file of keysOf(a.code.files, b.code.files)) {
    const before = a.code.files[file]
    const after = b.code.files[file]
    if (before === after) continue
    out.push({ kind: "code", path: file, ...(before === undefined ? { old: "(absent)" } : {}), ...(after === undefined ? { new: "(absent)" } : {}) })
  }
  const packagesA = a.code.packages ?? {}
  const packagesB = b.code.packages ?? {}
  for (const name of keysOf(packagesA, packagesB)) {
    if (packagesA[name] !== packagesB[name]) {
      out.push({ kind: "package", path: name, old: packagesA[name] ?? "(not imported)", new: packagesB[name] ?? "(not imported)" })
    }
  }
  if (a.code.version !== b.code.version) {
    out.push({ kind: "code", path: "version", old: show(a.code.version), new: show(b.code.version) })
  }
  diffJson(a.config as Json, b.config as Json, [instance], out)
  for (const name of keysOf(a.inputs, b.inputs)) {
    const before = a.inputs[name] ?? undefined
    const after = b.inputs[name] ?? undefined
    if (before?.digest !== after?.digest) {
      out.push({ kind: "input", path: name, old: shortDigest(before?.digest), new: shortDigest(after?.digest) })
    } else if (before?.name !== after?.name) {
      out.push({ kind: "input", path: `${name} name`, old: String(before?.name), new: String(after?.name) })
    }
  }
  for (const name of keysOf(a.env, b.env)) {
    if (a.env[name] !== b.env[name]) {
      out.push({ kind: "env", path: name, old: a.env[name] ?? "(absent)", new: b.env[name] ?? "(absent)" })
    }
  }
  if (a.seed !== b.seed) out.push({ kind: "seed", path: "", old: String(a.seed), new: String(b.seed) })
  return out
}

/** One line per reason, in the form `config /stage/key old → new`. */
export const formatReason = (reason: Reason): string => {
  const change = reason.old !== undefined || reason.new !== undefined
    ? ` ${reason.old ?? ""}${reason.old !== undefined && reason.new !== undefined ? " → " : ""}${reason.new ?? ""}`
    : ""
  if (reason.kind === "code" && reason.path !== "version") {
    const note = reason.old === "(absent)" ? " (added)" : reason.new === "(absent)" ? " (removed)" : ""
    return `code ${reason.path}${note}`
  }
  return `${reason.kind}${reason.path === "" ? "" : ` ${reason.path}`}${change}`
}
