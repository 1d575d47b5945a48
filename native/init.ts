/**
 * Seeded from-scratch weights for a config, initialised the way transformers' `_init_weights`
 * does for these architectures: linear and embedding weights ~ normal(0, initializer_range), RMSNorm
 * weights 1, biases 0. The generator is ours (xoshiro128** seeded per tensor by name, Box–Muller
 * normals), so the values are not torch's, but the same seed always gives the same bytes on every
 * platform, and a tensor's values do not depend on which other tensors exist.
 */
import type { ModelConfig, Weights } from "./index.ts"
import { parameterShapes } from "./hfConfig.ts"
import { numel } from "./safetensors.ts"

export interface InitOptions {
  readonly seed: number
  /** HF `initializer_range`: the standard deviation of weight matrices (transformers' default 0.02). */
  readonly initializerRange: number
}

// FNV-1a over the name mixed with the seed: an independent stream per tensor.
const streamSeed = (seed: number, name: string): number => {
  let h = 0x811c9dc5 ^ (seed >>> 0)
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** xoshiro128** (Blackman & Vigna), state filled by splitmix32; returns uniform doubles in (0, 1). */
const uniforms = (seed: number): (() => number) => {
  let z = seed
  const splitmix = () => {
    z = (z + 0x9e3779b9) | 0
    let t = z ^ (z >>> 16)
    t = Math.imul(t, 0x21f0aaad)
    t ^= t >>> 15
    t = Math.imul(t, 0x735a2d97)
    return (t ^ (t >>> 15)) >>> 0
  }
  let a = splitmix(), b = splitmix(), c = splitmix(), d = splitmix()
  return () => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0
    const t = b << 9
    c ^= a
    d ^= b
    b ^= c
    a ^= d
    c ^= t
    d = rotl(d, 11)
    return (result + 0.5) / 4294967296
  }
}
const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k))

const fillNormal = (out: Float32Array, std: number, next: () => number): void => {
  for (let i = 0; i < out.length; i += 2) {
    const radius = std * Math.sqrt(-2 * Math.log(next()))
    const angle = 2 * Math.PI * next()
    out[i] = radius * Math.cos(angle)
    if (i + 1 < out.length) out[i + 1] = radius * Math.sin(angle)
  }
}

/** Every parameter of `config` (parameterShapes' names), freshly initialised. */
export const initWeights = (config: ModelConfig, options: InitOptions): Weights => {
  const weights: Weights = {}
  for (const [name, shape] of Object.entries(parameterShapes(config))) {
    const data = new Float32Array(numel(shape))
    if (name.endsWith("norm.weight")) data.fill(1)
    else if (!name.endsWith(".bias")) fillNormal(data, options.initializerRange, uniforms(streamSeed(options.seed, name)))
    weights[name] = data
  }
  return weights
}
