// The demo's calendar settings page, built on the service's JS client (/sdk/v1/calendar.js).
//
// Test hooks (data-testid unless said otherwise):
//   <body data-state>        "loading" until the first answer; "ready" when the list has loaded
//                            and nothing is in flight; "busy" while any call (or a connect flow)
//                            is running; "error" when the list could not be loaded (including a
//                            user without a meetergo account); "signed-out" without a session.
//   user-name, session-expiry, sign-out       the header
//   message                  the visible message box; data-kind="success|info|error" and
//                            data-code="<error code>" on it. Inside: message-text,
//                            message-retry (try again / reload), message-sign-in,
//                            message-request-id (small print, server-side problems only)
//   announcer                the polite live region that reads each message out once
//   refresh                  reload the list of accounts
//   provider-google, provider-outlook, provider-other     the provider cards; inside each:
//                            status-<provider> (data-status="loading|connected|attention|none"),
//                            accounts-<provider> (the connected e-mail addresses),
//                            empty-<provider> (the empty state, when nothing is connected)
//   connect-google, connect-outlook              connect buttons
//   cancel-connect-google, cancel-connect-outlook   cancel a connect flow in progress
//   connection-<connectionId>    one connected account (data-primary="true|false"); inside it,
//                            scoped to that row:
//     account-email, primary-badge, needs-reconnect
//     set-primary, disconnect
//     toggle-validateAvailability, toggle-cancelIfDeclinedOrDeleted,
//     toggle-disableAttendeeNotification            switches that save at once
//     toggle-saving-<field>  "Saving…", present only while that switch's change is in flight
//     conflict-calendars     the group of conflict checkboxes
//     calendar-<calendarId>  one checkbox per calendar (also data-calendar-id)
//     primary-calendar       the <select> of the calendar new bookings go to
//     save-calendars, discard-calendars, calendars-dirty, calendars-loading, calendars-error
//   disconnect-dialog, confirm-disconnect, cancel-disconnect    the confirmation dialog

import { createCalendarClient, readRedirectResult } from "/sdk/v1/calendar.js";
import { h, idPart, timeElement } from "./dom.js";
import { accountLabel, draftChanges, renderConnection, RULES } from "./connection-view.js";
import { confirmDisconnect, dialog } from "./disconnect-dialog.js";
import { providerName } from "./messages.js";
import { createNotices } from "./notice.js";

const PROVIDERS = ["google", "outlook"];
const SIGN_IN_PAGE = "index.html";
const SESSION_GONE = new Set(["unauthenticated", "session_expired", "session_revoked"]);
const NO_ACCOUNT = new Set(["user_not_mapped", "user_not_found"]);
const REDIRECT_FALLBACK_DELAY_MS = 1500;
const CONNECT_WORDING = {
  google: { first: "Connect Google Calendar", another: "Connect another Google account" },
  outlook: { first: "Connect Microsoft 365", another: "Connect another Microsoft account" },
};

const client = createCalendarClient();
// A redirect-mode connect flow came back here with its result in the URL: read it (and remove it
// from the address bar) before anything else, report it once the list has loaded.
let returnedFromConnect = readRedirectResult();
const notices = createNotices({
  region: document.getElementById("message"),
  announcer: document.getElementById("announcer"),
});

const state = {
  profile: null,
  // loading | ready | error | signed-out | no-account
  phase: "loading",
  connections: [],
  calendars: new Map(), // connection id -> { status, list, error }
  drafts: new Map(), // connection id -> { selected, primary }: unsaved calendar choices
  pending: new Map(), // connection id -> Map(operation key -> value)
  connecting: null, // { provider, controller, redirectTimer }
  inflight: 0,
  listRound: 0,
  lastFocusId: null,
  focusTarget: null,
  expiryTimer: null,
};

// -- page state ------------------------------------------------------------------------------------

function updatePageState() {
  const settled = state.phase === "no-account" ? "error" : state.phase;
  document.body.dataset.state = state.inflight > 0 ? "busy" : settled;
  document.getElementById("main").setAttribute("aria-busy", state.phase === "loading" ? "true" : "false");
}

/** Run `work` as one call for data-state (busy until it and its re-render are done). */
async function busy(work) {
  state.inflight += 1;
  updatePageState();
  try {
    return await work();
  } finally {
    state.inflight -= 1;
    updatePageState();
  }
}

function locked() {
  return state.phase === "signed-out" || state.phase === "no-account" || state.phase === "loading";
}

function pendingFor(id) {
  if (!state.pending.has(id)) state.pending.set(id, new Map());
  return state.pending.get(id);
}

// -- errors ----------------------------------------------------------------------------------------

/** Explain an error; a lost session or a missing meetergo account also changes the page. */
function report(error, options = {}) {
  if (SESSION_GONE.has(error.code)) {
    // Without a session nothing on the page can be vouched for or changed any more.
    state.phase = "signed-out";
    state.connections = [];
    state.calendars.clear();
    state.drafts.clear();
    state.pending.clear();
    renderHeader();
  } else if (NO_ACCOUNT.has(error.code)) {
    state.phase = "no-account";
  }
  notices.error(error, {
    ...options,
    retry: state.phase === "no-account" ? start : options.retry,
    reload: options.reload || refreshAll,
  });
  render();
}

// -- loading ---------------------------------------------------------------------------------------

/** Reload the connection list (and the session profile); then the calendars of `calendarsFor`. */
async function loadList({ calendarsFor = "all" } = {}) {
  const round = ++state.listRound;
  const [profile, answer] = await Promise.all([client.me(), client.listConnections()]);
  if (round !== state.listRound) return;
  state.profile = profile;
  state.connections = Array.isArray(answer && answer.connections) ? answer.connections : [];
  const ids = new Set(state.connections.map((connection) => connection.id));
  for (const map of [state.calendars, state.drafts, state.pending]) {
    for (const id of [...map.keys()]) if (!ids.has(id)) map.delete(id);
  }
  state.phase = "ready";
  renderHeader();
  const wanted = state.connections
    .map((connection) => connection.id)
    .filter((id) => calendarsFor === "all" || calendarsFor.includes(id) || !state.calendars.has(id));
  for (const id of wanted) state.calendars.set(id, { status: "loading", list: [] });
  render();
  await Promise.all(wanted.map(loadCalendars));
}

async function loadCalendars(id) {
  try {
    const answer = await client.listCalendars(id);
    state.calendars.set(id, { status: "ready", list: Array.isArray(answer && answer.calendars) ? answer.calendars : [] });
  } catch (error) {
    state.calendars.set(id, { status: "error", list: [], error });
    if (SESSION_GONE.has(error.code)) report(error);
  }
  render();
}

function refreshAll() {
  return busy(async () => {
    try {
      await loadList();
      notices.success("Your calendar accounts are up to date.");
    } catch (error) {
      if (state.phase === "loading") state.phase = "error";
      report(error, { retry: refreshAll });
    }
  });
}

async function start() {
  await busy(async () => {
    notices.clear();
    state.phase = "loading";
    render();
    try {
      state.profile = await client.me();
    } catch (error) {
      state.phase = SESSION_GONE.has(error.code) ? "signed-out" : "error";
      renderHeader();
      report(error, { retry: start });
      return;
    }
    renderHeader();
    if (!state.profile.meetergoUserMapped) {
      // Calendar calls would all answer user_not_mapped: say so without making them.
      state.phase = "no-account";
      report({ code: "user_not_mapped" });
      return;
    }
    try {
      await loadList();
    } catch (error) {
      state.phase = "error";
      report(error, { retry: start });
      return;
    }
    if (returnedFromConnect) {
      const returned = returnedFromConnect;
      returnedFromConnect = null;
      reportConnectResult(returned);
    }
  });
}

// -- connecting --------------------------------------------------------------------------------------

/** Runs inside the click handler: the popup must open before anything is awaited. */
function startConnect(provider) {
  if (state.connecting || locked()) return;
  const controller = new AbortController();
  let flow;
  try {
    flow = client.connect(provider, { setAsCalendarSync: true, signal: controller.signal });
  } catch (error) {
    flow = Promise.reject(error);
  }
  state.connecting = { provider, controller, redirectTimer: null };
  state.focusTarget = `cancel-connect-${provider}`;
  notices.info(
    `Finish connecting ${providerName(provider)} in the window that opened (it may be behind this one).`,
  );
  render();
  busy(async () => {
    try {
      const result = await flow;
      state.connecting = null;
      state.focusTarget = `connect-${provider}`;
      await afterConnect({ success: true, provider: result.provider || provider, connectionId: result.connectionId });
    } catch (error) {
      if (error.code === "popup_blocked" && !controller.signal.aborted) {
        fallBackToRedirect(provider);
        return;
      }
      state.connecting = null;
      state.focusTarget = `connect-${provider}`;
      await afterConnect({ success: false, provider, error });
    }
  });
}

function fallBackToRedirect(provider) {
  const connecting = state.connecting;
  notices.info(
    `Your browser blocked the sign-in window, so this tab will go to ${providerName(provider)} instead and come back here when you are done.`,
    { code: "popup_blocked" },
  );
  connecting.redirectTimer = window.setTimeout(() => {
    client.connect(provider, { mode: "redirect", setAsCalendarSync: true });
  }, REDIRECT_FALLBACK_DELAY_MS);
  render();
  state.inflight += 1; // the page is about to leave: stay busy
  updatePageState();
}

function cancelConnect() {
  const connecting = state.connecting;
  if (!connecting) return;
  if (connecting.redirectTimer) {
    window.clearTimeout(connecting.redirectTimer);
    state.inflight -= 1;
    state.connecting = null;
    state.focusTarget = `connect-${connecting.provider}`;
    notices.error({ code: "aborted" });
    render();
    return;
  }
  connecting.controller.abort();
}

/** A finished flow (popup, or redirect mode on return): reload, then say what happened. */
async function afterConnect(outcome) {
  try {
    await loadList({ calendarsFor: outcome.connectionId ? [outcome.connectionId] : [] });
  } catch (error) {
    report(error, { retry: refreshAll });
    return;
  }
  reportConnectResult(outcome);
}

function reportConnectResult(outcome) {
  const { provider } = outcome;
  if (outcome.success) {
    const connection = state.connections.find((item) => item.id === outcome.connectionId);
    const who = connection && connection.email ? ` (${connection.email})` : "";
    const primary = connection && connection.isPrimary
      ? " It is your primary account, so new bookings will be added to it."
      : "";
    notices.success(`${providerName(provider)}${who} is connected.${primary}`);
    if (connection) state.focusTarget = `conn-${idPart(connection.id)}-heading`;
  } else {
    const error = outcome.error || { code: outcome.code || "connect_failed" };
    report(error, { context: { provider }, retry: () => startConnect(provider) });
  }
  render();
}

// -- changing a connection ---------------------------------------------------------------------------

/** Run one write on a connection: mark it pending, call, report, then reload the list. */
function write(connection, key, value, call, { success, retry, after }) {
  const pending = pendingFor(connection.id);
  if (pending.has(key)) return Promise.resolve();
  pending.set(key, value);
  render();
  return busy(async () => {
    let answer;
    try {
      answer = await call();
    } catch (error) {
      pending.delete(key);
      if (error.code === "not_found" || error.code === "upstream_timeout") {
        // The list may be out of date, or the write may have happened after all: show the truth.
        await loadList().catch(() => {});
      }
      report(error, { context: { provider: connection.provider, write: true }, retry });
      return;
    }
    // Reflect the server's answer at once; the reload below confirms it.
    const saved = answer && answer.id === connection.id ? answer : connection;
    if (saved !== connection) replaceConnection(saved);
    pending.delete(key);
    if (after) after(answer);
    notices.success(success(saved));
    render();
    try {
      await loadList({ calendarsFor: key === "save" ? [connection.id] : [] });
    } catch (error) {
      report(error, { retry: refreshAll });
    }
  });
}

function replaceConnection(updated) {
  state.connections = state.connections.map((item) => (item.id === updated.id ? { ...item, ...updated } : item));
}

const actions = {
  toggle(connection, field, value) {
    const rule = RULES.find((item) => item.field === field);
    state.focusTarget = `conn-${idPart(connection.id)}-${field}`;
    write(connection, `rule:${field}`, value, () => client.updateConnection(connection.id, { [field]: value }), {
      success: (saved) => `${accountLabel(saved)}: ${(saved[field] ? rule.on : rule.off).toLowerCase()}.`,
      retry: () => actions.toggle(connection, field, value),
    });
  },

  setPrimary(connection) {
    state.focusTarget = `conn-${idPart(connection.id)}-heading`;
    write(connection, "primary", true, () => client.setPrimaryConnection(connection.id), {
      success: (saved) => `${accountLabel(saved)} is now your primary account: new bookings will be added to its calendar.`,
      retry: () => actions.setPrimary(connection),
    });
  },

  async disconnect(connection, button) {
    const others = state.connections.filter((item) => item.id !== connection.id);
    const confirmed = await confirmDisconnect(connection, others);
    if (!confirmed) {
      button.focus();
      return;
    }
    state.focusTarget = others.length ? `conn-${idPart(others[0].id)}-heading` : `connect-${connection.provider}`;
    if (!PROVIDERS.includes(connection.provider)) state.focusTarget = "accounts-heading";
    write(connection, "delete", true, () => client.deleteConnection(connection.id), {
      success: () =>
        `${accountLabel(connection)} is disconnected. Its calendars are no longer checked for conflicts and receive no new bookings.`,
      retry: () => actions.disconnect(connection, button),
    });
  },

  editDraft(connection, draft) {
    state.drafts.set(connection.id, draft);
    if (!draftChanges(connection, draft)) state.drafts.delete(connection.id);
    render();
  },

  discardDraft(connection) {
    state.drafts.delete(connection.id);
    state.focusTarget = `conn-${idPart(connection.id)}-primary-calendar`;
    notices.info(`Calendar choices for ${accountLabel(connection)} are back to what is saved.`);
    render();
  },

  saveCalendars(connection) {
    const changes = draftChanges(connection, state.drafts.get(connection.id));
    if (!changes) return;
    state.focusTarget = `conn-${idPart(connection.id)}-save`;
    write(connection, "save", changes, () => client.updateConnection(connection.id, changes), {
      success: (saved) => `Calendar choices for ${accountLabel(saved)} are saved.`,
      retry: () => actions.saveCalendars(connection),
      after: () => state.drafts.delete(connection.id),
    });
  },

  reloadCalendars(connection) {
    state.focusTarget = `conn-${idPart(connection.id)}-heading`;
    state.calendars.set(connection.id, { status: "loading", list: [] });
    render();
    busy(() => loadCalendars(connection.id));
  },
};

// -- rendering -------------------------------------------------------------------------------------

function renderHeader() {
  const line = document.getElementById("who-line");
  const expiry = document.getElementById("session-expiry");
  const signOut = document.getElementById("sign-out");
  if (state.phase === "signed-out") {
    line.replaceChildren("Not signed in");
    expiry.replaceChildren(h("a", { href: SIGN_IN_PAGE }, "Go to sign-in"));
    signOut.hidden = true;
    window.clearTimeout(state.expiryTimer);
    return;
  }
  const profile = state.profile;
  if (!profile) return;
  line.replaceChildren(
    "Signed in as ",
    h("strong", { id: "user-name", dataset: { testid: "user-name" } }, profile.name || profile.appUserId),
  );
  signOut.hidden = false;
  expiry.replaceChildren(
    "Session ends ",
    timeElement(profile.expiresAt),
    " if idle (at the latest ",
    timeElement(profile.absoluteExpiresAt),
    ")",
  );
  scheduleExpiryCheck(profile.expiresAt);
}

/** When the idle timeout passes, ask the service whether the session really ended. */
function scheduleExpiryCheck(expiresAt) {
  window.clearTimeout(state.expiryTimer);
  const wait = new Date(expiresAt).getTime() - Date.now() + 2000;
  if (!Number.isFinite(wait)) return;
  state.expiryTimer = window.setTimeout(async () => {
    try {
      state.profile = await client.me();
      renderHeader();
    } catch (error) {
      if (SESSION_GONE.has(error.code)) report(error);
    }
  }, Math.min(Math.max(wait, 1000), 2 ** 31 - 1));
}

function render() {
  const before = document.activeElement;
  if (before && before !== document.body && before.id) state.lastFocusId = before.id;

  const byProvider = new Map([...PROVIDERS, "other"].map((provider) => [provider, []]));
  for (const connection of state.connections) {
    byProvider.get(PROVIDERS.includes(connection.provider) ? connection.provider : "other").push(connection);
  }
  for (const [provider, connections] of byProvider) renderProvider(provider, connections);
  document.getElementById("refresh").disabled = locked();

  const target = state.focusTarget;
  state.focusTarget = null;
  const lost = !document.activeElement || document.activeElement === document.body;
  const wanted = target && !dialog.open ? target : lost ? state.lastFocusId : null;
  const element = wanted && document.getElementById(wanted);
  if (element && !element.disabled && !element.hidden) element.focus({ preventScroll: !target });
  else if (target && element) state.focusTarget = target; // still disabled: try on the next render
  updatePageState();
}

function renderProvider(provider, connections) {
  const card = document.querySelector(`[data-provider="${provider}"].provider`);
  const body = card.querySelector("[data-provider-body]");
  const status = card.querySelector(".status");
  const accounts = card.querySelector(".provider-accounts");
  if (provider === "other") card.hidden = connections.length === 0;

  const connectedCount = connections.filter((item) => item.isConnected !== false).length;
  let statusKey = "none";
  let statusText = "Not connected";
  if (state.phase === "loading") {
    statusKey = "loading";
    statusText = "Checking…";
  } else if (state.phase === "no-account") {
    statusText = "Not available for your account";
  } else if (state.phase === "signed-out") {
    statusText = "Unknown: not signed in";
  } else if (state.phase === "error" && !connections.length) {
    statusKey = "none";
    statusText = "Unknown: the list could not be loaded";
  } else if (connections.length && connectedCount < connections.length) {
    statusKey = "attention";
    statusText = "Needs attention";
  } else if (connections.length) {
    statusKey = "connected";
    statusText = connections.length === 1 ? "Connected" : `Connected (${connections.length} accounts)`;
  }
  status.dataset.status = statusKey;
  status.textContent = statusText;
  accounts.textContent = connections.map(accountLabel).join(", ");

  if (PROVIDERS.includes(provider)) updateConnectButtons(provider, connections);

  if (state.phase === "loading") return;
  const views = connections.map((connection) =>
    renderConnection(
      {
        connection,
        calendars: state.calendars.get(connection.id),
        draft: state.drafts.get(connection.id) || null,
        pending: state.pending.get(connection.id) || new Map(),
        locked: locked(),
      },
      actions,
    ),
  );
  if (views.length) {
    body.replaceChildren(h("ul", { className: "connections", "aria-label": `${card.querySelector("h3").textContent} accounts` }, views));
  } else {
    body.replaceChildren(h("p", { className: "provider-empty", dataset: { testid: `empty-${provider}` } }, emptyText(provider)));
  }
}

function emptyText(provider) {
  if (state.phase === "no-account") return "Connecting calendars needs a meetergo account, which you do not have yet.";
  if (state.phase === "error") return "Your accounts could not be loaded; see the message above.";
  if (state.phase === "signed-out") return "Sign in to see your accounts.";
  return `No ${providerName(provider)} account is connected yet. Connect one so bookings avoid your busy times.`;
}

function updateConnectButtons(provider, connections) {
  const connect = document.getElementById(`connect-${provider}`);
  const cancel = document.getElementById(`cancel-connect-${provider}`);
  const mine = state.connecting && state.connecting.provider === provider;
  const wording = CONNECT_WORDING[provider];
  connect.textContent = mine ? "Connecting…" : connections.length ? wording.another : wording.first;
  connect.disabled = Boolean(state.connecting) || locked() || state.phase === "error";
  connect.setAttribute("aria-busy", mine ? "true" : "false");
  cancel.hidden = !mine;
}

// -- wiring ----------------------------------------------------------------------------------------

for (const provider of PROVIDERS) {
  document.getElementById(`connect-${provider}`).addEventListener("click", () => startConnect(provider));
  document.getElementById(`cancel-connect-${provider}`).addEventListener("click", cancelConnect);
}
document.getElementById("refresh").addEventListener("click", refreshAll);
document.getElementById("sign-out").addEventListener("click", () =>
  busy(async () => {
    try {
      await client.logout();
    } catch (error) {
      if (!SESSION_GONE.has(error.code)) {
        report(error, { retry: () => document.getElementById("sign-out").click() });
        return;
      }
    }
    window.location.assign(SIGN_IN_PAGE);
  }),
);

start();
