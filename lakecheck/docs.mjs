#!/usr/bin/env node
// Runs the SQL queries of docs/lake.md on a lake with DuckDB, so the docs'
// queries cannot rot.
//
//   node lakecheck/docs.mjs DOCS.md DIR
//
// DIR holds data/lake (predictions/ and groundtruth/), as the docs' paths
// expect. Each ```sql block starts with "-- ENGINE: TITLE". DuckDB blocks
// run as written; Athena and Spark SQL blocks run against views named like
// their tables (leadscore_lake.predictions, predictions, ...), which read
// the same roots. Every query must return rows, and the engines' answers to
// the same TITLE must be equal. Exit status 0 when all hold, 1 otherwise.

import { readFile } from 'node:fs/promises';
import { DuckDBInstance } from '@duckdb/node-api';

const [docsPath, dir] = process.argv.slice(2);
if (!docsPath || !dir) {
  console.error('usage: node docs.mjs DOCS.md DIR');
  process.exit(2);
}
const docs = await readFile(docsPath, 'utf8');
process.chdir(dir);

const blocks = [...docs.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]);
const queries = [];
for (const b of blocks) {
  const head = b.split('\n')[0].match(/^-- (DuckDB|Athena|Spark SQL): (.+)$/);
  if (head) queries.push({ engine: head[1], title: head[2].trim(), sql: b });
}

const instance = await DuckDBInstance.create(':memory:');
const db = await instance.connect();
const src = (table) => `read_parquet('data/lake/${table}/**/*.parquet', hive_partitioning = true)`;
await db.run('CREATE SCHEMA leadscore_lake');
for (const t of ['predictions', 'groundtruth']) {
  // Glue's dt is a string column (projection type date, yyyy-MM-dd), as
  // Athena compares it; Spark infers a date, which compares the same.
  await db.run(`CREATE VIEW leadscore_lake.${t} AS SELECT * REPLACE (CAST(dt AS VARCHAR) AS dt) FROM ${src(t)}`);
  await db.run(`CREATE VIEW ${t} AS SELECT * FROM ${src(t)}`);
}

let failed = 0;
const answers = {};
for (const q of queries) {
  try {
    const rows = (await db.runAndReadAll(q.sql)).getRowsJS();
    if (rows.length === 0) throw new Error('no rows');
    const norm = JSON.stringify(rows.map((r) => r.map((v) => (typeof v === 'number' ? +v.toPrecision(9) : v instanceof Date ? v.toISOString().slice(0, 10) : String(v)))));
    console.log(`ok   ${q.engine}: ${q.title}: ${rows.length} rows`);
    if (answers[q.title] && answers[q.title].norm !== norm) {
      throw new Error(`answers differ from ${answers[q.title].engine}'s:\n${norm}\n${answers[q.title].norm}`);
    }
    answers[q.title] = { engine: q.engine, norm };
  } catch (e) {
    failed++;
    console.error(`FAIL ${q.engine}: ${q.title}: ${e.message}`);
  }
}
const engines = new Set(queries.map((q) => q.engine));
if (queries.length < 6 || engines.size < 3) {
  console.error(`only ${queries.length} queries for ${[...engines]}: want drift by day and conversion by tier for DuckDB, Athena and Spark SQL`);
  failed++;
}
process.exit(failed ? 1 : 0);
