// Builds the addon (npm runs this as the package's install step). node-gyp needs Node's headers
// and downloads them unless told where they are; a machine without internet then fails. The Node
// running this script ships its headers beside it (distribution packages and nodejs.org tarballs
// both do), so they are used when npm is not configured with a nodedir of its own.
//
//   node scripts/build-native.mjs [directory] [gyp option …]
// builds another copy of native/ (default: native), e.g. `/tmp/n --simd=0` for the scalar kernels.
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { dirname, join } from "node:path"

const [directory = "native", ...options] = process.argv.slice(2)
const prefix = dirname(dirname(process.execPath))
const headers = join(prefix, "include", "node", "node_api.h")
const nodedir = !process.env.npm_config_nodedir && existsSync(headers) ? [`--nodedir=${prefix}`] : []
const result = spawnSync("node-gyp", ["rebuild", "--directory", directory, ...nodedir, ...options], { stdio: "inherit" })
process.exit(result.status ?? 1)
