#!/usr/bin/env node
// Prints every value of Parquet files as DuckDB reads them, bit for bit,
// so that a test can compare them with what was written:
//
//   node lakecheck/dump.mjs FILE.parquet...
//
// Output (one JSON document): {"files": [{"file": name, "columns": [{"name",
// "type"}], "rows": [[cell, ...], ...]}]}, rows in file order. A cell is
// null, a string (VARCHAR), "i:N" (integers, timestamps as epoch
// microseconds), "f32:XXXXXXXX" or "f64:XXXXXXXXXXXXXXXX" (the IEEE 754
// bits in hex: -0, infinities and NaN kept). capture's TestPredWriterEdges
// runs it. Exit status 0, or 2 on bad usage.

import { DuckDBInstance } from '@duckdb/node-api';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node dump.mjs FILE.parquet...');
  process.exit(2);
}
const ident = (name) => '"' + name.replaceAll('"', '""') + '"';
const literal = (s) => "'" + s.replaceAll("'", "''") + "'";

const instance = await DuckDBInstance.create(':memory:');
const db = await instance.connect();
const query = async (sql) => (await db.runAndReadAll(sql)).getRowObjectsJS();

const view = new DataView(new ArrayBuffer(8));
const f32 = (v) => {
  view.setFloat32(0, v);
  return 'f32:' + view.getUint32(0).toString(16).padStart(8, '0');
};
const f64 = (v) => {
  view.setFloat64(0, v);
  return 'f64:' + view.getBigUint64(0).toString(16).padStart(16, '0');
};

const out = [];
for (const file of files) {
  const source = `read_parquet(${literal(file)}, file_row_number = true, hive_partitioning = false)`;
  const columns = (await query(`DESCRIBE SELECT * EXCLUDE (file_row_number) FROM ${source}`))
    .map((r) => ({ name: r.column_name, type: r.column_type }));
  const select = columns.map((c) => {
    // timestamps as epoch microseconds, exactly (a BIGINT)
    if (c.type.startsWith('TIMESTAMP')) return `epoch_us(${ident(c.name)}) AS ${ident(c.name)}`;
    return ident(c.name);
  }).join(', ');
  const rows = await query(`SELECT ${select} FROM ${source} ORDER BY file_row_number`);
  const cells = rows.map((r) => columns.map((c) => {
    const v = r[c.name];
    if (v === null || v === undefined) return null;
    switch (c.type) {
      case 'FLOAT': return f32(v);
      case 'DOUBLE': return f64(v);
      case 'VARCHAR': return v;
      default: return 'i:' + String(v);
    }
  }));
  out.push({ file, columns, rows: cells });
}
db.closeSync();
instance.closeSync();
process.stdout.write(JSON.stringify({ files: out }));
