/**
 * Type-checks a pipeline file and everything it imports with the TypeScript compiler, giving the
 * errors an editor shows. The compiler is loaded when asked for (it is several megabytes that no
 * other command needs, and outside the CLI's bundle), from the project's own `typescript`.
 *
 * Options come from the tsconfig.json nearest the file, else from the settings this project's
 * stages are written for (strict, NodeNext modules, `.ts` imports).
 */
import { createRequire } from "node:module"
import { dirname, relative } from "node:path"
import { Effect, Schema } from "effect"
import type * as TypeScript from "typescript"

/** The compiler is not installed where the pipeline or the CLI could load it from. */
export class NoTypeScript extends Schema.TaggedError<NoTypeScript>()("NoTypeScript", {
  message: Schema.String
}) {}

const defaults = (ts: typeof TypeScript): TypeScript.CompilerOptions => ({
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true,
  allowImportingTsExtensions: true,
  verbatimModuleSyntax: true,
  resolveJsonModule: true,
  skipLibCheck: true,
  types: ["node"]
})

const loadCompiler = (file: string): typeof TypeScript | undefined => {
  for (const from of [file, import.meta.url]) {
    try {
      return createRequire(from)("typescript") as typeof TypeScript
    } catch {
      // Not resolvable from here; try the next place.
    }
  }
  return undefined
}

const shown = (path: string): string => {
  const rel = relative(process.cwd(), path)
  return rel.startsWith("..") ? path : rel
}

/** The type errors of `file` and its imports, one `file:line:col: error TSnnnn: message` each. */
export const typeErrors = (file: string): Effect.Effect<ReadonlyArray<string>, NoTypeScript> =>
  Effect.gen(function*() {
    const ts = loadCompiler(file)
    if (ts === undefined) {
      return yield* new NoTypeScript({ message: "pipeline check needs the typescript package: npm install --save-dev typescript" })
    }
    return yield* Effect.sync(() => {
      const configPath = ts.findConfigFile(dirname(file), ts.sys.fileExists, "tsconfig.json")
      const options = configPath === undefined
        ? defaults(ts)
        : ts.parseJsonConfigFileContent(ts.readConfigFile(configPath, ts.sys.readFile).config, ts.sys, dirname(configPath)).options
      const program = ts.createProgram({ rootNames: [file], options: { ...options, noEmit: true } })
      return ts.getPreEmitDiagnostics(program)
        .filter((diagnostic) => diagnostic.category === ts.DiagnosticCategory.Error)
        .map((diagnostic) => {
          const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n  ")
          if (diagnostic.file === undefined || diagnostic.start === undefined) return `error TS${diagnostic.code}: ${text}`
          const at = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start)
          return `${shown(diagnostic.file.fileName)}:${at.line + 1}:${at.character + 1}: error TS${diagnostic.code}: ${text}`
        })
    })
  })
