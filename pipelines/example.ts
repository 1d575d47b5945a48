/**
 * A small example pipeline of eight plain stages (no model, no data download): a seeded synthetic
 * corpus, normalised, split into words, counted, summarised and sharded. Run it twice: the second
 * run is all cache hits. Change a config with `--set top.size=5` and only `top` and `report` rerun.
 *
 *     node bin/pipeline.js run pipelines/example.ts
 */
import { definePipeline } from "../src/index.ts"
import { count, lengths, report, shard, top } from "./example/stats.ts"
import { generate, normalize, words } from "./example/text.ts"

export default definePipeline({ name: "example", seed: 42 }, (p) => {
  const corpus = p.add(generate, { inputs: {}, config: { documents: 200, words: 40 } })
  const clean = p.add(normalize, { inputs: { documents: corpus.documents } })
  const split = p.add(words, { inputs: { documents: clean.documents } })
  const counted = p.add(count, { inputs: { words: split.words } })
  const best = p.add(top, { inputs: { counts: counted.counts }, config: { size: 20 } })
  const stats = p.add(lengths, { inputs: { documents: clean.documents } })
  p.add(report, { inputs: { top: best.top, stats: stats.stats } })
  p.add(shard, { inputs: { documents: clean.documents } })
})
