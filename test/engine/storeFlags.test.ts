/** How `--store` and `--cache` are read (src/cli/StoreLayer.ts), without a bucket to talk to. */
import { afterAll, describe, expect, it } from "vitest"
import { parseS3Url } from "../../src/store/S3Location.ts"
import { makeProject } from "./support.ts"

describe("--store and --cache", () => {
  const project = makeProject()
  afterAll(() => project.cleanup())

  it("parses s3://bucket/prefix with or without a prefix; anything else is not an s3 URL", () => {
    expect(parseS3Url("s3://team/sft/v1/")).toEqual({ bucket: "team", prefix: "sft/v1" })
    expect(parseS3Url("s3://team")).toEqual({ bucket: "team", prefix: "" })
    expect(parseS3Url("/data/store")).toBeUndefined()
    expect(parseS3Url("s3:/team")).toBeUndefined()
  })

  it("refuses an s3 store without a bucket and a cache for a store that is a directory, naming the flag", async () => {
    const noBucket = await project.cli("ls", "--store", "s3://")
    expect(noBucket.code).toBe(1)
    expect(noBucket.stderr).toContain("--store s3://: expected s3://bucket or s3://bucket/prefix")
    const cacheOfDir = await project.cli("ls", "--store", "elsewhere", "--cache", "c")
    expect(cacheOfDir.code).toBe(1)
    expect(cacheOfDir.stderr).toContain("--cache c: only a store in a bucket (--store s3://…) has a cache")
  })
})
