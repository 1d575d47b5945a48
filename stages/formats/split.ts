/**
 * The seeded validation split: the same rows, fraction and seed always give the same split.
 */
import { Effect, Random } from "effect"

/** Both sides of a split, each in the original row order. */
export interface Split<A> {
  readonly train: ReadonlyArray<A>
  readonly validation: ReadonlyArray<A>
}

/**
 * Puts ceil(fraction * n) rows, chosen by a shuffle seeded with `seed`, into validation (the count
 * `datasets`' train_test_split uses); the rest stay in train.
 */
export const splitByFraction = <A>(rows: ReadonlyArray<A>, fraction: number, seed: number): Split<A> => {
  const count = Math.ceil(fraction * rows.length)
  if (count === 0) return { train: rows, validation: [] }
  const order = Effect.runSync(Random.shuffle(rows.keys()).pipe(Random.withSeed(seed)))
  const chosen = new Set(order.slice(0, count))
  return {
    train: rows.filter((_, index) => !chosen.has(index)),
    validation: rows.filter((_, index) => chosen.has(index))
  }
}
