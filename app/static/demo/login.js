// The demo's sign-in page. It plays both halves of a real app signing a user in:
//   1. "the app's backend" mints a login ticket for the person (here: POST /demo/tickets/<user>,
//      which only exists in demo mode);
//   2. "the SPA" trades the ticket for a calendar session with client.login(ticket).
// Then it goes to settings.html.
//
// Test hooks: data-testid="login-alice|login-bob|login-dave" (sign-in buttons),
// "current-session" (shown when already signed in), "continue", "sign-out", "message" (the
// message box, with data-kind and data-code), "announcer" (the polite live region).
// <body data-state>: "loading" while checking the session, "ready" when idle, "busy" during a call.

import { CalendarError, createCalendarClient } from "/sdk/v1/calendar.js";
import { setUpLanguageSwitch, t } from "./i18n.js";
import { createNotices } from "./notice.js";

const SETTINGS_PAGE = "settings.html";
const SESSION_GONE = new Set(["unauthenticated", "session_expired", "session_revoked"]);

const client = createCalendarClient();
const notices = createNotices({
  region: document.getElementById("message"),
  announcer: document.getElementById("announcer"),
});
const people = [...document.querySelectorAll("button[data-user]")];
const current = document.getElementById("current");
const currentName = document.getElementById("current-name");
const continueLink = document.getElementById("continue");
const signOutButton = document.getElementById("sign-out");

function setState(state) {
  document.body.dataset.state = state;
}

function setBusy(busy) {
  setState(busy ? "busy" : "ready");
  for (const button of [...people, signOutButton]) button.disabled = busy;
  document.querySelector("main").setAttribute("aria-busy", busy ? "true" : "false");
}

/** The ticket, as the app's backend would hand it to the SPA; errors become CalendarErrors. */
async function mintTicket(user) {
  let response;
  try {
    response = await fetch(`/demo/tickets/${encodeURIComponent(user)}`, {
      method: "POST",
      headers: { Accept: "application/json" },
    });
  } catch (cause) {
    throw Object.assign(new CalendarError({ code: "network_error" }), { cause });
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // handled below: no usable body
  }
  if (!response.ok || !body || typeof body.ticket !== "string") {
    throw new CalendarError({
      code: body && typeof body.code === "string" ? body.code : "bad_response",
      status: response.status,
      title: body && body.title,
      requestId: (body && body.requestId) || response.headers.get("X-Request-ID"),
    });
  }
  return body.ticket;
}

async function signIn(button) {
  const user = button.dataset.user;
  const name = button.querySelector(".person-name").textContent;
  setBusy(true);
  notices.info(t("login.signingIn", { name }));
  try {
    const ticket = await mintTicket(user);
    await client.login(ticket);
    window.location.assign(SETTINGS_PAGE);
  } catch (error) {
    setBusy(false);
    notices.error(error, { retry: () => signIn(button) });
    button.focus();
  }
}

function showCurrent(profile) {
  const name = profile.name || profile.appUserId;
  currentName.textContent = name;
  continueLink.textContent = t("login.continueAs", { name });
  current.hidden = false;
}

async function signOut() {
  setBusy(true);
  try {
    await client.logout();
    current.hidden = true;
    notices.success(t("login.signedOut"));
    setBusy(false);
    people[0].focus();
  } catch (error) {
    setBusy(false);
    notices.error(error, { retry: signOut });
  }
}

async function checkSession() {
  setState("loading");
  try {
    // session() answers null when nobody is signed in (the normal case here): no failed request.
    const profile = await client.session();
    if (profile) showCurrent(profile);
  } catch (error) {
    if (!SESSION_GONE.has(error.code)) notices.error(error, { retry: checkSession });
  }
  setBusy(false);
}

/** Coming from "Sign out" on the settings page: confirm it, once (the flag leaves the URL). */
function confirmSignOut() {
  const url = new URL(window.location.href);
  if (url.searchParams.get("signedOut") !== "1") return;
  url.searchParams.delete("signedOut");
  window.history.replaceState(window.history.state, "", url.toString());
  notices.success(t("login.signedOut"));
}

setUpLanguageSwitch(() => {
  if (!current.hidden) showCurrent({ name: currentName.textContent });
});
confirmSignOut();
for (const button of people) button.addEventListener("click", () => signIn(button));
signOutButton.addEventListener("click", signOut);
checkSession();
