/**
 * The seeded validation split: the same row count, fraction and seed always give the same split.
 */
import { Effect, Random } from "effect"

/**
 * The indices of the ceil(fraction * n) rows, chosen by a shuffle seeded with `seed`, that go to
 * validation (the count `datasets`' train_test_split uses); the rest stay in train.
 */
export const validationIndices = (n: number, fraction: number, seed: number): ReadonlySet<number> => {
  const count = Math.ceil(fraction * n)
  if (count === 0) return new Set()
  const order = Effect.runSync(Random.shuffle(Array.from({ length: n }, (_, index) => index)).pipe(Random.withSeed(seed)))
  return new Set(order.slice(0, count))
}
