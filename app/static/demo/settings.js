// The demo's calendar settings page: the app's own header (who is signed in, the session's end,
// sign-out, a language menu) around the drop-in <meetergo-calendar-settings> element, which does
// everything calendar-related. The page shares one client with the element.
//
// Test hooks: <body data-state> mirrors the element's data-state (loading | ready | busy | error |
// signed-out); user-name, session-expiry, sign-out, language in the header; everything inside the
// element by its data-testid (Playwright reaches into its open shadow root).

import { createCalendarClient } from "/sdk/v1/calendar.js";
import "/sdk/v1/settings-element.js";
import { applyLanguage, setUpLanguageSwitch, t } from "./i18n.js";
import { h, timeElement } from "./dom.js";

const SIGN_IN_PAGE = "index.html";
const client = createCalendarClient();
const settings = document.getElementById("calendar-settings");
settings.client = client;
let profile = null;
let expiryTimer = null;

// -- the page's state follows the element's ------------------------------------------------------

function mirrorState() {
  document.body.dataset.state = settings.dataset.state || "loading";
}
new MutationObserver(mirrorState).observe(settings, { attributes: true, attributeFilter: ["data-state"] });
mirrorState();

// -- the header ------------------------------------------------------------------------------------

function renderHeader() {
  const line = document.getElementById("who-line");
  const expiry = document.getElementById("session-expiry");
  const signOut = document.getElementById("sign-out");
  if (!profile) {
    line.replaceChildren(t("settings.notSignedIn"));
    expiry.replaceChildren(h("a", { href: SIGN_IN_PAGE }, t("settings.goToSignIn")));
    signOut.hidden = true;
    window.clearTimeout(expiryTimer);
    return;
  }
  line.replaceChildren(
    h("span", { dataset: { i18n: "settings.signedInAs" } }, t("settings.signedInAs")),
    " ",
    h("strong", { id: "user-name", dataset: { testid: "user-name" } }, profile.name || profile.appUserId),
  );
  signOut.hidden = false;
  const [before, between, after] = t("settings.sessionEnds").split(/\{idle\}|\{absolute\}/);
  expiry.replaceChildren(before, timeElement(profile.expiresAt), between, timeElement(profile.absoluteExpiresAt), after);
  scheduleExpiryCheck(profile.expiresAt);
}

async function loadProfile() {
  try {
    profile = await client.session();
  } catch {
    profile = null; // the element explains what went wrong
  }
  renderHeader();
}

/** When the idle timeout passes, ask the service whether the session really ended. */
function scheduleExpiryCheck(expiresAt) {
  window.clearTimeout(expiryTimer);
  const wait = new Date(expiresAt).getTime() - Date.now() + 2000;
  if (!Number.isFinite(wait)) return;
  expiryTimer = window.setTimeout(async () => {
    await loadProfile();
    if (!profile) settings.refresh();
  }, Math.min(Math.max(wait, 1000), 2 ** 31 - 1));
}

// The element's calls keep the session alive and may find it gone: keep the header honest.
settings.addEventListener("error", (event) => {
  if (["unauthenticated", "session_expired", "session_revoked"].includes(event.detail.code)) {
    profile = null;
    renderHeader();
  }
});
for (const type of ["connected", "disconnected", "changed"]) settings.addEventListener(type, loadProfile);

// -- sign-out, with a confirmation on the sign-in page ---------------------------------------------

const signOutButton = document.getElementById("sign-out");
signOutButton.addEventListener("click", async () => {
  signOutButton.disabled = true;
  signOutButton.textContent = t("settings.signingOut");
  try {
    await client.logout();
  } catch (error) {
    if (!["unauthenticated", "session_expired", "session_revoked"].includes(error.code)) {
      signOutButton.disabled = false;
      signOutButton.textContent = t("settings.signOut");
      signOutButton.setAttribute("aria-describedby", "sign-out-failed");
      document.getElementById("session-expiry").replaceChildren(
        h("span", { id: "sign-out-failed", role: "alert" }, t("settings.signOutFailed")),
      );
      return;
    }
  }
  window.location.assign(`${SIGN_IN_PAGE}?signedOut=1`);
});

setUpLanguageSwitch(() => renderHeader());
applyLanguage(document.documentElement.lang);
loadProfile();
