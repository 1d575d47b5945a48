/**
 * `s3://bucket/prefix`, parsed: kept apart from S3Remote.ts so that choosing a store does not load
 * the AWS SDK unless the store is a bucket.
 */

/** Where a shared store lives in a bucket. */
export interface S3Location {
  readonly bucket: string
  /** Key prefix without leading or trailing "/", possibly empty. */
  readonly prefix: string
}

/** Parses `s3://bucket[/prefix]`; undefined when `url` is not an s3 URL. */
export const parseS3Url = (url: string): S3Location | undefined => {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url)
  if (match === null) return undefined
  return { bucket: match[1]!, prefix: match[2]!.replace(/\/+$/, "") }
}
