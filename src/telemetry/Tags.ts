/**
 * The scalar tags the engine knows by name: the names TensorBoard users see from transformers'
 * Trainer (`train/loss`, `eval/loss`). Stages may report any other tag (an evaluate stage's task
 * metric); everything that consumes scalars handles unknown tags generically and only orders,
 * labels or watches these.
 */

export const Tag = {
  loss: "train/loss",
  learningRate: "train/learning_rate",
  gradNorm: "train/grad_norm",
  tokensPerSecond: "train/tokens_per_second",
  memoryMiB: "train/memory_mib",
  evalLoss: "eval/loss",
  evalPerplexity: "eval/perplexity"
} as const

/** The known tags in the order views show them (train first, then evaluation, then the machine). */
export const tagOrder: ReadonlyArray<string> = [
  Tag.loss,
  Tag.evalLoss,
  Tag.learningRate,
  Tag.gradNorm,
  Tag.tokensPerSecond,
  Tag.evalPerplexity,
  Tag.memoryMiB
]

/** Sorts tags: the known ones in {@link tagOrder}, then the rest alphabetically. */
export const sortTags = (tags: Iterable<string>): Array<string> => {
  const rank = (tag: string) => {
    const index = tagOrder.indexOf(tag)
    return index === -1 ? tagOrder.length : index
  }
  return [...new Set(tags)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
}
