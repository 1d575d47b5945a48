/**
 * The automatic code digest of a stage: its module, every local module it imports (transitively),
 * and its `extraCode` files and directories, each hashed by content. Paths are relative to the
 * project root (the nearest directory above the module holding a package.json) so keys do not
 * depend on where the project is checked out.
 *
 * Engine files (src/) are left out and not followed: the engine version covers them. Packages
 * (bare specifiers) enter by name and installed version, the version read from the package.json
 * that Node's resolution finds from the importing file: an upgrade of a tokenizer library changes
 * the key of exactly the stages whose code imports it. What those packages import in turn is not
 * followed (their own version pins it in practice, not by proof).
 */
import { createHash } from "node:crypto"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { isBuiltin } from "node:module"
import { dirname, extname, join, relative, resolve, sep } from "node:path"
import { fileURLToPath } from "node:url"
import { Schema } from "effect"
import { importSpecifiers } from "./Imports.ts"

/** A stage's code could not be read or an import could not be resolved. */
export class CodeDigestError extends Schema.TaggedError<CodeDigestError>()("CodeDigestError", {
  file: Schema.String,
  message: Schema.String
}) {}

const parsed = new Set([".ts", ".tsx", ".mts", ".cts", ".js", ".mjs", ".cjs", ".jsx"])

const engineRoot = dirname(dirname(fileURLToPath(import.meta.url)))

const isUnder = (path: string, root: string): boolean => path === root || path.startsWith(root + sep)

const projectRootOf = (start: string): string => {
  let dir = start
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return dir
    const parent = dirname(dir)
    if (parent === dir) return start
    dir = parent
  }
}

const resolveLocal = (from: string, specifier: string): string | undefined => {
  const base = resolve(dirname(from), specifier)
  const candidates = [base]
  // TypeScript lets `./x.js` name `./x.ts`; extensionless specifiers are resolved the usual ways.
  if (/\.[cm]?js$/.test(base)) candidates.push(base.replace(/js$/, "ts"))
  candidates.push(`${base}.ts`, `${base}.tsx`, `${base}.js`, join(base, "index.ts"), join(base, "index.js"))
  return candidates.find((candidate) => existsSync(candidate) && statSync(candidate).isFile())
}

const hashFile = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex")

/** What one module contributes: its digest, the local modules it imports, and its packages with their versions. */
interface ModuleEntry {
  readonly digest: string
  readonly imports: Array<string>
  readonly packages: Array<readonly [string, string]>
}

/**
 * Modules already read, by path. One per run, never longer: a file edited between two runs in one
 * process (a library user, a test), or a package reinstalled, must be read again.
 */
export type ModuleCache = Map<string, ModuleEntry>

/** The package a bare specifier names: `@scope/name` or `name`, without a subpath. */
const packageName = (specifier: string): string => {
  const parts = specifier.split("/")
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!
}

/** Shown for a package no node_modules above the importing file holds (a type-only import, say). */
export const notInstalled = "(not installed)"

/** The installed version of package `name` as Node resolves it from `file`. */
const installedVersion = (file: string, name: string): string => {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const manifest = join(dir, "node_modules", name, "package.json")
    if (existsSync(manifest)) {
      try {
        const version = (JSON.parse(readFileSync(manifest, "utf8")) as { version?: unknown }).version
        return typeof version === "string" ? version : "(no version)"
      } catch (error) {
        throw new CodeDigestError({ file: manifest, message: `unreadable package.json: ${(error as Error).message}` })
      }
    }
    if (dirname(dir) === dir) return notInstalled
  }
}

const readModule = (path: string, modules: ModuleCache): ModuleEntry => {
  const cached = modules.get(path)
  if (cached) return cached
  const bytes = readFileSync(path)
  const imports: Array<string> = []
  const packages: Array<readonly [string, string]> = []
  if (parsed.has(extname(path))) {
    for (const specifier of importSpecifiers(bytes.toString("utf8"))) {
      if (specifier.startsWith("./") || specifier.startsWith("../")) {
        const target = resolveLocal(path, specifier)
        if (target === undefined) {
          throw new CodeDigestError({ file: path, message: `cannot resolve import "${specifier}"` })
        }
        imports.push(target)
      } else if (!specifier.startsWith("/") && !isBuiltin(specifier)) {
        const name = packageName(specifier)
        if (!packages.some(([known]) => known === name)) packages.push([name, installedVersion(path, name)])
      }
    }
  }
  const entry = { digest: createHash("sha256").update(bytes).digest("hex"), imports, packages }
  modules.set(path, entry)
  return entry
}

const walk = (dir: string, out: Array<string>): void => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".") || entry.name === "node_modules") continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) walk(path, out)
    else if (entry.isFile()) out.push(path)
  }
}

/** A stage's code: its files (project-relative `/`-separated path → sha256) and the packages they import (name → version). */
export interface StageCode {
  readonly files: Record<string, string>
  readonly packages: Record<string, string>
}

/** The code of the stage defined in `moduleUrl`. Throws CodeDigestError. */
export const codeOf = (
  moduleUrl: string,
  extraCode: ReadonlyArray<string> = [],
  modules: ModuleCache = new Map()
): StageCode => {
  const modulePath = moduleUrl.startsWith("file:") ? fileURLToPath(moduleUrl) : resolve(moduleUrl)
  if (!existsSync(modulePath)) throw new CodeDigestError({ file: modulePath, message: "stage module not found" })
  const root = projectRootOf(dirname(modulePath))
  const files = new Map<string, string>()
  const packages = new Map<string, Set<string>>()
  const pending = [modulePath]
  while (pending.length > 0) {
    const path = pending.pop()!
    if (files.has(path) || isUnder(path, engineRoot) || path.includes(`${sep}node_modules${sep}`)) continue
    const module = readModule(path, modules)
    files.set(path, module.digest)
    pending.push(...module.imports)
    for (const [name, version] of module.packages) (packages.get(name) ?? packages.set(name, new Set()).get(name)!).add(version)
  }
  for (const extra of extraCode) {
    const path = resolve(dirname(modulePath), extra)
    if (!existsSync(path)) throw new CodeDigestError({ file: modulePath, message: `extraCode "${extra}" not found` })
    const all: Array<string> = []
    if (statSync(path).isDirectory()) walk(path, all)
    else all.push(path)
    for (const file of all) if (!files.has(file)) files.set(file, hashFile(file))
  }
  const out: Record<string, string> = {}
  for (const path of [...files.keys()].sort()) {
    out[relative(root, path).split(sep).join("/")] = files.get(path)!
  }
  // Two files of one stage may resolve a package to two installed copies: both versions count.
  const versions: Record<string, string> = {}
  for (const name of [...packages.keys()].sort()) versions[name] = [...packages.get(name)!].sort().join(" + ")
  return { files: out, packages: versions }
}
