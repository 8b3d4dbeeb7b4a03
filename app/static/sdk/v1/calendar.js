// meetergo-calendar-bff browser client (@meetergo/calendar-bff-client). An ES module with no
// dependencies. It can be imported and constructed anywhere (Node, SSR): it touches `window` only
// when a browser-only call (connect, readRedirectResult) is made, or when it has to resolve a
// relative base URL against the page.
//
//   import { createCalendarClient, CalendarError } from "@meetergo/calendar-bff-client";
//   const calendar = createCalendarClient();
//   button.onclick = async () => {
//     try { const { connectionId } = await calendar.connect("google"); }
//     catch (e) { if (e instanceof CalendarError) show(e.code); }
//   };
//
// Every call sends the session cookie and the CSRF header; every error is a CalendarError with a
// stable `code` (the service's problem+json codes, plus the client's own: popup_blocked,
// popup_closed, timeout, aborted, flow_in_progress, network_error, bad_response, not_in_browser).

export const VERSION = "1.1.0";

const MESSAGE_TYPE = "calendar-connected";
const CHANNEL_PREFIX = "meetergo-calendar-flow:";
const POPUP_NAME = "meetergo-calendar-connect";
const POPUP_FEATURES = "popup=yes,width=520,height=680,left=120,top=80";

export class CalendarError extends Error {
  constructor({ code, status = 0, title, detail, retryAfter = null, requestId = null, errors = null }) {
    super(detail || title || code);
    this.name = "CalendarError";
    this.code = code;
    this.status = status;
    this.title = title || code;
    this.detail = detail || null;
    this.retryAfter = retryAfter;
    this.requestId = requestId;
    this.errors = errors;
  }
}

function parseRetryAfter(value) {
  if (!value) return null;
  if (/^\d+$/.test(value)) return Number(value);
  const when = Date.parse(value);
  return Number.isNaN(when) ? null : Math.max(0, Math.ceil((when - Date.now()) / 1000));
}

function newFlowId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function toError(response) {
  let problem = {};
  try {
    problem = await response.json();
  } catch {
    // not problem+json: keep the status only
  }
  return new CalendarError({
    code: typeof problem.code === "string" ? problem.code : "bad_response",
    status: response.status,
    title: problem.title,
    detail: problem.detail,
    retryAfter: parseRetryAfter(response.headers.get("Retry-After")),
    requestId: problem.requestId || response.headers.get("X-Request-ID"),
    errors: problem.errors || null,
  });
}

/**
 * A client for one service. `baseUrl` is the service's origin ("" for the page's own origin).
 */
export function createCalendarClient({ baseUrl = "", apiPrefix = "/api", fetch: fetchImpl } = {}) {
  const doFetch = (...args) => (fetchImpl || globalThis.fetch)(...args);
  const api = `${baseUrl}${apiPrefix}/v4/calendar-connections`;
  let activeFlow = null;

  /** Where relative URLs are resolved: the page, or (outside a browser) an absolute baseUrl. */
  function pageUrl() {
    if (typeof window !== "undefined" && window.location) return window.location.href;
    if (/^https?:\/\//i.test(baseUrl)) return baseUrl;
    throw new CalendarError({
      code: "not_in_browser",
      title: "Outside a browser the client needs an absolute baseUrl",
    });
  }
  function serviceOrigin() {
    return new URL(baseUrl || pageUrl(), pageUrl()).origin;
  }
  function requireBrowser(what) {
    if (typeof window === "undefined" || typeof window.open !== "function") {
      throw new CalendarError({ code: "not_in_browser", title: `${what} works only in a browser` });
    }
  }

  async function request(method, url, { body, query } = {}) {
    const target = new URL(url, pageUrl());
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null) target.searchParams.set(name, String(value));
    }
    const headers = { "X-CSRF": "1", Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await doFetch(target.toString(), {
        method,
        credentials: "include",
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (cause) {
      const error = new CalendarError({ code: "network_error", title: "The service could not be reached" });
      error.cause = cause;
      throw error;
    }
    if (!response.ok) throw await toError(response);
    if (response.status === 204) return null;
    const text = await response.text();
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      throw new CalendarError({ code: "bad_response", status: response.status, title: "The answer was not JSON" });
    }
  }

  const enc = encodeURIComponent;

  /** A write's answer as the updated connection: meetergo's body, or (when it sent none) re-read. */
  async function updated(connectionId, answer) {
    if (answer && typeof answer === "object" && answer.id === connectionId) return answer;
    const { connections } = await client.listConnections();
    const found = (connections || []).find((item) => item.id === connectionId);
    if (!found) throw new CalendarError({ code: "not_found", status: 404, title: "The connection no longer exists" });
    return found;
  }

  const client = {
    // -- the six calendar operations, as meetergo names them --------------------------------------
    getAuthUrl: (provider, { redirectUrl, setAsCalendarSync } = {}) =>
      request("GET", `${api}/auth/${enc(provider)}/url`, { query: { redirectUrl, setAsCalendarSync } }),
    listConnections: () => request("GET", `${api}/connections`),
    listCalendars: (connectionId) => request("GET", `${api}/connections/${enc(connectionId)}/calendars`),
    updateConnection: async (connectionId, changes) =>
      updated(connectionId, await request("PATCH", `${api}/connections/${enc(connectionId)}`, { body: changes })),
    deleteConnection: async (connectionId) => {
      await request("DELETE", `${api}/connections/${enc(connectionId)}`);
    },
    setPrimaryConnection: async (connectionId) =>
      updated(connectionId, await request("POST", `${api}/connections/${enc(connectionId)}/set-primary`)),

    // -- the session ---------------------------------------------------------------------------
    login: (ticket) => request("POST", `${baseUrl}/auth/session`, { body: { ticket } }),
    /**
     * The signed-in user; rejects with `unauthenticated` (or session_expired, session_revoked).
     * It asks /auth/status, which answers a signed-out browser with 200, not 401: a page that
     * checks on every visit logs no failed request in the console.
     */
    me: async () => {
      const answer = await request("GET", `${baseUrl}/auth/status`);
      if (answer && answer.authenticated === false) {
        const code = typeof answer.code === "string" ? answer.code : "unauthenticated";
        throw new CalendarError({ code, status: 200, title: answer.title || "Not signed in" });
      }
      return answer;
    },
    /** Like me(), but resolves null when nobody is signed in. */
    session: async () => {
      try {
        return await client.me();
      } catch (error) {
        if (error instanceof CalendarError && SIGNED_OUT.has(error.code)) return null;
        throw error;
      }
    },
    /**
     * Null once every replica knows; {revocationRecorded: false} when the service could not record
     * the revocation yet (its shared state was down): the cookie is gone all the same.
     */
    logout: async () => (await request("POST", `${baseUrl}/auth/logout`)) ?? null,

    /** The state of one of this browser's flows: {state: "pending" | "success" | "error", ...}. */
    flowStatus: (flowId) => request("GET", `${baseUrl}${apiPrefix}/connect/flows/${enc(flowId)}`),

    /**
     * Connect a calendar. Call it directly inside the click handler: the popup must open
     * synchronously or the browser blocks it. Resolves {connectionId, provider, flowId}; rejects
     * with a CalendarError. mode "redirect" leaves the page (see readRedirectResult).
     */
    connect(provider, options = {}) {
      return connectFlow(provider, options);
    },

    /**
     * Connect again a connection whose credentials meetergo lost (`isConnected: false`): the
     * same connect flow for its provider. meetergo's auth URL takes no login hint, so the user
     * picks the account at the provider; resolves like connect(), with `reconnected: true` when
     * the flow came back with that same connection.
     */
    async reconnect(connection, options = {}) {
      if (!connection || typeof connection.provider !== "string") {
        throw new CalendarError({ code: "validation_error", title: "reconnect() needs a connection object" });
      }
      const result = await connectFlow(connection.provider, options);
      return { ...result, reconnected: result.connectionId === connection.id };
    },
  };

  function connectFlow(provider, options = {}) {
    const {
      mode = "popup",
      setAsCalendarSync,
      returnTo,
      timeoutMs = 5 * 60 * 1000,
      closedGraceMs = 10 * 1000,
      severedGraceMs = 60 * 1000,
      earlyCloseMs = 4 * 1000,
      pollIntervalMs = 1500,
      signal,
      popupFeatures = POPUP_FEATURES,
      onPopupClosed,
    } = options;
    try {
      requireBrowser("connect()");
    } catch (error) {
      return Promise.reject(error);
    }
    if (activeFlow) {
      return Promise.reject(new CalendarError({ code: "flow_in_progress", title: "A connection is already in progress" }));
    }
    if (signal && signal.aborted) {
      return Promise.reject(new CalendarError({ code: "aborted", title: "Cancelled" }));
    }
    const flowId = newFlowId();
    const start = new URL(`${baseUrl}/connect/${enc(provider)}`, pageUrl());
    start.searchParams.set("mode", mode);
    start.searchParams.set("flowId", flowId);
    if (setAsCalendarSync !== undefined) start.searchParams.set("setAsCalendarSync", String(setAsCalendarSync));
    if (mode === "redirect") {
      start.searchParams.set("returnTo", returnTo || window.location.href);
      window.location.assign(start.toString());
      return new Promise(() => {}); // the page is leaving
    }
    const popup = window.open(start.toString(), POPUP_NAME, popupFeatures);
    if (!popup || popup.closed) {
      return Promise.reject(new CalendarError({ code: "popup_blocked", title: "The browser blocked the popup" }));
    }
    return new Promise((resolve, reject) => {
      const timers = [];
      let channel = null;
      let closedSince = null;
      let closedEarly = false;
      const openedAt = Date.now();
      let polling = false;
      activeFlow = flowId;
      const origin = serviceOrigin();

      const cleanup = () => {
        timers.forEach((id) => clearInterval(id));
        window.removeEventListener("message", onMessage);
        if (channel) channel.close();
        if (signal) signal.removeEventListener("abort", onAbort);
        activeFlow = null;
      };
      const fail = (code, title) => {
        cleanup();
        try { popup.close(); } catch { /* severed by COOP */ }
        reject(new CalendarError({ code, title }));
      };
      const finish = (result) => {
        cleanup();
        try { popup.close(); } catch { /* severed by COOP */ }
        if (result.success) {
          resolve({ connectionId: result.connectionId, provider: result.provider || provider, flowId });
        } else {
          reject(new CalendarError({ code: result.code || "connect_failed", title: result.error || undefined }));
        }
      };
      function onMessage(event) {
        if (event.origin !== origin) return;
        if (event.source !== popup) return;
        const data = event.data;
        if (!data || data.type !== MESSAGE_TYPE || data.flowId !== flowId) return;
        finish(data);
      }
      function onAbort() {
        fail("aborted", "Cancelled");
      }
      const poll = async () => {
        if (polling) return;
        polling = true;
        try {
          const status = await client.flowStatus(flowId);
          if (activeFlow !== flowId) return;
          if (status.state === "success") finish({ success: true, connectionId: status.connectionId, provider: status.provider });
          if (status.state === "error") finish({ success: false, code: status.code });
        } catch {
          // 404 until the popup has started the flow; a network hiccup: try again next tick
        } finally {
          polling = false;
        }
      };

      window.addEventListener("message", onMessage);
      if ("BroadcastChannel" in window && origin === window.location.origin) {
        channel = new BroadcastChannel(CHANNEL_PREFIX + flowId);
        channel.onmessage = (event) => {
          const data = event.data;
          if (data && data.type === MESSAGE_TYPE && data.flowId === flowId) finish(data);
        };
      }
      if (signal) signal.addEventListener("abort", onAbort);
      timers.push(setInterval(poll, pollIntervalMs));
      timers.push(setInterval(() => {
        // A provider page with Cross-Origin-Opener-Policy makes popup.closed read true while
        // the user is still there: wait (and poll) a grace period before believing it. That
        // cut happens as the consent page loads, so a window that "closed" within
        // earlyCloseMs of opening was most likely cut, not closed: it gets the longer grace.
        if (!popup.closed) { closedSince = null; return; }
        if (closedSince === null) {
          closedSince = Date.now();
          closedEarly = closedSince - openedAt < earlyCloseMs;
          // Tell the page at once (it can offer Retry/Cancel); a late result still counts.
          if (onPopupClosed) {
            try { onPopupClosed({ flowId, provider }); } catch { /* the page's problem */ }
          }
        }
        const grace = closedEarly ? Math.max(closedGraceMs, severedGraceMs) : closedGraceMs;
        if (Date.now() - closedSince >= grace) fail("popup_closed", "The window was closed");
      }, 250));
      const startedAt = Date.now();
      timers.push(setInterval(() => {
        if (Date.now() - startedAt >= timeoutMs) fail("timeout", "The connection took too long");
      }, 250));
    });
  }
  return client;
}

const SIGNED_OUT = new Set(["unauthenticated", "session_expired", "session_revoked"]);

// meetergo encodes the message twice; the URL is anyone's to craft, so a bad escape is kept as
// it is rather than thrown (a URIError here would break the page that reads its result).
function decodeMessage(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The result a redirect-mode flow left in the URL, or null: {success, provider, connectionId,
 * code, message}. With `clean`, the parameters are removed from the address bar. Anyone can
 * craft such a URL: treat it as a hint (re-read the connections) and show `message` as text.
 */
export function readRedirectResult({ url, clean = true } = {}) {
  if (url === undefined) {
    if (typeof window === "undefined") return null;
    url = window.location.href;
  }
  const target = new URL(url);
  const params = target.searchParams;
  const success = params.get("success") === "true";
  const error = params.get("error") === "true";
  if (!success && !error) return null;
  const message = params.get("message");
  const result = {
    success,
    provider: params.get("provider"),
    connectionId: success ? params.get("connectionId") : null,
    code: success ? null : params.get("code") || "connect_failed",
    message: message ? decodeMessage(message) : null,
  };
  if (clean && typeof window !== "undefined" && url === window.location.href) {
    for (const name of ["success", "error", "provider", "connectionId", "message", "code"]) params.delete(name);
    window.history.replaceState(window.history.state, "", target.toString());
  }
  return result;
}
