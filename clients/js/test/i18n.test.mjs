// The catalogues: the same keys and the same placeholders in every language; every error code
// the service documents has a text and an action.

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";

import { ERROR_ACTIONS, describeError } from "../lib/errors.js";
import { CATALOGUES, createTranslator, resolveLocale } from "../lib/i18n/index.js";

const placeholders = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();

test("English and German have exactly the same keys", () => {
  assert.deepEqual(Object.keys(CATALOGUES.de).sort(), Object.keys(CATALOGUES.en).sort());
});

test("every text has the same placeholders in both languages, and none is empty", () => {
  for (const [key, english] of Object.entries(CATALOGUES.en)) {
    const german = CATALOGUES.de[key];
    assert.ok(english.trim() && german.trim(), key);
    assert.deepEqual(placeholders(german), placeholders(english), key);
  }
});

test("German is really German: no text is left in English (brand names aside)", () => {
  const same = Object.keys(CATALOGUES.en).filter(
    (key) => CATALOGUES.en[key] === CATALOGUES.de[key] && !/[{}]/.test(CATALOGUES.en[key].replace(/\{\w+\}/g, "")),
  );
  // Texts that are only placeholders, brand names or universal ("Microsoft 365", "{account}: {state}.").
  const allowed = new Set(["provider.outlook", "account.label", "rule.saved", "notice.retryIn"]);
  assert.deepEqual(same.filter((key) => !allowed.has(key)), []);
});

test("the locale comes from the first usable candidate; unknown languages fall back to English", () => {
  assert.equal(resolveLocale(null, "de-AT"), "de");
  assert.equal(resolveLocale("", "en-GB", "de"), "en");
  assert.equal(resolveLocale("fr"), "en");
  assert.equal(resolveLocale(), "en");
});

test("the translator fills placeholders and leaves unknown ones visible", () => {
  const t = createTranslator("de");
  assert.equal(t("connect.done", { account: "a@b.de (Google Kalender)" }), "a@b.de (Google Kalender) ist verbunden.");
  assert.equal(t("connect.done"), "{account} ist verbunden.");
});

test("every error code in docs/errors.md has an action and a text in both languages", (context) => {
  const doc = new URL("../../../docs/errors.md", import.meta.url);
  if (!existsSync(doc)) return context.skip("not inside the service's repository");
  const codes = [...readFileSync(doc, "utf8").matchAll(/^\| `([a-z_]+)`/gm)].map((match) => match[1]);
  assert.ok(codes.length > 20, "the table was found");
  for (const code of codes) {
    assert.ok(Object.hasOwn(ERROR_ACTIONS, code), `no action for ${code}`);
    for (const locale of ["en", "de"]) {
      const text = describeError({ code }, { provider: "Google" }, createTranslator(locale)).text;
      assert.ok(!text.startsWith("error."), `${locale}: no text for ${code}`);
    }
  }
});

test("a timeout on a write says the change may or may not have been saved, and offers a reload", () => {
  const t = createTranslator("en");
  const read = describeError({ code: "upstream_timeout" }, {}, t);
  const write = describeError({ code: "upstream_timeout" }, { write: true }, t);
  assert.equal(read.action, "retry");
  assert.equal(write.action, "reload");
  assert.match(write.text, /cannot tell whether your change was saved/);
});

test("the demo app's own texts have the same keys and placeholders in English and German", async (context) => {
  const demo = new URL("../../../app/static/demo/i18n.js", import.meta.url);
  if (!existsSync(demo)) return context.skip("not inside the service's repository");
  const { DEMO_TEXTS } = await import(demo);
  assert.deepEqual(Object.keys(DEMO_TEXTS.de).sort(), Object.keys(DEMO_TEXTS.en).sort());
  for (const [key, english] of Object.entries(DEMO_TEXTS.en)) {
    assert.deepEqual(placeholders(DEMO_TEXTS.de[key]), placeholders(english), key);
    assert.notEqual(DEMO_TEXTS.de[key], english, key);
  }
});
