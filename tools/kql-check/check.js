#!/usr/bin/env node
// Checks KQL queries and control commands with Microsoft's Kusto language service
// (@kusto/language-service-next) against the firewall table schemas declared in schemas.json.
//
// Input: a file (argument) or stdin holding queries separated by lines that are exactly `// ---`
// (the format `fwlog ... --print-kql` writes). Every diagnostic of severity Error fails the check;
// warnings are printed but allowed. Exit 0 = every query is clean, 1 = errors, 2 = usage problem.
//
// `--database FILE` adds what a cluster database holds besides the tables: a JSON object
// {"externalTables": {"Name": "(col:type, ...)"}, "functions": [{"name", "parameters", "body"}]}
// (what `fwlog kusto external-table` creates), so queries over those functions, the functions' bodies and the
// control commands that create them are checked against the external tables' schema. Commands (text starting
// with `.`) are parsed and analyzed like queries.
'use strict';
const fs = require('fs');
const path = require('path');
require('@kusto/language-service-next/bridge.min.js');
require('@kusto/language-service-next/Kusto.Language.Bridge.min.js');

const K = Kusto.Language;
const schemaFile = path.join(__dirname, 'schemas.json');
const decl = JSON.parse(fs.readFileSync(schemaFile, 'utf8'));

function globals(extra) {
  const symbols = Object.entries(decl.tables).map(
    ([name, cols]) => new K.Symbols.TableSymbol.$ctor7(name, `(${cols}, ${decl.standard})`, null));
  if (extra) {
    for (const [name, cols] of Object.entries(extra.externalTables || {})) {
      symbols.push(new K.Symbols.ExternalTableSymbol.$ctor4(name, cols, null));
    }
    for (const f of extra.functions || []) {
      symbols.push(new K.Symbols.FunctionSymbol.$ctor16(f.name, f.parameters, f.body, null));
    }
  }
  const db = new K.Symbols.DatabaseSymbol.ctor('database', symbols);
  return K.GlobalState.Default.WithDatabase(db);
}

function splitQueries(text) {
  const out = [];
  let cur = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '// ---') { out.push(cur.join('\n')); cur = []; } else { cur.push(line); }
  }
  out.push(cur.join('\n'));
  return out.filter(q => q.trim().length > 0);
}

function lineCol(text, offset) {
  const before = text.slice(0, offset).split('\n');
  return `${before.length}:${before[before.length - 1].length + 1}`;
}

function main() {
  const args = process.argv.slice(2);
  let extra = null;
  const at = args.indexOf('--database');
  if (at >= 0) {
    if (!args[at + 1]) { console.error('kql-check: --database needs a file'); process.exit(2); }
    extra = JSON.parse(fs.readFileSync(args[at + 1], 'utf8'));
    args.splice(at, 2);
  }
  const arg = args[0];
  const text = arg && arg !== '-' ? fs.readFileSync(arg, 'utf8') : fs.readFileSync(0, 'utf8');
  const queries = splitQueries(text);
  if (queries.length === 0) { console.error('kql-check: no queries given'); process.exit(2); }
  const g = globals(extra);
  let errors = 0, warnings = 0;
  queries.forEach((q, i) => {
    const code = K.KustoCode.ParseAndAnalyze(q, g);
    const diags = Bridge.toArray(code.GetDiagnostics());
    const first = q.split('\n').find(l => l.trim().length > 0) || '';
    const head = (q.split('\n').find(l => l.startsWith('// fwlog:query='))
      || (first.startsWith('.') ? first.slice(0, 60) : `query ${i + 1}`)).trim();
    for (const d of diags) {
      const sev = String(d.Severity);
      const where = lineCol(q, d.Start);
      const snippet = q.substr(d.Start, Math.max(1, Math.min(d.Length, 60)));
      console.log(`${head} [#${i + 1}] ${sev} ${d.Code} at ${where}: ${d.Message} («${snippet}»)`);
      if (sev === 'Error') errors++; else warnings++;
    }
  });
  console.log(`kql-check: ${queries.length} queries, ${errors} errors, ${warnings} warnings`);
  process.exit(errors > 0 ? 1 : 0);
}

main();
