/**
 * The ahead-of-time Triton kernel library of the cuda backend: native/kernels/manifest.json and its
 * cubins, written by native/triton/build.py. Its digest (the manifest's sha256, which covers every
 * cubin's sha256) is the "kernel build" a cuda stage key names.
 */
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { join } from "node:path"

export interface KernelParam {
  readonly name: string
  /** "*bf16", "*fp32", "*i32", "*fp64" (pointers), "i32", "fp32", or "*scratch" (Triton's trailing two). */
  readonly type: string
}

export interface KernelEntry {
  readonly name: string
  readonly module: string
  readonly kernel: string
  readonly cubin: string
  readonly sha256: string
  readonly params: ReadonlyArray<KernelParam>
  readonly constexprs: Readonly<Record<string, number>>
  readonly num_warps: number
  readonly num_stages: number
  readonly shared: number
  readonly global_scratch_size: number
  readonly global_scratch_align: number
  readonly profile_scratch_size: number
}

export interface KernelManifest {
  readonly triton: string
  readonly target: readonly [string, number, number]
  readonly kernels: ReadonlyArray<KernelEntry>
}

const dir = join(import.meta.dirname, "kernels")

/** The manifest as committed. */
export const kernelManifest = (): KernelManifest => JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as KernelManifest

/** sha256 of manifest.json: names every cubin by its hash, so it changes with any kernel. */
export const kernelBuildDigest = (): string => createHash("sha256").update(readFileSync(join(dir, "manifest.json"))).digest("hex")

/** A kernel's cubin, verified against the manifest. */
export const kernelCubin = (entry: KernelEntry): Uint8Array => {
  const bytes = readFileSync(join(dir, entry.cubin))
  const digest = createHash("sha256").update(bytes).digest("hex")
  if (digest !== entry.sha256) throw new Error(`native/kernels/${entry.cubin}: sha256 ${digest}, the manifest says ${entry.sha256}`)
  return new Uint8Array(bytes)
}
