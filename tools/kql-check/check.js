#!/usr/bin/env node
// Checks KQL queries with Microsoft's Kusto language service (@kusto/language-service-next) against the
// firewall table schemas declared in schemas.json.
//
// Input: a file (argument) or stdin holding queries separated by lines that are exactly `// ---`
// (the format `fwlog ... --print-kql` writes). Every diagnostic of severity Error fails the check;
// warnings are printed but allowed. Exit 0 = every query is clean, 1 = errors, 2 = usage problem.
'use strict';
const fs = require('fs');
const path = require('path');
require('@kusto/language-service-next/bridge.min.js');
require('@kusto/language-service-next/Kusto.Language.Bridge.min.js');

const K = Kusto.Language;
const schemaFile = path.join(__dirname, 'schemas.json');
const decl = JSON.parse(fs.readFileSync(schemaFile, 'utf8'));

function globals() {
  const tables = Object.entries(decl.tables).map(
    ([name, cols]) => new K.Symbols.TableSymbol.$ctor7(name, `(${cols}, ${decl.standard})`, null));
  const db = new K.Symbols.DatabaseSymbol.ctor('workspace', tables);
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
  const arg = process.argv[2];
  const text = arg && arg !== '-' ? fs.readFileSync(arg, 'utf8') : fs.readFileSync(0, 'utf8');
  const queries = splitQueries(text);
  if (queries.length === 0) { console.error('kql-check: no queries given'); process.exit(2); }
  const g = globals();
  let errors = 0, warnings = 0;
  queries.forEach((q, i) => {
    const code = K.KustoCode.ParseAndAnalyze(q, g);
    const diags = Bridge.toArray(code.GetDiagnostics());
    const head = (q.split('\n').find(l => l.startsWith('// fwlog:query=')) || `query ${i + 1}`).trim();
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
