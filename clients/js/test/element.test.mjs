// The element's module under Node (SSR): it imports, defines nothing, and says so.

import assert from "node:assert/strict";
import { test } from "node:test";

test("importing the element outside a browser neither throws nor defines anything", async () => {
  const module = await import("../lib/settings-element.js");
  assert.equal(module.TAG_NAME, "meetergo-calendar-settings");
  assert.equal(module.defineCalendarSettings(), false);
});
