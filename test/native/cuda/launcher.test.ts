/**
 * The cuda launcher: argument packing against every manifest entry (any machine), and, on a machine
 * with an NVIDIA driver and GPU, kernels of the AOT library launched through the driver API and
 * compared with a reference computed here.
 */
import { createRequire } from "node:module"
import { join } from "node:path"
import { describe, expect, it, test } from "vitest"
import { kernelCubin, kernelManifest, type KernelEntry } from "../../../native/kernels.ts"

type Arg = { pointer: bigint | ArrayBufferView } | { i32: number } | { f32: number }
interface Cuda {
  probe(): { available: boolean; reason: string; computeCapability?: number }
  packArgs(spec: KernelEntry, args: ReadonlyArray<Arg>): Array<Uint8Array>
  runKernel(spec: KernelEntry, cubin: Uint8Array, grid: readonly [number, number, number], args: ReadonlyArray<Arg>): Array<ArrayBuffer>
}
const addonPath = process.env.SFT_NATIVE_ADDON ?? join(import.meta.dirname, "..", "..", "..", "native", "build", "Release", "sft_native.node")
const cuda = (createRequire(import.meta.url)(addonPath) as { cuda: Cuda }).cuda
const manifest = kernelManifest()
const entry = (name: string): KernelEntry => {
  const e = manifest.kernels.find((k) => k.name === name)
  if (e === undefined) throw new Error(`no kernel ${name} in native/kernels/manifest.json`)
  return e
}

const le = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

test("every manifest entry packs its arguments in launch order: 8-byte pointers, 4-byte ints, 4-byte floats, two null scratch pointers", () => {
  expect(manifest.kernels.length).toBeGreaterThan(40)
  for (const k of manifest.kernels) {
    const ours = k.params.filter((p) => p.type !== "*scratch")
    expect(k.params.slice(ours.length).map((p) => p.type), k.name).toEqual(["*scratch", "*scratch"])
    const args: Array<Arg> = ours.map((p, i) =>
      p.type.startsWith("*") ? { pointer: 0x7f0000001000n + BigInt(i) * 256n } : p.type === "i32" ? { i32: -7 - i } : { f32: 0.1 + i }
    )
    const slots = cuda.packArgs(k, args)
    expect(slots.length, k.name).toBe(k.params.length)
    ours.forEach((p, i) => {
      const slot = le(slots[i]!)
      if (p.type.startsWith("*")) expect([slot.length, slot.readBigUInt64LE(0)], `${k.name} ${p.name}`).toEqual([8, 0x7f0000001000n + BigInt(i) * 256n])
      else if (p.type === "i32") expect([slot.length, slot.readInt32LE(0)], `${k.name} ${p.name}`).toEqual([4, -7 - i])
      else expect([slot.length, slot.readFloatLE(0)], `${k.name} ${p.name}`).toEqual([4, Math.fround(0.1 + i)])
    })
    for (const s of slots.slice(ours.length)) expect(le(s).equals(Buffer.alloc(8)), k.name).toBe(true)
  }
})

test("packing refuses a wrong count, a wrong kind and an i32 out of range, naming the kernel and argument", () => {
  const k = entry("rmsnorm_forward.c1024")
  const ptr = { pointer: 16n }
  expect(() => cuda.packArgs(k, [ptr, ptr, ptr, ptr, { i32: 896 }])).toThrow("rmsnorm_forward.c1024: expected 6 arguments, got 5")
  expect(() => cuda.packArgs(k, [ptr, ptr, ptr, ptr, { f32: 896 }, { f32: 1e-6 }])).toThrow("argument C must be an i32")
  expect(() => cuda.packArgs(k, [ptr, ptr, ptr, ptr, { i32: 2 ** 31 }, { f32: 1e-6 }])).toThrow("does not fit an i32")
  expect(() => cuda.packArgs(k, [ptr, ptr, ptr, ptr, { i32: 896 }, { i32: 0 }])).toThrow("argument eps must be an fp32")
})

const probe = cuda.probe()

test("without a driver the probe says why", () => {
  if (probe.available) return expect(probe.computeCapability).toBeGreaterThanOrEqual(80)
  expect(probe.reason).toMatch(/libcuda\.so\.1|GPU|cuInit/)
})

const onDevice = probe.available ? describe : describe.skip
if (!probe.available) console.warn(`skipped "cuda launcher on the device": ${probe.reason}`)

onDevice("cuda launcher on the device", () => {
  const run = (name: string, grid: readonly [number, number, number], args: ReadonlyArray<Arg>) =>
    cuda.runKernel(entry(name), kernelCubin(entry(name)), grid, args)

  it("scale_inplace receives its fp32 scalar as a 4-byte float", () => {
    const x = Float32Array.from({ length: 3000 }, (_, i) => Math.sin(i))
    const [out] = run("scale_inplace", [Math.ceil(3000 / 1024), 1, 1], [{ pointer: x }, { f32: 0.37 }, { i32: 3000 }])
    const got = new Float32Array(out!)
    x.forEach((v, i) => expect(got[i]).toBe(Math.fround(v * Math.fround(0.37))))
  })

  it("gemm.fp32 (64 KB of shared memory, past the 48 KB opt-in) multiplies bf16 matrices", () => {
    const M = 130, N = 70, K = 96
    const bf16 = (x: number) => new Uint16Array(Float32Array.of(x).buffer)[1]!
    const val = (x: number) => new Float32Array(new Uint32Array([x << 16]).buffer)[0]!
    const a = Uint16Array.from({ length: M * K }, (_, i) => bf16(Math.sin(i) / 4))
    const b = Uint16Array.from({ length: K * N }, (_, i) => bf16(Math.cos(i) / 4))
    const c = new Float32Array(M * N)
    const g = entry("gemm.fp32").constexprs
    const grid = [Math.ceil(M / g.BLOCK_M!), Math.ceil(N / g.BLOCK_N!), 1] as const
    const got = new Float32Array(run("gemm.fp32", grid, [
      { pointer: c }, { pointer: a }, { pointer: b }, { pointer: new Uint16Array(1) },
      { i32: M }, { i32: N }, { i32: K }, { i32: K }, { i32: 1 }, { i32: N }, { i32: 1 }, { i32: N }
    ])[0]!)
    let worst = 0
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0
        for (let k = 0; k < K; k++) s += val(a[i * K + k]!) * val(b[k * N + j]!)
        worst = Math.max(worst, Math.abs(got[i * N + j]! - s))
      }
    console.log(`gemm.fp32 on the device: max|diff| ${worst.toExponential(2)}`)
    expect(worst).toBeLessThan(1e-4)
  })

  it("sum_squares adds its partials in order: two runs give the same bits", () => {
    const n = 100_000
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7))
    const P = Math.ceil(n / entry("sum_squares_partial").constexprs.BLOCK!)
    const total = () => {
      const [partial] = run("sum_squares_partial", [P, 1, 1], [{ pointer: new Float64Array(P) }, { pointer: x }, { i32: n }])
      const [out] = run("sum_in_order", [1, 1, 1], [{ pointer: new Float64Array(1) }, { pointer: new Float64Array(partial!) }, { i32: P }])
      return new Float64Array(out!)[0]!
    }
    const expected = x.reduce((s, v) => s + v * v, 0)
    const first = total()
    expect(Math.abs(first - expected) / expected).toBeLessThan(1e-12)
    expect(total()).toBe(first)
  })
})
