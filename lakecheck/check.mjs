#!/usr/bin/env node
// Reads a leadscore capture lake with DuckDB, the way analysts do, and
// checks it row by row against the records that were sent.
//
//   node lakecheck/check.mjs DIR EXPECTED.json
//
// DIR is a lake folder (dt=YYYY-MM-DD/hour=HH/part-*.parquet). EXPECTED.json
// is {"features": [names...], "rows": [row...]}, a row being
//   {"event_time_us": n, "request_id": s, "inference_id": s, "lead_id": s|null,
//    "model_name": s, "model_version": s, "features": [n|null, ...],
//    "margin": n, "probability": n, "tier": n, "latency_ms": n,
//    "variant": s|null, "role": "live"|"shadow",
//    "dt": "YYYY-MM-DD", "hour": n}
// Exit status 0 when every row matches, 1 on a mismatch, 2 on bad usage.
// capture's TestDuckDBReadsLake writes both and runs this script.

import { readFile } from 'node:fs/promises';
import { DuckDBInstance } from '@duckdb/node-api';

const [dir, expectedPath] = process.argv.slice(2);
if (!dir || !expectedPath) {
  console.error('usage: node check.mjs DIR EXPECTED.json');
  process.exit(2);
}

const expected = JSON.parse(await readFile(expectedPath, 'utf8'));
const ident = (name) => '"' + name.replaceAll('"', '""') + '"';
const literal = (s) => "'" + s.replaceAll("'", "''") + "'";
const source = `read_parquet(${literal(dir.replace(/\/+$/, '') + '/**/*.parquet')}, hive_partitioning = true)`;

const instance = await DuckDBInstance.create(':memory:');
const db = await instance.connect();
const query = async (sql) => (await db.runAndReadAll(sql)).getRowObjectsJS();

const failures = [];
const fail = (msg) => {
  failures.push(msg);
  if (failures.length <= 20) console.error('lakecheck: ' + msg);
};

// Column types as DuckDB sees them: Hive keys become DATE and BIGINT, the
// event time a UTC timestamp, features nullable FLOAT.
const wantTypes = {
  event_time: 'TIMESTAMP WITH TIME ZONE',
  request_id: 'VARCHAR',
  inference_id: 'VARCHAR',
  lead_id: 'VARCHAR',
  model_name: 'VARCHAR',
  model_version: 'VARCHAR',
  margin: 'DOUBLE',
  probability: 'DOUBLE',
  tier: 'INTEGER',
  latency_ms: 'DOUBLE',
  variant: 'VARCHAR',
  role: 'VARCHAR',
  dt: 'DATE',
  hour: 'BIGINT',
};
for (const f of expected.features) wantTypes[f] = 'FLOAT';
const described = await query(`DESCRIBE SELECT * FROM ${source}`);
const gotTypes = Object.fromEntries(described.map((r) => [r.column_name, r.column_type]));
for (const [col, type] of Object.entries(wantTypes)) {
  if (gotTypes[col] !== type) fail(`column ${col} is ${gotTypes[col] ?? 'missing'}, want ${type}`);
}

const featureCols = expected.features.map(ident).join(', ');
const rows = await query(`
  SELECT CAST(epoch_us(event_time) AS DOUBLE) AS event_time_us,
         request_id, inference_id, lead_id, model_name, model_version,
         ${featureCols ? featureCols + ',' : ''}
         margin, probability, tier, latency_ms, variant, role,
         CAST(dt AS VARCHAR) AS dt, CAST(hour AS INTEGER) AS hour
  FROM ${source}
  ORDER BY inference_id`);

const want = [...expected.rows].sort((a, b) => (a.inference_id < b.inference_id ? -1 : a.inference_id > b.inference_id ? 1 : 0));
if (rows.length !== want.length) fail(`DuckDB counts ${rows.length} rows, ${want.length} were sent`);

const same = (a, b) => a === b || (a === null && b === undefined) || (Number.isNaN(a) && Number.isNaN(b));
const scalar = ['event_time_us', 'request_id', 'inference_id', 'lead_id', 'model_name', 'model_version',
  'margin', 'probability', 'tier', 'latency_ms', 'variant', 'role', 'dt', 'hour'];
for (let i = 0; i < Math.min(rows.length, want.length); i++) {
  const got = rows[i];
  const exp = want[i];
  for (const col of scalar) {
    if (!same(got[col], exp[col])) fail(`row ${i} (${exp.inference_id}): ${col} = ${JSON.stringify(got[col])}, want ${JSON.stringify(exp[col])}`);
  }
  expected.features.forEach((f, j) => {
    if (!same(got[f], exp.features[j])) fail(`row ${i} (${exp.inference_id}): ${f} = ${got[f]}, want ${exp.features[j]}`);
  });
  // The partition a row sits in is its event time's UTC hour.
  const t = new Date(got.event_time_us / 1000);
  if (got.dt !== t.toISOString().slice(0, 10) || got.hour !== t.getUTCHours()) {
    fail(`row ${i} (${exp.inference_id}): event time ${t.toISOString()} in partition dt=${got.dt}/hour=${got.hour}`);
  }
}

const parts = await query(`SELECT CAST(dt AS VARCHAR) AS dt, hour, count(*) AS n FROM ${source} GROUP BY ALL ORDER BY ALL`);
db.closeSync();
instance.closeSync();
if (failures.length > 0) {
  console.error(`lakecheck: FAIL, ${failures.length} problem(s) in ${dir}`);
  process.exit(1);
}
console.log(`lakecheck: ok, ${rows.length} rows in ${parts.length} partition(s) match: ` +
  parts.map((p) => `dt=${p.dt}/hour=${p.hour}:${p.n}`).join(' '));
