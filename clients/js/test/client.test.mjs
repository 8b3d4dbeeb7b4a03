// The client under Node: importable and constructible without a window, every call's request,
// typed write results, errors as CalendarError. Browser-only behaviour is in tests/browser/.

import assert from "node:assert/strict";
import { test } from "node:test";

import { CalendarError, createCalendarClient, readRedirectResult, VERSION } from "../lib/calendar.js";

const BASE = "https://calendar.example.test";
const pkg = JSON.parse(await (await import("node:fs/promises")).readFile(new URL("../package.json", import.meta.url), "utf8"));

/** A fetch that answers from `routes` ("METHOD path" -> Response factory) and records calls. */
function fakeFetch(routes) {
  const calls = [];
  const fetch = async (url, init) => {
    const target = new URL(url);
    calls.push({ method: init.method, url: target, init });
    const route = routes[`${init.method} ${target.pathname}`];
    if (!route) return new Response(JSON.stringify({ code: "not_found" }), { status: 404 });
    return route(init);
  };
  return { fetch, calls };
}

const json = (body, status = 200, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

const CONNECTION = { id: "c1", provider: "google", email: "alice@example.com", isConnected: true, isPrimary: true };

test("the package's version and the module's VERSION agree", () => {
  assert.equal(VERSION, pkg.version);
});

test("importing and constructing never touches window (SSR)", () => {
  assert.equal(typeof globalThis.window, "undefined");
  const client = createCalendarClient();
  assert.equal(typeof client.listConnections, "function");
  assert.equal(readRedirectResult(), null);
});

test("a relative base URL outside a browser fails with not_in_browser when a call is made", async () => {
  const client = createCalendarClient({ fetch: async () => json({}) });
  await assert.rejects(client.listConnections(), (error) => error instanceof CalendarError && error.code === "not_in_browser");
});

test("connect and reconnect outside a browser reject with not_in_browser", async () => {
  const client = createCalendarClient({ baseUrl: BASE, fetch: async () => json({}) });
  await assert.rejects(client.connect("google"), { code: "not_in_browser" });
  await assert.rejects(client.reconnect(CONNECTION), { code: "not_in_browser" });
  await assert.rejects(client.reconnect(null), { code: "validation_error" });
});

test("every call sends the CSRF header and the cookie, to meetergo's path under /api", async () => {
  const { fetch, calls } = fakeFetch({
    "GET /api/v4/calendar-connections/connections": () => json({ connections: [CONNECTION], total: 1 }),
  });
  const client = createCalendarClient({ baseUrl: BASE, fetch });
  const answer = await client.listConnections();
  assert.deepEqual(answer, { connections: [CONNECTION], total: 1 });
  assert.equal(calls.length, 1);
  assert.equal(calls[0].init.credentials, "include");
  assert.equal(calls[0].init.headers["X-CSRF"], "1");
  assert.equal(calls[0].url.origin, BASE);
});

test("path parameters are encoded, query parameters only when given", async () => {
  const { fetch, calls } = fakeFetch({
    "GET /api/v4/calendar-connections/auth/google/url": () => json({ authUrl: "https://x", provider: "google" }),
    "GET /api/v4/calendar-connections/connections/a%2Fb/calendars": () => json({ calendars: [] }),
  });
  const client = createCalendarClient({ baseUrl: BASE, fetch });
  await client.getAuthUrl("google", { setAsCalendarSync: true });
  await client.listCalendars("a/b");
  assert.equal(calls[0].url.search, "?setAsCalendarSync=true");
  assert.equal(calls[1].url.pathname, "/api/v4/calendar-connections/connections/a%2Fb/calendars");
});

test("updateConnection resolves meetergo's updated connection", async () => {
  const updated = { ...CONNECTION, validateAvailability: false };
  const { fetch, calls } = fakeFetch({
    "PATCH /api/v4/calendar-connections/connections/c1": () => json(updated),
  });
  const client = createCalendarClient({ baseUrl: BASE, fetch });
  assert.deepEqual(await client.updateConnection("c1", { validateAvailability: false }), updated);
  assert.equal(calls[0].init.body, JSON.stringify({ validateAvailability: false }));
  assert.equal(calls[0].init.headers["Content-Type"], "application/json");
});

test("a write answered without a body resolves the connection as re-read", async () => {
  const { fetch, calls } = fakeFetch({
    "POST /api/v4/calendar-connections/connections/c1/set-primary": () => new Response(null, { status: 204 }),
    "GET /api/v4/calendar-connections/connections": () => json({ connections: [CONNECTION], total: 1 }),
  });
  const client = createCalendarClient({ baseUrl: BASE, fetch });
  assert.deepEqual(await client.setPrimaryConnection("c1"), CONNECTION);
  assert.deepEqual(calls.map((call) => call.method), ["POST", "GET"]);
});

test("a write whose connection is gone on re-read rejects with not_found", async () => {
  const { fetch } = fakeFetch({
    "PATCH /api/v4/calendar-connections/connections/c9": () => new Response("", { status: 200 }),
    "GET /api/v4/calendar-connections/connections": () => json({ connections: [CONNECTION], total: 1 }),
  });
  const client = createCalendarClient({ baseUrl: BASE, fetch });
  await assert.rejects(client.updateConnection("c9", {}), { code: "not_found" });
});

test("deleteConnection resolves nothing, whatever the body; logout says whether it was recorded", async () => {
  let recorded = true;
  const { fetch } = fakeFetch({
    "DELETE /api/v4/calendar-connections/connections/c1": () => json({ deleted: true }),
    "POST /auth/logout": () =>
      recorded ? new Response(null, { status: 204 }) : json({ revocationRecorded: false }, 202),
  });
  const client = createCalendarClient({ baseUrl: BASE, fetch });
  assert.equal(await client.deleteConnection("c1"), undefined);
  assert.equal(await client.logout(), null);
  recorded = false; // the service's shared state was down: the cookie is gone, the record pending
  assert.deepEqual(await client.logout(), { revocationRecorded: false });
});

test("problem+json becomes a CalendarError with its code, status, Retry-After and request id", async () => {
  const { fetch } = fakeFetch({
    "GET /api/v4/calendar-connections/connections": () =>
      json({ code: "upstream_rate_limited", title: "Busy", requestId: "r-1" }, 503, { "Retry-After": "7" }),
  });
  const client = createCalendarClient({ baseUrl: BASE, fetch });
  await assert.rejects(client.listConnections(), (error) => {
    assert.ok(error instanceof CalendarError);
    assert.equal(error.code, "upstream_rate_limited");
    assert.equal(error.status, 503);
    assert.equal(error.retryAfter, 7);
    assert.equal(error.requestId, "r-1");
    return true;
  });
});

test("a network failure is network_error, an unreadable answer bad_response", async () => {
  const down = createCalendarClient({ baseUrl: BASE, fetch: async () => { throw new TypeError("failed"); } });
  await assert.rejects(down.listConnections(), { code: "network_error" });
  const garbled = createCalendarClient({ baseUrl: BASE, fetch: async () => new Response("<html>", { status: 200 }) });
  await assert.rejects(garbled.listConnections(), { code: "bad_response" });
});

test("me() rejects the signed-out answer with its code; session() resolves null", async () => {
  const { fetch } = fakeFetch({
    "GET /auth/status": () => json({ authenticated: false, code: "session_expired" }),
  });
  const client = createCalendarClient({ baseUrl: BASE, fetch });
  await assert.rejects(client.me(), { code: "session_expired" });
  assert.equal(await client.session(), null);
});

test("me() and session() resolve the profile when signed in", async () => {
  const profile = { authenticated: true, appUserId: "alice", name: "Alice", meetergoUserMapped: true };
  const { fetch } = fakeFetch({ "GET /auth/status": () => json(profile) });
  const client = createCalendarClient({ baseUrl: BASE, fetch });
  assert.deepEqual(await client.me(), profile);
  assert.deepEqual(await client.session(), profile);
});

test("readRedirectResult reads both result forms from a given URL", () => {
  assert.deepEqual(readRedirectResult({ url: `${BASE}/s?success=true&provider=google&connectionId=c1` }), {
    success: true, provider: "google", connectionId: "c1", code: null, message: null,
  });
  const failed = readRedirectResult({ url: `${BASE}/s?error=true&provider=google&code=access_denied&message=a%2520b` });
  assert.equal(failed.code, "access_denied");
  assert.equal(failed.message, "a b");
});
