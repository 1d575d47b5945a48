/**
 * The difference measures the native tests state their tolerances in, computed in double.
 */

/** max |a - b|; the lengths must match. */
export const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}

/** ||a - b|| / ||b||, with b the reference; the absolute ||a - b|| when b is all zeros. */
export const relL2 = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`)
  let num = 0
  let den = 0
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2
    den += b[i]! ** 2
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den)
}
