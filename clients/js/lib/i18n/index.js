// The element's languages: one catalogue per language, chosen by an explicit `lang`/`locale`,
// else the nearest `lang` attribute in the page, else English.

import de from "./de.js";
import en from "./en.js";

export const CATALOGUES = Object.freeze({ en, de });
export const DEFAULT_LOCALE = "en";

/** "de-AT" -> "de"; anything we have no catalogue for -> "en". */
export function resolveLocale(...candidates) {
  for (const candidate of candidates) {
    if (typeof candidate !== "string" || !candidate.trim()) continue;
    const base = candidate.trim().toLowerCase().split(/[-_]/)[0];
    if (Object.hasOwn(CATALOGUES, base)) return base;
  }
  return DEFAULT_LOCALE;
}

/** t(key, values): the text for `key`, {name} placeholders filled; English when a key is missing. */
export function createTranslator(locale) {
  const catalogue = CATALOGUES[resolveLocale(locale)];
  return function t(key, values = {}) {
    const text = Object.hasOwn(catalogue, key) ? catalogue[key] : en[key];
    if (text === undefined) return key;
    return text.replace(/\{(\w+)\}/g, (match, name) => (Object.hasOwn(values, name) ? String(values[name]) : match));
  };
}
