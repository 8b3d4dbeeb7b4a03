// Copies the package's browser build (lib/: plain ES modules and their .d.ts, no compile step)
// to where the service serves it, app/static/sdk/v1/, which is committed: the Python package and
// the Docker image then carry it without Node. `--check` changes nothing and fails when the
// committed copy differs from lib/ (tests/app/test_sdk_build.py runs it).
//
//   node scripts/build.mjs            write app/static/sdk/v1/
//   node scripts/build.mjs --check    compare only
//   node scripts/build.mjs --out DIR  write DIR instead

import { readdir, readFile, mkdir, writeFile, rm } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const lib = join(here, "..", "lib");
const args = process.argv.slice(2);
const check = args.includes("--check");
const outIndex = args.indexOf("--out");
const out = outIndex >= 0 ? args[outIndex + 1] : join(here, "..", "..", "..", "app", "static", "sdk", "v1");

async function files(dir) {
  const found = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await files(path)));
    else if (/\.(js|d\.ts)$/.test(entry.name)) found.push(path);
  }
  return found.sort();
}

const wanted = new Map();
for (const path of await files(lib)) wanted.set(relative(lib, path), await readFile(path));

let existing = new Map();
try {
  for (const path of await files(out)) existing.set(relative(out, path), await readFile(path));
} catch (error) {
  if (error.code !== "ENOENT") throw error;
}

const differences = [];
for (const [name, content] of wanted) {
  const current = existing.get(name);
  if (!current) differences.push(`missing ${name}`);
  else if (!current.equals(content)) differences.push(`differs ${name}`);
}
for (const name of existing.keys()) if (!wanted.has(name)) differences.push(`extra ${name}`);

if (check) {
  if (differences.length) {
    console.error(`${relative(process.cwd(), out) || out} is not the build of lib/ (run: npm run build in clients/js):`);
    for (const line of differences) console.error(`  ${line}`);
    process.exit(1);
  }
  console.log(`${wanted.size} files up to date`);
} else {
  for (const name of existing.keys()) if (!wanted.has(name)) await rm(join(out, name));
  for (const [name, content] of wanted) {
    await mkdir(dirname(join(out, name)), { recursive: true });
    await writeFile(join(out, name), content);
  }
  console.log(`wrote ${wanted.size} files to ${out}`);
}
