/**
 * The automatic code digest of a stage: its module, every local module it imports (transitively),
 * and its `extraCode` files and directories, each hashed by content. Paths are relative to the
 * project root (the nearest directory above the module holding a package.json) so keys do not
 * depend on where the project is checked out.
 *
 * Engine files (src/) are left out and not followed: the engine version covers them. Bare
 * specifiers (packages) are left out too; the lock file pins them.
 */
import { createHash } from "node:crypto"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
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

/**
 * Modules already read, by path. One per run, never longer: a file edited between two runs in one
 * process (a library user, a test) must be read again.
 */
export type ModuleCache = Map<string, { digest: string; imports: Array<string> }>

const readModule = (path: string, modules: ModuleCache): { digest: string; imports: Array<string> } => {
  const cached = modules.get(path)
  if (cached) return cached
  const bytes = readFileSync(path)
  const imports: Array<string> = []
  if (parsed.has(extname(path))) {
    for (const specifier of importSpecifiers(bytes.toString("utf8"))) {
      if (!specifier.startsWith("./") && !specifier.startsWith("../")) continue
      const target = resolveLocal(path, specifier)
      if (target === undefined) {
        throw new CodeDigestError({ file: path, message: `cannot resolve import "${specifier}"` })
      }
      imports.push(target)
    }
  }
  const entry = { digest: createHash("sha256").update(bytes).digest("hex"), imports }
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

/** Files of a stage's code, project-relative `/`-separated path → sha256. Throws CodeDigestError. */
export const codeFiles = (
  moduleUrl: string,
  extraCode: ReadonlyArray<string> = [],
  modules: ModuleCache = new Map()
): Record<string, string> => {
  const modulePath = moduleUrl.startsWith("file:") ? fileURLToPath(moduleUrl) : resolve(moduleUrl)
  if (!existsSync(modulePath)) throw new CodeDigestError({ file: modulePath, message: "stage module not found" })
  const root = projectRootOf(dirname(modulePath))
  const files = new Map<string, string>()
  const pending = [modulePath]
  while (pending.length > 0) {
    const path = pending.pop()!
    if (files.has(path) || isUnder(path, engineRoot) || path.includes(`${sep}node_modules${sep}`)) continue
    const module = readModule(path, modules)
    files.set(path, module.digest)
    pending.push(...module.imports)
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
  return out
}
