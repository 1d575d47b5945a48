/**
 * The portable scalar kernels (what arm64 builds; cpu/simd.h) compute the same bits as the AVX2
 * ones: the addon is rebuilt with --simd=0 in a scratch copy of native/ and the engine fingerprint
 * (losses, gradients, weights, moments, logits, generations of a fixed run) of both builds compared.
 */
import { spawnSync } from "node:child_process"
import { cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, expect, test } from "vitest"

const repo = join(import.meta.dirname, "..", "..")
const scratch = mkdtempSync(join(tmpdir(), "sft-scalar-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

const fingerprint = (addon?: string): string => {
  const env = { ...process.env, ...(addon === undefined ? {} : { SFT_NATIVE_ADDON: addon }) }
  const run = spawnSync(process.execPath, ["--import", "tsx", "scripts/engine-fingerprint.ts"], { cwd: repo, env, encoding: "utf8" })
  expect(run.stderr).toBe("")
  expect(run.status).toBe(0)
  const line = /^engine fingerprint: ([0-9a-f]{64})$/m.exec(run.stdout)
  expect(line, run.stdout).not.toBeNull()
  return line![1]!
}

test("the scalar build trains, evaluates and generates bit for bit as the default build", { timeout: 300_000 }, () => {
  for (const part of ["addon.cc", "binding.gyp", "cpu", "model", "cuda", "binding"]) cpSync(join(repo, "native", part), join(scratch, part), { recursive: true })
  symlinkSync(join(repo, "node_modules"), join(scratch, "node_modules"))
  const build = spawnSync(process.execPath, ["scripts/build-native.mjs", scratch, "--simd=0"], { cwd: repo, encoding: "utf8" })
  expect(build.status, build.stderr).toBe(0)
  const scalar = join(scratch, "build", "Release", "sft_native.node")
  const features = (addon: string) => spawnSync(process.execPath, ["-p", `require(${JSON.stringify(addon)}).build.features`], { encoding: "utf8" }).stdout
  expect(features(scalar)).not.toMatch(/avx2/)
  // On x86-64 the default build must be the AVX2 one, else the two fingerprints come from the same kernels.
  if (process.arch === "x64") expect(features(join(repo, "native", "build", "Release", "sft_native.node"))).toMatch(/avx2/)
  expect(fingerprint(scalar)).toBe(fingerprint())
})
