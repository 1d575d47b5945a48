/**
 * The label of an untrained token and the count of trained ones. Apart from the table schemas so
 * the tokenize workers load neither Arrow nor the engine.
 */

/** -100: the label of a token the loss ignores (PyTorch cross-entropy's ignore_index). */
export const ignoreIndex = -100

/** How many tokens `labels` trains (labels other than {@link ignoreIndex}). */
export const countTrained = (labels: Int32Array): number => {
  let trained = 0
  for (let i = 0; i < labels.length; i++) if (labels[i] !== ignoreIndex) trained++
  return trained
}
