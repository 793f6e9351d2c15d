#!/usr/bin/env node
// Checks with DuckDB that a leadscore lake holds paired scores: every
// shadow row joins exactly one live row on inference_id (same lead id,
// another variant), and prints the pairs per (live, shadow) variant.
//
//   node lakecheck/pairs.mjs DIR MIN_PAIRS
//
// Exit status 0 when every shadow row has its live row and there are at
// least MIN_PAIRS pairs, 1 otherwise, 2 on bad usage. cmd/leadscore's
// TestServeBinary/Variants runs it.

import { DuckDBInstance } from '@duckdb/node-api';

const [dir, minPairs] = process.argv.slice(2);
if (!dir || minPairs === undefined) {
  console.error('usage: node pairs.mjs DIR MIN_PAIRS');
  process.exit(2);
}
const literal = (s) => "'" + s.replaceAll("'", "''") + "'";
// Prediction rows live under predictions/ (docs/lake.md); lakes written
// before that layout hold them at the root.
import { existsSync } from 'node:fs';
const root = dir.replace(/\/+$/, '');
const predictions = existsSync(root + '/predictions') ? root + '/predictions' : root;
const source = `read_parquet(${literal(predictions + '/dt=*/**/*.parquet')}, hive_partitioning = true, union_by_name = true)`;
const instance = await DuckDBInstance.create(':memory:');
const db = await instance.connect();
const query = async (sql) => (await db.runAndReadAll(sql)).getRowObjectsJS();

const [orphans] = await query(`
  SELECT count(*) AS n FROM ${source} s
  WHERE s.role = 'shadow' AND NOT EXISTS (
    SELECT 1 FROM ${source} l WHERE l.role = 'live' AND l.inference_id = s.inference_id)`);
const [dupes] = await query(`
  SELECT count(*) AS n FROM (SELECT inference_id FROM ${source} WHERE role = 'live' GROUP BY inference_id HAVING count(*) > 1)`);
const pairs = await query(`
  SELECT l.variant AS live, s.variant AS shadow, count(*) AS pairs,
         count(*) FILTER (WHERE l.lead_id IS NOT DISTINCT FROM s.lead_id AND l.variant <> s.variant) AS consistent,
         corr(l.probability, s.probability) AS corr
  FROM ${source} l JOIN ${source} s ON s.inference_id = l.inference_id
  WHERE l.role = 'live' AND s.role = 'shadow'
  GROUP BY ALL ORDER BY ALL`);
db.closeSync();
instance.closeSync();

let total = 0;
let bad = Number(orphans.n) > 0 || Number(dupes.n) > 0;
for (const p of pairs) {
  total += Number(p.pairs);
  if (Number(p.consistent) !== Number(p.pairs)) bad = true;
  console.log(`pairs: live ${p.live} + shadow ${p.shadow}: ${p.pairs} (consistent ${p.consistent}, corr ${Number(p.corr).toFixed(3)})`);
}
console.log(`shadow rows without a live row: ${orphans.n}; inference ids with two live rows: ${dupes.n}; pairs: ${total}`);
if (bad || total < Number(minPairs)) {
  console.error('pairs: FAIL');
  process.exit(1);
}
console.log('pairs: ok');
