/**
 * safetensors reader and writer (https://github.com/huggingface/safetensors, "Format").
 *
 * A file is: 8 bytes little-endian u64 N, N bytes of UTF-8 JSON header, then the data buffer.
 * The header maps tensor names to { dtype, shape, data_offsets: [begin, end] } (offsets relative
 * to the buffer) plus an optional "__metadata__" string→string map.
 *
 * Why TypeScript and not C++: model files are untrusted input. The header is JSON, and here every
 * offset, size and shape is checked in a memory-safe language before any byte is read; what reaches
 * the native engine is only Float32Arrays whose lengths were checked against the config. A hostile
 * file therefore cannot cause an out-of-bounds read in C++, and every refusal names the file and
 * the tensor. Data is read range by range with positioned reads, never the whole file into one
 * Buffer, so multi-GB checkpoints stream through a bounded staging buffer.
 */
import { Effect, Schema } from "effect"
import { open, readFile, readdir } from "node:fs/promises"
import type { FileHandle } from "node:fs/promises"
import { basename, join } from "node:path"

/** A refused or unreadable safetensors file; `message` names the file and, when known, the tensor. */
export class SafetensorsError extends Schema.TaggedError<SafetensorsError>()("SafetensorsError", {
  file: Schema.String,
  tensor: Schema.optionalKey(Schema.String),
  message: Schema.String
}) {}

const refuse = (file: string, reason: string, tensor?: string): SafetensorsError =>
  new SafetensorsError({
    file,
    ...(tensor === undefined ? {} : { tensor }),
    message: tensor === undefined ? `${file}: ${reason}` : `${file}: tensor "${tensor}": ${reason}`
  })

/** The dtypes we convert to fp32. Other safetensors dtypes are refused by name. */
export const supportedDtypes = ["F32", "BF16", "F16"] as const
/** A dtype the reader converts to fp32. */
export type Dtype = (typeof supportedDtypes)[number]
const dtypeBytes: Record<Dtype, number> = { F32: 4, BF16: 2, F16: 2 }
// Every dtype the format defines, so an unsupported-but-valid one gets a precise message.
const knownDtypes = new Set([
  "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "I16", "U16", "F16", "BF16",
  "I32", "U32", "F32", "C64", "F64", "I64", "U64"
])

// The reference implementation's limit: a larger header is treated as hostile.
const maxHeaderBytes = 100_000_000
// Tensors become one Float32Array each and are indexed with int32 in the native engine.
const maxElements = 2 ** 31 - 1
const maxRank = 8
// Staging buffer for converted or large reads: bounds memory beyond the output arrays.
const chunkBytes = 1 << 26

/** One tensor's entry, with absolute byte positions in its file. */
export interface TensorInfo {
  readonly name: string
  readonly dtype: Dtype
  readonly shape: ReadonlyArray<number>
  readonly begin: number
  readonly end: number
}

/** A validated header: its tensors (every byte of the data covered exactly once) and metadata. */
export interface SafetensorsHeader {
  readonly file: string
  readonly tensors: ReadonlyArray<TensorInfo>
  readonly metadata: Readonly<Record<string, string>>
}

/** A tensor in memory: always fp32, C order. */
export interface Tensor {
  readonly shape: ReadonlyArray<number>
  readonly data: Float32Array
}

/** A JSON object (not null, not an array). */
export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Number of elements of a shape (1 for a scalar). */
export const numel = (shape: ReadonlyArray<number>): number => shape.reduce((a, b) => a * b, 1)

/**
 * Names of the top-level keys of a JSON object text, in order, duplicates kept.
 * JSON.parse keeps only the last of two equal keys; a tensor listed twice must be refused instead,
 * so the keys are recounted here. The text has already passed JSON.parse, so only strings and
 * nesting need tracking.
 */
const topLevelKeys = (text: string): Array<string> => {
  const keys: Array<string> = []
  let depth = 0
  let i = 0
  while (i < text.length) {
    const c = text[i]
    if (c === '"') {
      let j = i + 1
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1
      if (depth === 1) {
        let k = j + 1
        while (text[k] === " " || text[k] === "\t" || text[k] === "\n" || text[k] === "\r") k++
        if (text[k] === ":") keys.push(JSON.parse(text.slice(i, j + 1)) as string)
      }
      i = j + 1
      continue
    }
    if (c === "{" || c === "[") depth++
    else if (c === "}" || c === "]") depth--
    i++
  }
  return keys
}

const checkShape = (file: string, name: string, shape: unknown): ReadonlyArray<number> => {
  if (!Array.isArray(shape)) throw refuse(file, `"shape" must be an array of integers, got ${JSON.stringify(shape)}`, name)
  if (shape.length > maxRank) throw refuse(file, `rank ${shape.length} exceeds the maximum ${maxRank}`, name)
  let elements = 1
  for (const dim of shape) {
    if (typeof dim !== "number" || !Number.isSafeInteger(dim) || dim < 0) {
      throw refuse(file, `"shape" must hold non-negative integers, got ${JSON.stringify(shape)}`, name)
    }
    if (dim > maxElements || elements * dim > maxElements) {
      throw refuse(file, `shape ${JSON.stringify(shape)} has more than ${maxElements} elements`, name)
    }
    elements *= dim
  }
  return shape as ReadonlyArray<number>
}

/**
 * Validates a decoded header against the spec: every entry well formed, byte size equal to
 * dtype size × elements, offsets inside the buffer, and the entries covering the buffer exactly
 * with neither overlaps nor holes (the spec forbids holes so a file cannot smuggle other content).
 */
const parseHeader = (file: string, text: string, dataStart: number, fileSize: number): SafetensorsHeader => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    throw refuse(file, `header is not valid JSON (${(cause as Error).message})`)
  }
  if (!isRecord(json)) throw refuse(file, "header must be a JSON object")
  const names = topLevelKeys(text)
  const seen = new Set<string>()
  for (const name of names) {
    if (seen.has(name)) throw refuse(file, "listed more than once in the header", name)
    seen.add(name)
  }
  const bufferSize = fileSize - dataStart
  let metadata: Record<string, string> = {}
  const tensors: Array<TensorInfo> = []
  for (const [name, entry] of Object.entries(json)) {
    if (name === "__metadata__") {
      if (!isRecord(entry) || !Object.values(entry).every((v) => typeof v === "string")) {
        throw refuse(file, `"__metadata__" must be an object of strings`)
      }
      metadata = entry as Record<string, string>
      continue
    }
    if (!isRecord(entry)) throw refuse(file, "entry must be an object with dtype, shape and data_offsets", name)
    const dtype = entry.dtype
    if (typeof dtype !== "string") throw refuse(file, `"dtype" must be a string, got ${JSON.stringify(dtype)}`, name)
    if (!(supportedDtypes as ReadonlyArray<string>).includes(dtype)) {
      throw refuse(
        file,
        `${knownDtypes.has(dtype) ? "unsupported" : "unknown"} dtype ${JSON.stringify(dtype)} (supported: ${supportedDtypes.join(", ")})`,
        name
      )
    }
    const shape = checkShape(file, name, entry.shape)
    const offsets = entry.data_offsets
    if (
      !Array.isArray(offsets) || offsets.length !== 2 ||
      !offsets.every((o) => typeof o === "number" && Number.isSafeInteger(o) && o >= 0)
    ) {
      throw refuse(file, `"data_offsets" must be two non-negative integers, got ${JSON.stringify(offsets)}`, name)
    }
    const [begin, end] = offsets as [number, number]
    if (begin > end) throw refuse(file, `data_offsets [${begin}, ${end}] are reversed`, name)
    if (end > bufferSize) {
      throw refuse(file, `data_offsets [${begin}, ${end}] run past the end of the data (${bufferSize} bytes)`, name)
    }
    const elements = numel(shape)
    const expected = elements * dtypeBytes[dtype as Dtype]
    if (end - begin !== expected) {
      throw refuse(
        file,
        `holds ${end - begin} bytes but ${dtype} × ${JSON.stringify(shape)} needs ${expected}`,
        name
      )
    }
    tensors.push({ name, dtype: dtype as Dtype, shape, begin: dataStart + begin, end: dataStart + end })
  }
  const sorted = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end)
  let covered = dataStart
  for (const tensor of sorted) {
    if (tensor.begin < covered) throw refuse(file, "overlaps the previous tensor's bytes", tensor.name)
    if (tensor.begin > covered) throw refuse(file, `leaves a hole of ${tensor.begin - covered} bytes before it`, tensor.name)
    covered = tensor.end
  }
  if (covered !== fileSize) {
    throw refuse(file, `the data has ${fileSize - covered} trailing bytes that no tensor covers`)
  }
  return { file, tensors, metadata }
}

const fsError = (file: string, cause: unknown): SafetensorsError =>
  refuse(file, (cause as NodeJS.ErrnoException).code ?? String(cause))

// Converts and validates inside an Effect: a SafetensorsError thrown by the pure checks is a
// typed failure, anything else (a bug) stays a defect instead of being disguised as bad input.
const attempt = <A>(file: string, body: () => Promise<A>): Effect.Effect<A, SafetensorsError> =>
  Effect.tryPromise({
    try: body,
    catch: (cause) => (cause instanceof SafetensorsError ? cause : fsError(file, cause))
  })

const readExactly = async (handle: FileHandle, target: Uint8Array, position: number, file: string): Promise<void> => {
  let done = 0
  while (done < target.length) {
    const { bytesRead } = await handle.read(target, done, target.length - done, position + done)
    if (bytesRead === 0) throw refuse(file, `file ended while reading bytes ${position}..${position + target.length}`)
    done += bytesRead
  }
}

const readHeaderFrom = async (handle: FileHandle, file: string): Promise<SafetensorsHeader> => {
  const { size } = await handle.stat()
  if (size < 8) throw refuse(file, `file has ${size} bytes, fewer than the 8-byte header length`)
  const prefix = new Uint8Array(8)
  await readExactly(handle, prefix, 0, file)
  const headerLength = new DataView(prefix.buffer).getBigUint64(0, true)
  if (headerLength > BigInt(maxHeaderBytes)) {
    throw refuse(file, `header length ${headerLength} exceeds the ${maxHeaderBytes}-byte limit`)
  }
  const length = Number(headerLength)
  if (8 + length > size) throw refuse(file, `header length ${length} runs past the end of the ${size}-byte file`)
  const headerBytes = new Uint8Array(length)
  await readExactly(handle, headerBytes, 8, file)
  if (headerBytes[0] !== 0x7b) throw refuse(file, `header must start with "{"`)
  let text: string
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes)
  } catch {
    throw refuse(file, "header is not valid UTF-8")
  }
  return parseHeader(file, text, 8 + length, size)
}

/** Reads and validates a file's header; no tensor data is read. */
export const readHeader = (file: string): Effect.Effect<SafetensorsHeader, SafetensorsError> =>
  attempt(file, async () => {
    const handle = await open(file, "r")
    try {
      return await readHeaderFrom(handle, file)
    } finally {
      await handle.close()
    }
  })

let f16Table: Float32Array | undefined
// IEEE half → float, tabulated once (65536 entries) since Node 20 has no Float16Array.
const halfToFloat = (): Float32Array => {
  if (f16Table !== undefined) return f16Table
  const table = new Float32Array(65536)
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1
    const exponent = (h >> 10) & 0x1f
    const mantissa = h & 0x3ff
    table[h] =
      exponent === 0 ? sign * mantissa * 2 ** -24
      : exponent === 31 ? (mantissa === 0 ? sign * Infinity : NaN)
      : sign * (1 + mantissa / 1024) * 2 ** (exponent - 15)
  }
  f16Table = table
  return table
}

const readTensorData = async (handle: FileHandle, info: TensorInfo, file: string): Promise<Float32Array> => {
  const elements = numel(info.shape)
  const out = new Float32Array(elements)
  if (info.dtype === "F32") {
    // The format is little-endian, as is x64, the only platform the addon builds for (AVX2 kernels).
    for (let done = 0; done < out.byteLength; done += chunkBytes) {
      const view = new Uint8Array(out.buffer, done, Math.min(chunkBytes, out.byteLength - done))
      await readExactly(handle, view, info.begin + done, file)
    }
    return out
  }
  const bits = new Uint32Array(out.buffer)
  const table = info.dtype === "F16" ? halfToFloat() : undefined
  const staging = new Uint8Array(Math.min(chunkBytes, info.end - info.begin))
  for (let done = 0; done < info.end - info.begin; done += staging.length) {
    const view = staging.subarray(0, Math.min(staging.length, info.end - info.begin - done))
    await readExactly(handle, view, info.begin + done, file)
    const halves = new Uint16Array(view.buffer, view.byteOffset, view.length / 2)
    const base = done / 2
    if (table === undefined) for (let i = 0; i < halves.length; i++) bits[base + i] = halves[i]! << 16
    else for (let i = 0; i < halves.length; i++) out[base + i] = table[halves[i]!]!
  }
  return out
}

// Reads the tensors `names` (default: all) of one file after `check` accepts its header (it throws a
// SafetensorsError to refuse), so a caller that validates the header reads it only once.
const readTensors = (
  file: string,
  names: ReadonlyArray<string> | undefined,
  check: (header: SafetensorsHeader) => void
): Effect.Effect<Record<string, Tensor>, SafetensorsError> =>
  attempt(file, async () => {
    const handle = await open(file, "r")
    try {
      const header = await readHeaderFrom(handle, file)
      check(header)
      const byName = new Map(header.tensors.map((t) => [t.name, t]))
      const wanted = names ?? header.tensors.map((t) => t.name)
      const tensors: Record<string, Tensor> = {}
      for (const name of wanted) {
        const info = byName.get(name)
        if (info === undefined) throw refuse(file, "is listed in the index but missing from the file", name)
        tensors[name] = { shape: info.shape, data: await readTensorData(handle, info, file) }
      }
      return tensors
    } finally {
      await handle.close()
    }
  })

/** Reads every tensor of one file (or only `names`), converted to fp32. */
export const readSafetensors = (
  file: string,
  names?: ReadonlyArray<string>
): Effect.Effect<Record<string, Tensor>, SafetensorsError> => readTensors(file, names, () => {})

const ShardIndex = Schema.Struct({
  weight_map: Schema.Record(Schema.String, Schema.String)
})

const pickleFiles = ["pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt", "model.pth", "consolidated.00.pth"]

/**
 * All tensors of a Hugging Face model directory: `model.safetensors`, or the shards listed by
 * `model.safetensors.index.json`. Pickle checkpoints are refused: unpickling runs arbitrary code.
 */
export const readModelDirectory = (dir: string): Effect.Effect<Record<string, Tensor>, SafetensorsError> =>
  Effect.gen(function*() {
    const entries = yield* attempt(dir, () => readdir(dir))
    const indexFile = join(dir, "model.safetensors.index.json")
    if (entries.includes("model.safetensors.index.json")) {
      const text = yield* attempt(indexFile, () => readFile(indexFile, "utf8"))
      const json = yield* Effect.try({
        try: () => JSON.parse(text) as unknown,
        catch: (cause) => refuse(indexFile, `not valid JSON (${(cause as Error).message})`)
      })
      const index = yield* Schema.decodeUnknownEffect(ShardIndex)(json).pipe(
        Effect.mapError((error) => refuse(indexFile, error.message))
      )
      const byShard = new Map<string, Array<string>>()
      for (const [name, shard] of Object.entries(index.weight_map)) {
        if (shard !== basename(shard) || shard === ".." || !shard.endsWith(".safetensors")) {
          return yield* refuse(indexFile, `shard ${JSON.stringify(shard)} must be a .safetensors file in the same directory`, name)
        }
        byShard.set(shard, [...(byShard.get(shard) ?? []), name])
      }
      const tensors: Record<string, Tensor> = {}
      for (const [shard, names] of byShard) {
        const path = join(dir, shard)
        const shardTensors = yield* readTensors(path, names, (header) => {
          const unlisted = header.tensors.find((t) => index.weight_map[t.name] !== shard)
          if (unlisted !== undefined) throw refuse(path, `is not mapped to this shard by ${basename(indexFile)}`, unlisted.name)
        })
        Object.assign(tensors, shardTensors)
      }
      return tensors
    }
    if (entries.includes("model.safetensors")) return yield* readSafetensors(join(dir, "model.safetensors"))
    const pickled = entries.find((e) => pickleFiles.includes(e) || /^pytorch_model-\d+-of-\d+\.bin$/.test(e))
    if (pickled !== undefined) {
      return yield* refuse(
        join(dir, pickled),
        "pickle checkpoints are not loaded (unpickling can run arbitrary code); convert to safetensors first, e.g. " +
          "`AutoModelForCausalLM.from_pretrained(dir).save_pretrained(out, safe_serialization=True)` in Python"
      )
    }
    return yield* refuse(dir, "no model.safetensors or model.safetensors.index.json in this directory")
  })

const writeAll = async (handle: FileHandle, bytes: Uint8Array): Promise<void> => {
  for (let done = 0; done < bytes.length;) {
    const { bytesWritten } = await handle.write(bytes, done, Math.min(chunkBytes, bytes.length - done))
    done += bytesWritten
  }
}

/** The dtypes the writer stores fp32 tensors in. */
export type WriteDtype = "F32" | "BF16"

/**
 * fp32 → bf16 by rounding to nearest, ties to even, as torch's `.to(torch.bfloat16)`; NaN stays a
 * (quiet) NaN instead of rounding into infinity.
 */
export const toBfloat16 = (data: Float32Array): Uint16Array => {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length)
  const out = new Uint16Array(data.length)
  for (let i = 0; i < bits.length; i++) {
    const u = bits[i]!
    out[i] = (u & 0x7fffffff) > 0x7f800000 ? (u >>> 16) | 0x0040 : (u + 0x7fff + ((u >>> 16) & 1)) >>> 16
  }
  return out
}

/**
 * Writes fp32 tensors as one safetensors file that the reference library loads: entries sorted by
 * name, header padded with spaces to a multiple of 8 bytes so the data is aligned, `format: pt`
 * metadata (transformers expects it). `dtype` BF16 stores them rounded to bfloat16.
 */
export const writeSafetensors = (
  file: string,
  tensors: Readonly<Record<string, Tensor>>,
  metadata: Readonly<Record<string, string>> = { format: "pt" },
  dtype: WriteDtype = "F32"
): Effect.Effect<void, SafetensorsError> =>
  attempt(file, async () => {
    const names = Object.keys(tensors).sort()
    const header: Record<string, unknown> = { __metadata__: metadata }
    let offset = 0
    for (const name of names) {
      const { shape, data } = tensors[name]!
      const elements = numel(shape)
      if (elements !== data.length) {
        throw refuse(file, `shape ${JSON.stringify(shape)} needs ${elements} values, got ${data.length}`, name)
      }
      const bytes = elements * dtypeBytes[dtype]
      header[name] = { dtype, shape, data_offsets: [offset, offset + bytes] }
      offset += bytes
    }
    const json = Buffer.from(JSON.stringify(header), "utf8")
    const padded = Math.ceil(json.length / 8) * 8
    const prefix = Buffer.alloc(8 + padded, 0x20)
    prefix.writeBigUInt64LE(BigInt(padded), 0)
    json.copy(prefix, 8)
    const handle = await open(file, "w")
    try {
      await writeAll(handle, prefix)
      for (const name of names) {
        const { data } = tensors[name]!
        const stored = dtype === "BF16" ? toBfloat16(data) : data
        await writeAll(handle, new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength))
      }
      await handle.sync()
    } finally {
      await handle.close()
    }
  })
