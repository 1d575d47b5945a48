// @ts-check
/**
 * An entry file and everything it imports, compiled by esbuild into one cached script, and run with
 * V8's code cache.
 *
 * Why: start-up is most of a cached run. Node 20 loads ES modules one file at a time (`import
 * "effect"` reads 144 files: 0.4 s on a slow core), cannot run TypeScript by itself, and keeps no
 * compiled code between processes. One bundle of the same code loads in a quarter of that, and
 * with V8's code cache in half again. So the CLI runs as one bundle of src/, and each pipeline file
 * as one bundle of its stages. This file is plain JavaScript because bin/pipeline.js needs it
 * before anything can be compiled.
 *
 * A bundle is reused while every file it was built from is unchanged: files under node_modules by
 * size and modification time (a package changes by being reinstalled), every other file by its
 * content. Checking costs a few milliseconds; rebuilding the CLI about a second.
 *
 * Bundles are CommonJS because only scripts can use a code cache on Node 20; so a pipeline file
 * cannot use top-level await (esbuild says so, with file and line). `sourceMapped` moves stack
 * positions back to the source files through each bundle's source map.
 */
import { createHash } from "node:crypto"
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { createRequire, SourceMap } from "node:module"
import { basename, dirname, extname, join, resolve, sep } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { constants, Script } from "node:vm"

/** Bump when the build options below change, so every cached bundle is rebuilt. */
const scheme = 3

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..")

/** Where bundles are kept: $PIPELINE_CACHE, else node_modules/.cache/sft-pipeline in this package. */
const cacheDirectory = () => process.env.PIPELINE_CACHE || join(packageRoot, "node_modules", ".cache", "sft-pipeline")

/** Where the running CLI publishes the modules that pipeline bundles take from it (SharedModules.ts). */
export const sharedModulesKey = "sft-pipeline/shared-modules"

/**
 * @typedef {object} BundleOptions
 * @property {ReadonlyArray<string>} [shared] modules to take from the running CLI instead of
 *   bundling a copy: package specifiers ("effect/Schema") or absolute file paths
 * @property {string} [engineDir] files here that are not shared are refused: a second copy of an
 *   engine module would not share the engine's state
 */

/**
 * @typedef {object} Manifest
 * @property {number} scheme
 * @property {string} options digest of the entry and its BundleOptions
 * @property {Record<string, string>} inputs every file the bundle was built from → fingerprint
 * @property {string} output file name of the bundle in the cache directory, named by its digest
 */

/** @param {string | Uint8Array} bytes */
const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex")

/** @param {string} path */
const isPackageFile = (path) => path.includes(`${sep}node_modules${sep}`)

/**
 * What a bundle's manifest keeps of one of its files: size and modification time for a package
 * file, the sha256 of its bytes (read now unless given) for any other.
 * @param {string} path
 * @param {Uint8Array} [bytes]
 */
const fingerprint = (path, bytes) => {
  if (isPackageFile(path)) {
    const stat = statSync(path, { throwIfNoEntry: false })
    return stat === undefined ? "missing" : `${stat.size}:${stat.mtimeMs}`
  }
  try {
    return sha256(bytes ?? readFileSync(path))
  } catch {
    return "missing"
  }
}

/**
 * @param {string} path
 * @returns {Manifest | undefined}
 */
const readManifest = (path) => {
  try {
    return JSON.parse(readFileSync(path, "utf8"))
  } catch {
    return undefined
  }
}

/**
 * The first file the manifest's bundle was built from that is no longer as it was.
 * @param {Manifest} manifest
 * @returns {string | undefined}
 */
const firstChanged = (manifest) => Object.entries(manifest.inputs).find(([input, print]) => fingerprint(input) !== print)?.[0]

/**
 * Whether the manifest's bundle is still what `options` would build from today's files.
 * @param {Manifest} manifest
 * @param {string} options
 */
const isFresh = (manifest, options) =>
  manifest.scheme === scheme && manifest.options === options && firstChanged(manifest) === undefined

/** esbuild's loader for a source file, by extension. @type {Record<string, import("esbuild").Loader>} */
const loaders = {
  ".ts": "ts", ".mts": "ts", ".cts": "ts", ".tsx": "tsx", ".js": "js", ".mjs": "js", ".cjs": "js", ".jsx": "jsx", ".json": "json"
}

/**
 * Reads every source file for esbuild, so that the manifest fingerprints the very bytes that were
 * compiled (a file edited during a build makes the next run rebuild), and gives each module its
 * own `import.meta.url`: stages name their module for the code digest, and modules find files
 * beside them (the native addon, built-in templates) relative to it.
 * @param {Map<string, string>} fingerprints filled with path → fingerprint of what was compiled
 * @returns {import("esbuild").Plugin}
 */
const sourceFiles = (fingerprints) => ({
  name: "source-files",
  setup(build) {
    build.onLoad({ filter: /\.([cm]?[jt]sx?|json)$/, namespace: "file" }, (args) => {
      // A package file's size and time are taken before its bytes, so a reinstall racing the
      // build leaves a fingerprint that no longer matches.
      const before = isPackageFile(args.path) ? fingerprint(args.path) : undefined
      const bytes = readFileSync(args.path)
      fingerprints.set(args.path, before ?? fingerprint(args.path, bytes))
      const text = bytes.toString("utf8")
      const contents = !text.includes("import.meta") ? text : text
        .replace(/\bimport\.meta\.url\b/g, JSON.stringify(pathToFileURL(args.path).href))
        .replace(/\bimport\.meta\.filename\b/g, JSON.stringify(args.path))
        .replace(/\bimport\.meta\.dirname\b/g, JSON.stringify(dirname(args.path)))
      return { contents, loader: loaders[extname(args.path)] ?? "js" }
    })
  }
})

/**
 * Resolves the shared modules to the running CLI's instances instead of bundling copies.
 * @param {ReadonlyArray<string>} shared
 * @param {string | undefined} engineDir
 * @returns {import("esbuild").Plugin}
 */
const sharedModules = (shared, engineDir) => ({
  name: "shared-modules",
  setup(build) {
    const keys = new Set(shared)
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.importer.includes(`${sep}node_modules${sep}`)) return undefined
      const isPath = args.path.startsWith("./") || args.path.startsWith("../") || args.path.startsWith("/")
      const key = isPath ? resolve(args.resolveDir, args.path) : args.path
      if (keys.has(key)) return { path: key, namespace: "shared" }
      if (isPath && engineDir !== undefined && key.startsWith(engineDir + sep)) {
        const entry = shared.find((name) => name.startsWith(engineDir + sep))
        return { errors: [{ text: `import the engine through ${entry}, not ${key}` }] }
      }
      return undefined
    })
    build.onLoad({ filter: /.*/, namespace: "shared" }, (args) => ({
      contents: `module.exports = globalThis[Symbol.for(${JSON.stringify(sharedModulesKey)})][${JSON.stringify(args.path)}]`,
      loader: "js"
    }))
  }
})

/**
 * @param {string} path
 * @param {string | Uint8Array} contents
 */
const writeAtomically = (path, contents) => {
  const temporary = `${path}.${process.pid}.tmp`
  writeFileSync(temporary, contents)
  renameSync(temporary, path)
}

/**
 * Builds the bundle, writes it under its digest, then its manifest (the commit point), and removes
 * this entry's older bundles but the one the replaced manifest named: another process may have
 * read that manifest a moment ago and be about to run its bundle.
 * @param {string} entry
 * @param {BundleOptions} options
 * @param {string} optionsDigest
 * @param {string} cacheDir
 * @param {string} stem
 * @param {string | undefined} previous the bundle the replaced manifest named
 * @returns {Promise<Manifest>}
 */
const build = async (entry, options, optionsDigest, cacheDir, stem, previous) => {
  const esbuild = /** @type {typeof import("esbuild")} */ (createRequire(import.meta.url)("esbuild"))
  /** @type {Map<string, string>} */
  const compiled = new Map()
  const plugins = [sourceFiles(compiled)]
  if (options.shared) plugins.push(sharedModules(options.shared, options.engineDir))
  const result = await esbuild.build({
    entryPoints: [entry],
    outfile: join(cacheDir, `${stem}.cjs`),
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    external: ["esbuild", "*.node"],
    sourcemap: "external",
    sourcesContent: false,
    metafile: true,
    write: false,
    logLevel: "silent",
    plugins
  })
  const code = result.outputFiles.find((file) => file.path.endsWith(".cjs"))
  const map = result.outputFiles.find((file) => file.path.endsWith(".map"))
  if (code === undefined || map === undefined) throw new Error(`esbuild wrote no bundle for ${entry}`)
  const output = `${stem}-${sha256(code.text).slice(0, 16)}.cjs`
  try {
    mkdirSync(cacheDir, { recursive: true })
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw new Error(`cannot create the bundle cache ${cacheDir} (PIPELINE_CACHE moves it): ${reason}`)
  }
  writeAtomically(join(cacheDir, `${output}.map`), map.contents)
  writeAtomically(join(cacheDir, output), code.contents)
  /** @type {Record<string, string>} */
  const inputs = {}
  for (const input of Object.keys(result.metafile.inputs)) {
    if (input.startsWith("shared:")) continue
    const path = resolve(input)
    inputs[path] = compiled.get(path) ?? fingerprint(path)
  }
  /** @type {Manifest} */
  const manifest = { scheme, options: optionsDigest, inputs, output }
  writeAtomically(join(cacheDir, `${stem}.json`), JSON.stringify(manifest))
  const kept = [output, previous ?? output]
  for (const name of readdirSync(cacheDir)) {
    const stale = name.startsWith(`${stem}-`) && !kept.some((bundle) => name.startsWith(bundle)) && !name.endsWith(".tmp")
    if (stale) rmSync(join(cacheDir, name), { force: true })
  }
  return manifest
}

/**
 * The first message of a failed build (file, line and 0-based column of code that does not
 * compile), or undefined for any other error.
 * @param {unknown} error
 * @returns {import("esbuild").Message | undefined}
 */
export const buildMessage = (error) => {
  const errors = /** @type {{ errors?: unknown } | null} */ (error)?.errors
  return Array.isArray(errors) && errors.length > 0 ? errors[0] : undefined
}

/** The bundles this process ran → their source map, parsed when a stack trace first needs it. */
/** @type {Map<string, SourceMap | null | undefined>} */
const bundles = new Map()

/** @param {string} file */
const sourceMapOf = (file) => {
  let map = bundles.get(file)
  if (map === undefined) {
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, "utf8")))
    } catch {
      map = null
    }
    bundles.set(file, map)
  }
  return map
}

/**
 * `stack` with every position inside a bundle this process ran moved to its source file. Stack
 * traces are not mapped as they are made: Effect reads `.stack` while it loads, and parsing the
 * CLI's source map then would cost more than the whole cached run.
 * @param {string} stack
 * @returns {string}
 */
export const sourceMapped = (stack) =>
  stack.replace(/(\/[^\s():]+):(\d+):(\d+)/g, (position, file, line, column) => {
    if (!bundles.has(file)) return position
    const entry = sourceMapOf(file)?.findEntry(Number(line) - 1, Number(column) - 1)
    if (!entry || !("originalSource" in entry)) return position
    const source = resolve(dirname(file), entry.originalSource)
    return `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`
  })

/**
 * Runs a bundle as a CommonJS module, with V8's code cache kept beside it (the cache is written
 * after the module ran, so it also holds the functions that ran).
 * @param {string} file the bundle, as `bundle` returned it
 * @param {string} entry the source file it was built from: `require` resolves from there
 * @returns {Record<string, unknown>} the module's exports
 */
export const runBundle = (file, entry) => {
  const cacheFile = `${file}.v8cache`
  let cachedData
  try {
    cachedData = readFileSync(cacheFile)
  } catch {
    cachedData = undefined
  }
  const source = `(function (exports, require, module, __filename, __dirname) {${readFileSync(file, "utf8")}\n})`
  const script = new Script(source, {
    filename: file,
    cachedData,
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER
  })
  if (cachedData === undefined || script.cachedDataRejected) {
    let written = false
    const write = () => {
      if (written) return
      written = true
      try {
        writeAtomically(cacheFile, script.createCachedData())
      } catch {
        // A code cache only saves time; a read-only cache directory must not fail the command.
      }
    }
    // At exit, or a second in if the command runs longer: V8 drops the bytecode of functions idle
    // across a few collections, so a cache written after a training run lacked most of start-up
    // (`--help` then took 0.40 s instead of 0.25 s). Setting a V8 flag to stop that would change
    // the flag hash in the cache, and V8 would reject it in every later process.
    process.once("exit", write)
    setTimeout(write, 1000).unref()
  }
  bundles.set(file, undefined)
  const module = { exports: {} }
  script.runInThisContext()(module.exports, createRequire(entry), module, entry, dirname(entry))
  return module.exports
}

/** The manifest of every bundle `bundle` returned in this process, by bundle path. */
/** @type {Map<string, Manifest>} */
const manifests = new Map()

/**
 * The name of `entry`'s bundles and manifest in the cache directory.
 * @param {string} entry
 */
const stemOf = (entry) => `${basename(entry).replace(/\.[^.]*$/, "")}-${sha256(entry).slice(0, 12)}`

/**
 * The path of a fresh bundle of `entry` (an absolute path), built first when any of its files
 * changed. Throws esbuild's error (with `errors[].location`) when the code does not compile.
 * @param {string} entry
 * @param {BundleOptions} [options]
 * @returns {Promise<string>}
 */
export const bundle = async (entry, options = {}) => {
  const cacheDir = cacheDirectory()
  const stem = stemOf(entry)
  const optionsDigest = sha256(JSON.stringify({ entry, shared: options.shared ?? [], engineDir: options.engineDir ?? "" }))
  const cached = readManifest(join(cacheDir, `${stem}.json`))
  const manifest = cached !== undefined && isFresh(cached, optionsDigest)
    ? cached
    : await build(entry, options, optionsDigest, cacheDir, stem, cached?.output)
  const file = join(cacheDir, manifest.output)
  manifests.set(file, manifest)
  return file
}

/**
 * A file the bundle at `file` (as `bundle` returned it in this process) was built from that has
 * changed since. A caller that hashes source files after running a bundle asks this afterwards:
 * the hashes describe the code that ran only when nothing changed in between.
 * @param {string} file
 * @returns {string | undefined}
 */
export const changedSinceBundled = (file) => {
  const manifest = manifests.get(file)
  if (manifest === undefined) throw new Error(`${file} was not bundled by this process`)
  return firstChanged(manifest)
}
