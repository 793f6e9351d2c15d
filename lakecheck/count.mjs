#!/usr/bin/env node
// Reads every Parquet file of a leadscore lake with DuckDB, one file at a
// time, then each table whole, and prints what it found as one JSON line:
//
//   node lakecheck/count.mjs DIR
//   {"files":[{"path":"predictions/dt=.../x.parquet","rows":1000},...],
//    "unreadable":[{"path":"...","error":"..."}],
//    "predictions":{"rows":N,"lead_ids":D,"inference_ids":I},
//    "groundtruth":{"rows":N}}
//
// A file DuckDB cannot read (for example "Invalid string encoding found in
// Parquet file") is listed under "unreadable" rather than stopping the
// check, so the caller sees every bad file. Exit status 0 when every file
// reads, 1 otherwise, 2 on bad usage. cmd/leadscore's
// TestHostileRound2/MemoryBound runs it after its hostile sequence.

import { DuckDBInstance } from '@duckdb/node-api';
import { readdirSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';

const [dir] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node count.mjs DIR');
  process.exit(2);
}
const literal = (s) => "'" + s.replaceAll("'", "''") + "'";
const walk = (d) => readdirSync(d, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.parquet') ? [join(d, e.name)] : []);

const instance = await DuckDBInstance.create(':memory:');
const db = await instance.connect();
const query = async (sql) => (await db.runAndReadAll(sql)).getRowObjectsJS();

const out = { files: [], unreadable: [], predictions: { rows: 0, lead_ids: 0, inference_ids: 0 }, groundtruth: { rows: 0 } };
for (const file of walk(dir).sort()) {
  const path = relative(dir, file);
  try {
    // Every column is read, strings included: a bad string fails here.
    const [r] = await query(`SELECT count(*) AS n, max(hash(t)) AS h FROM read_parquet(${literal(file)}) t`);
    out.files.push({ path, rows: Number(r.n) });
  } catch (e) {
    out.unreadable.push({ path, error: String(e.message ?? e).split('\n')[0] });
  }
}
const root = dir.replace(/\/+$/, '');
if (out.unreadable.length === 0 && existsSync(root + '/predictions')) {
  const src = `read_parquet(${literal(root + '/predictions/dt=*/**/*.parquet')}, hive_partitioning = true, union_by_name = true)`;
  const [p] = await query(`SELECT count(*) AS n, count(DISTINCT lead_id) AS l, count(DISTINCT inference_id) AS i FROM ${src}`);
  out.predictions = { rows: Number(p.n), lead_ids: Number(p.l), inference_ids: Number(p.i) };
}
if (out.unreadable.length === 0 && existsSync(root + '/groundtruth')) {
  const src = `read_parquet(${literal(root + '/groundtruth/dt=*/**/*.parquet')}, hive_partitioning = true)`;
  const [g] = await query(`SELECT count(*) AS n FROM ${src}`);
  out.groundtruth = { rows: Number(g.n) };
}
db.closeSync();
instance.closeSync();
console.log(JSON.stringify(out));
process.exit(out.unreadable.length === 0 ? 0 : 1);
