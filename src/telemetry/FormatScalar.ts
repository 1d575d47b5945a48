/** How people read a scalar in a log line or a warning: 4 significant digits, whole numbers from 1000, exponents at the extremes. */
export const formatScalar = (value: number): string => {
  const size = Math.abs(value)
  if (!Number.isFinite(value) || size === 0) return String(value)
  if (size >= 1e6 || size < 1e-3) return value.toExponential(2)
  return size >= 1000 ? String(Math.round(value)) : value.toPrecision(4)
}
