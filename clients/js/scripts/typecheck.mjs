// The package's types, as a TypeScript app meets them: types-test/consumer.ts (the documented API)
// must compile under `tsc --strict`; types-test/typo*.ts (a misspelt field) must not, with the
// error TypeScript gives for that mistake.

import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");

function compile() {
  return spawnSync(
    process.execPath,
    [tsc, "--strict", "--noEmit", "--pretty", "false", "-p", join(root, "types-test", "tsconfig.json")],
    { cwd: root, encoding: "utf8" },
  );
}

function compileFile(file) {
  return spawnSync(
    process.execPath,
    [tsc, "--strict", "--noEmit", "--pretty", "false", "--target", "ES2022", "--module", "NodeNext",
      "--moduleResolution", "NodeNext", "--lib", "ES2022,DOM,DOM.Iterable",
      join(root, "types-test", file)],
    { cwd: root, encoding: "utf8" },
  );
}

let failed = false;
const good = compile();
if (good.status !== 0) {
  console.error("types-test/consumer.ts does not compile:\n" + good.stdout + good.stderr);
  failed = true;
} else {
  console.log("ok: types-test/consumer.ts compiles with tsc --strict");
}
for (const [file, code] of [["typo.ts", "TS2561"], ["typo-read.ts", "TS2551"]]) {
  const bad = compileFile(file);
  if (bad.status === 0 || !bad.stdout.includes(code)) {
    console.error(`types-test/${file} should fail with ${code}; got status ${bad.status}:\n${bad.stdout}${bad.stderr}`);
    failed = true;
  } else {
    console.log(`ok: types-test/${file} is refused (${code})`);
  }
}
process.exit(failed ? 1 : 0);
