/**
 * The native training engine (CPU): a Llama-family causal LM with forward, backward, AdamW,
 * evaluation and generation, implemented in C++ (native/model/ over the cpu backend) and loaded from the addon
 * built by `node-gyp` into native/build/Release.
 *
 * Heavy calls return promises and run off the JS thread. Calls on one model are queued, so they
 * never overlap; the synchronous accessors (weights, gradients, saveState) must not be called while
 * a promise of the same model is pending.
 */
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { availableParallelism } from "node:os"

/** Architecture of a model, produced from an HF config.json by native/hfConfig.ts. */
export interface ModelConfig {
  readonly vocabSize: number
  readonly hiddenSize: number
  readonly intermediateSize: number
  readonly numLayers: number
  readonly numHeads: number
  readonly numKvHeads: number
  readonly headDim: number
  readonly rmsNormEps: number
  readonly tieWordEmbeddings: boolean
  /** Qwen2: q, k and v projections have biases. */
  readonly qkvBias: boolean
  /** Qwen3: RMSNorm over the head dim on every q and k head, before RoPE. */
  readonly qkNorm: boolean
  /** RoPE inverse frequencies (headDim/2), any rope scaling already applied. */
  readonly invFreq: Float32Array
  /** Multiplies RoPE's cos and sin (1 except for some rope types). */
  readonly ropeAttentionScaling: number
}

/**
 * Tensors by HF name: model.embed_tokens.weight, model.layers.{i}.self_attn.{q,k,v,o}_proj.weight
 * (+ q/k/v .bias), model.layers.{i}.self_attn.{q,k}_norm.weight, model.layers.{i}.mlp.{gate,up,down}_proj.weight,
 * model.layers.{i}.{input,post_attention}_layernorm.weight, model.norm.weight, lm_head.weight (absent when tied).
 */
export type Weights = Record<string, Float32Array>

/**
 * N tokens: all rows of a micro-batch concatenated. Labels are UNSHIFTED (HF convention): position t
 * is scored against labels[t+1], the last position has no target, -100 is ignored. cuSeqlens
 * (documents + 1) are the document boundaries, from 0 to N; attention never crosses them.
 */
export interface Batch {
  readonly inputIds: Int32Array
  readonly labels: Int32Array
  readonly positionIds: Int32Array
  readonly cuSeqlens: Int32Array
}

export interface AdamWOptions {
  readonly lr: number
  readonly beta1: number
  readonly beta2: number
  readonly eps: number
  readonly weightDecay: number
  /** Clip the global gradient norm to this (torch.nn.utils.clip_grad_norm_); 0 disables clipping. */
  readonly maxGradNorm: number
}

export interface GenerateOptions {
  readonly maxNewTokens: number
  /** 0 is greedy. */
  readonly temperature: number
  /** Nucleus sampling mass in (0, 1]. */
  readonly topP: number
  /** Generation ends after any of these is emitted (it is included in the result). */
  readonly stopTokens: ReadonlyArray<number>
  readonly seed: number
}

/** Where the engine runs: the C++ kernels of native/cpu, or the Triton kernels of native/kernels on a GPU. */
export type BackendName = "cpu" | "cuda"

export interface ModelOptions {
  /** Default cpu. A backend that cannot run here fails with the reason (see {@link backendUnavailable}). */
  readonly backend?: BackendName
  /** Worker threads; results do not depend on it. Default: all available cores. */
  readonly threads?: number
  /** Recompute each layer's activations in backward instead of keeping them (same results, less memory). */
  readonly recompute?: boolean
}

/** Everything an exact resume needs. */
export interface TrainingState {
  /** Optimizer steps taken. */
  readonly step: number
  /** The sampling RNG (xoshiro256**) as 8 uint32 words; generate() reseeds it from its seed option. */
  readonly rng: Uint32Array
  readonly weights: Weights
  /** Adam first and second moments, by parameter name. */
  readonly m: Weights
  readonly v: Weights
}

/** A failure inside the engine: a bad argument, a non-finite loss or gradient, out of memory. */
export class NativeModelError extends Error {
  readonly _tag = "NativeModelError"
  override readonly name = "NativeModelError"
}

interface Slot {
  readonly name: string
  readonly shape: ReadonlyArray<number>
  readonly decay: boolean
}

type TensorKind = "param" | "grad" | "m" | "v"

// The C++ class of native/binding/model.cc.
interface Handle {
  slots(): ReadonlyArray<Slot>
  setTensor(kind: TensorKind, name: string, data: Float32Array): void
  getTensor(kind: TensorKind, name: string): Float32Array
  getStep(): number
  setStep(step: number): void
  getRng(): Uint32Array
  setRng(words: Uint32Array): void
  logits(ids: Int32Array, pos: Int32Array, cu: Int32Array): Promise<Float32Array>
  accumulate(ids: Int32Array, labels: Int32Array, pos: Int32Array, cu: Int32Array): Promise<LossSum>
  evalLoss(ids: Int32Array, labels: Int32Array, pos: Int32Array, cu: Int32Array): Promise<EvalSum>
  step(tokens: number, lr: number, b1: number, b2: number, eps: number, wd: number, clip: number): Promise<{ gradNorm: number }>
  generate(prompt: Int32Array, maxNew: number, temperature: number, topP: number, stop: Int32Array, seed: number): Promise<Int32Array>
}

interface LossSum {
  readonly lossSum: number
  readonly tokens: number
}

/** An evaluation's loss sum, with how many of its scored tokens the model predicts exactly (greedy). */
export interface EvalSum extends LossSum {
  readonly correct: number
}

interface Addon {
  readonly Model: new (config: ModelConfig, threads: number, recompute: boolean, backend: BackendName) => Handle
  readonly backendUnavailable: (name: BackendName) => string
  readonly build: { readonly arch: string; readonly features: string; readonly compiler: string }
}

// SFT_NATIVE_ADDON loads another build of the same sources (e.g. one with AddressSanitizer).
const load = createRequire(import.meta.url)
const addonPath = load.resolve(process.env.SFT_NATIVE_ADDON ?? "./build/Release/sft_native.node")
const addon = load(addonPath) as Addon

let facts: Readonly<Record<string, string>> | undefined

/**
 * What decides the engine's bits besides its sources: the binary that runs (its sha256 covers
 * compiler, flags and build) and the CPU it was compiled for. A stage's env facts; hashed once per process.
 */
export const engineFacts = (): Readonly<Record<string, string>> =>
  (facts ??= {
    addon: createHash("sha256").update(readFileSync(addonPath)).digest("hex"),
    cpu: `${addon.build.arch}:${addon.build.features}`,
    compiler: addon.build.compiler
  })

/** Why a backend cannot run on this machine (no driver, no GPU, …), or undefined when it can. */
export const backendUnavailable = (name: BackendName): string | undefined => addon.backendUnavailable(name) || undefined

/**
 * The backend of `auto`: cuda when it can run here, else cpu, with the reason cuda was passed over
 * (for the log: a fallback is never silent).
 */
export const resolveBackend = (choice: BackendName | "auto"): { readonly backend: BackendName; readonly fallback?: string } => {
  if (choice !== "auto") return { backend: choice }
  const why = backendUnavailable("cuda")
  return why === undefined ? { backend: "cuda" } : { backend: "cpu", fallback: why }
}

const wrap = (error: unknown): NativeModelError =>
  new NativeModelError(error instanceof Error ? error.message : String(error))

const native = <A>(f: () => A): A => {
  try {
    return f()
  } catch (error) {
    throw wrap(error)
  }
}

export class NativeModel {
  private queue: Promise<unknown> = Promise.resolve()

  private constructor(
    private readonly handle: Handle,
    readonly config: ModelConfig
  ) {}

  /**
   * A model with the given weights: exactly its parameters, each with its exact size (loadHfModel
   * gives them so, having dropped what a checkpoint may carry besides).
   */
  static create(config: ModelConfig, weights: Weights, options?: ModelOptions): NativeModel {
    const model = NativeModel.empty(config, options)
    model.load("param", weights, "weights")
    return model
  }

  /** A model in the exact state saveState() captured. */
  static restore(config: ModelConfig, state: TrainingState, options?: ModelOptions): NativeModel {
    const model = NativeModel.empty(config, options)
    model.load("param", state.weights, "state.weights")
    model.load("m", state.m, "state.m")
    model.load("v", state.v, "state.v")
    native(() => model.handle.setStep(state.step))
    native(() => model.handle.setRng(state.rng))
    return model
  }

  private static empty(config: ModelConfig, options?: ModelOptions): NativeModel {
    const threads = options?.threads ?? availableParallelism()
    const backend = options?.backend ?? "cpu"
    return new NativeModel(native(() => new addon.Model(config, threads, options?.recompute ?? false, backend)), config)
  }

  private load(kind: TensorKind, tensors: Weights, what: string): void {
    const slots = this.handle.slots()
    const known = new Set(slots.map((s) => s.name))
    const unknown = Object.keys(tensors).filter((n) => !known.has(n))
    if (unknown.length > 0) throw new NativeModelError(`${what}: unexpected tensors ${unknown.join(", ")}`)
    for (const slot of slots) {
      const data = tensors[slot.name]
      if (data === undefined) throw new NativeModelError(`${what}: missing tensor ${slot.name} [${slot.shape.join(", ")}]`)
      native(() => this.handle.setTensor(kind, slot.name, data))
    }
  }

  private read(kind: TensorKind): Weights {
    const out: Weights = {}
    for (const slot of this.handle.slots()) out[slot.name] = native(() => this.handle.getTensor(kind, slot.name))
    return out
  }

  // Runs calls one after another whatever the caller awaits.
  private enqueue<A>(f: () => Promise<A>): Promise<A> {
    const run = () => f().catch((error: unknown) => Promise.reject(wrap(error)))
    const result = this.queue.then(run)
    this.queue = result.catch(() => undefined)
    return result
  }

  /** Logits of every position, (N, V) row-major. For tests and small evaluations. */
  logits(batch: Batch): Promise<Float32Array> {
    return this.enqueue(() => this.handle.logits(batch.inputIds, batch.positionIds, batch.cuSeqlens))
  }

  /** Adds d(sum of token losses)/dθ to the gradients; returns that sum and the number of scored tokens. */
  accumulate(batch: Batch): Promise<{ lossSum: number; tokens: number }> {
    return this.enqueue(() => this.handle.accumulate(batch.inputIds, batch.labels, batch.positionIds, batch.cuSeqlens))
  }

  /**
   * Divides the gradients by tokensInStep (the scored tokens of all micro-batches of the step), clips
   * their global norm, applies AdamW (no decay on biases and norm weights) and zeroes them.
   * Resolves with the norm before clipping.
   */
  step(tokensInStep: number, opts: AdamWOptions): Promise<{ gradNorm: number }> {
    return this.enqueue(() =>
      this.handle.step(tokensInStep, opts.lr, opts.beta1, opts.beta2, opts.eps, opts.weightDecay, opts.maxGradNorm)
    )
  }

  /** The summed loss, scored tokens and exactly predicted tokens of a batch, without gradients. */
  evalLoss(batch: Batch): Promise<EvalSum> {
    return this.enqueue(() => this.handle.evalLoss(batch.inputIds, batch.labels, batch.positionIds, batch.cuSeqlens))
  }

  /** The new tokens only (the prompt is not repeated), at most maxNewTokens, ending at a stop token if one comes. */
  generate(prompt: Int32Array, opts: GenerateOptions): Promise<Int32Array> {
    const stop = Int32Array.from(opts.stopTokens)
    return this.enqueue(() => this.handle.generate(prompt, opts.maxNewTokens, opts.temperature, opts.topP, stop, opts.seed))
  }

  /** Copies of the accumulated gradients by HF name (valid after accumulate, before step). */
  gradients(): Weights {
    return this.read("grad")
  }

  /** Copies of the weights by HF name. */
  weights(): Weights {
    return this.read("param")
  }

  /** Optimizer steps taken so far. */
  get stepCount(): number {
    return this.handle.getStep()
  }

  saveState(): TrainingState {
    return {
      step: this.handle.getStep(),
      rng: this.handle.getRng(),
      weights: this.read("param"),
      m: this.read("m"),
      v: this.read("v")
    }
  }
}
