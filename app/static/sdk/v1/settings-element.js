// <meetergo-calendar-settings>: the drop-in calendar settings of meetergo-calendar-bff.
//
//   <script type="module" src="https://calendar.example.com/sdk/v1/settings-element.js"></script>
//   <meetergo-calendar-settings base-url="https://calendar.example.com"></meetergo-calendar-settings>
//
// Framework-free (a custom element with an open shadow root); any app can place it once the
// user has a session (client.login(ticket)). It shows one card per provider, connects (a popup,
// falling back to a full-page redirect when the browser blocks it), reconnects accounts whose
// access meetergo lost, edits booking rules, calendars and the primary account, disconnects after
// a confirmation, and explains every error in the page's language with its way out.
//
// Attributes: base-url, api-prefix, providers ("google outlook"), lang or locale ("en", "de"; else
//   the page's lang), sign-in-url (a link offered when the session is gone), set-as-calendar-sync
//   ("false" to leave meetergo's calendar sync alone).
// Property: client (a client made with createCalendarClient, instead of base-url/api-prefix).
// Events (CustomEvent, bubbling, composed; the detail says what): "connected" {connectionId,
//   provider, reconnected}, "disconnected" {connectionId, provider}, "changed" {connection,
//   changes}, "error" {code, message, error}. data-state on the element: loading | ready | busy |
//   error | signed-out.
// Theming: --mcs-* custom properties (see README) and ::part(provider | notice | connection |
//   button | button-primary | button-danger | dialog | status | badge).
// Test hooks: data-testid on the same controls as the demo page's (reachable through the open
//   shadow root): message, message-text, message-retry, message-cancel, provider-<p>, status-<p>,
//   connect-<p>, cancel-connect-<p>, connection-<id>, reconnect, set-primary, disconnect,
//   toggle-<field>, calendar-<id>, primary-calendar, save-calendars, disconnect-dialog, ...

import { CalendarError, createCalendarClient, readRedirectResult } from "./calendar.js";
import { describeError } from "./errors.js";
import { h, idPart } from "./dom.js";
import { createTranslator, resolveLocale } from "./i18n/index.js";
import { draftChanges, RULES, renderConnection, switchOn } from "./settings-view.js";
import { STYLES } from "./settings-styles.js";

export const TAG_NAME = "meetergo-calendar-settings";
const DEFAULT_PROVIDERS = ["google", "outlook"];
const SESSION_GONE = new Set(["unauthenticated", "session_expired", "session_revoked"]);
const NO_ACCOUNT = new Set(["user_not_mapped", "user_not_found"]);
const REDIRECT_FALLBACK_DELAY_MS = 1500;

// Outside a browser (SSR) the module still imports: the class exists, nothing is defined.
const Base = typeof HTMLElement === "undefined" ? class {} : HTMLElement;
let sheet = null;

function styleSheet() {
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLES);
  }
  return sheet;
}

export class MeetergoCalendarSettings extends Base {
  static get observedAttributes() {
    return ["lang", "locale", "providers", "base-url", "api-prefix", "sign-in-url"];
  }

  constructor() {
    super();
    this._client = null;
    this._started = false;
    this._startQueued = false;
    this._state = {
      phase: "loading", // loading | ready | error | signed-out | no-account
      profile: null,
      connections: [],
      calendars: new Map(), // connection id -> { status, list, error }
      drafts: new Map(), // connection id -> { selected, primary }
      pending: new Map(), // connection id -> Map(operation key -> value)
      connecting: null, // { provider, controller, redirectTimer, reconnect, popupClosed }
      inflight: 0,
      listRound: 0,
      lastFocusId: null,
      focusTarget: null,
    };
    this._notice = null; // what the message box shows, re-rendered on a language change
    this._countdown = null;
    this._langObserver = null;
  }

  // -- configuration ---------------------------------------------------------------------------

  get client() {
    if (!this._client) {
      this._client = createCalendarClient({
        baseUrl: this.getAttribute("base-url") || "",
        apiPrefix: this.getAttribute("api-prefix") || "/api",
      });
    }
    return this._client;
  }

  set client(value) {
    this._client = value;
    if (this._started && !this._startQueued) this.refresh();
  }

  get locale() {
    const page = this.closest("[lang]");
    return resolveLocale(
      this.getAttribute("locale"),
      this.getAttribute("lang"),
      page ? page.getAttribute("lang") : null,
      document.documentElement.getAttribute("lang"),
    );
  }

  get providers() {
    const listed = (this.getAttribute("providers") || "").split(/[\s,]+/).filter(Boolean);
    return listed.length ? listed : DEFAULT_PROVIDERS;
  }

  get t() {
    return createTranslator(this.locale);
  }

  providerName(provider) {
    const t = this.t;
    if (provider === "google" || provider === "outlook") return t(`provider.${provider}`);
    return provider ? t("provider.unknown", { provider }) : t("provider.generic");
  }

  /** An account as the user knows it: the e-mail and the provider, since the e-mail alone is ambiguous. */
  accountLabel(connection) {
    const provider = this.providerName(connection.provider);
    return connection.email
      ? this.t("account.label", { email: connection.email, provider })
      : this.t("account.noEmail", { provider });
  }

  // -- lifecycle -------------------------------------------------------------------------------

  connectedCallback() {
    if (!this.shadowRoot) {
      const root = this.attachShadow({ mode: "open" });
      root.adoptedStyleSheets = [styleSheet()];
    }
    // The page's language may change after load (a language menu): follow it.
    this._langObserver = new MutationObserver(() => this._languageChanged());
    this._langObserver.observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });
    this._build();
    if (!this._started) {
      this._started = true;
      // Start after the current script: a page that sets `client` (or attributes) right after
      // the element is created or upgraded then gets one load, not two.
      this._startQueued = true;
      queueMicrotask(() => {
        this._startQueued = false;
        this._returned = readRedirectResult();
        this._start();
      });
    } else {
      this._render();
    }
  }

  disconnectedCallback() {
    if (this._langObserver) this._langObserver.disconnect();
    this._langObserver = null;
    this._stopCountdown();
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (!this.shadowRoot || oldValue === newValue) return;
    if (name === "base-url" || name === "api-prefix") {
      this._client = null;
      if (this._started && !this._startQueued) this.refresh();
      return;
    }
    this._languageChanged();
  }

  _languageChanged() {
    if (!this.shadowRoot) return;
    this._build();
    this._render();
    if (this._notice) this._showNotice(this._notice, { announce: false });
  }

  /** Reload everything (the session and the accounts), as after a sign-in. */
  refresh() {
    return this._start();
  }

  // -- the skeleton ----------------------------------------------------------------------------

  _build() {
    const t = this.t;
    const root = this.shadowRoot;
    const providers = this.providers;
    this._ids = new Map();
    const cards = [...providers, "other"].map((provider) => this._buildCard(provider));
    this._dialog = h(
      "dialog",
      {
        id: "disconnect-dialog",
        part: "dialog",
        "aria-labelledby": "disconnect-title",
        "aria-describedby": "disconnect-text",
        dataset: { testid: "disconnect-dialog" },
      },
      h(
        "div",
        { className: "dialog-body" },
        h("h2", { id: "disconnect-title" }, ""),
        h("p", { id: "disconnect-text" }, ""),
        h("p", { id: "disconnect-primary-note", className: "hint", hidden: true }, ""),
        h(
          "div",
          { className: "dialog-actions" },
          h("button", { type: "button", className: "button", part: "button", id: "disconnect-cancel", dataset: { testid: "cancel-disconnect" } }, t("disconnect.keep")),
          h("button", { type: "button", className: "button button-danger", part: "button button-danger", id: "disconnect-confirm", dataset: { testid: "confirm-disconnect" } }, t("disconnect.confirm")),
        ),
      ),
    );
    const wasOpen = this._pendingConfirm;
    if (wasOpen) wasOpen(false);
    const section = h(
      "section",
      { className: "stack", "aria-labelledby": "accounts-heading", lang: this.locale, part: "section" },
      h("div", { id: "message", className: "notice", part: "notice", dataset: { testid: "message" }, hidden: true }),
      h("div", { id: "announcer", className: "visually-hidden", "aria-live": "polite", dataset: { testid: "announcer" } }),
      h(
        "div",
        { className: "section-head" },
        h("h2", { id: "accounts-heading", tabindex: "-1" }, t("section.heading")),
        h("button", { type: "button", id: "refresh", className: "button-quiet", dataset: { testid: "refresh" }, onclick: () => this._refreshAll() }, t("section.refresh")),
      ),
      h("p", { className: "hint" }, t("section.hint")),
      h("div", { className: "providers" }, cards),
      this._dialog,
    );
    root.replaceChildren(section);
  }

  _buildCard(provider) {
    const t = this.t;
    const known = provider !== "other";
    const name = known ? this.providerName(provider) : t("provider.other");
    const mark = provider === "google" ? "G" : provider === "outlook" ? "M" : "+";
    const kind = ["google", "outlook"].includes(provider) ? provider : "other";
    return h(
      "article",
      {
        className: `provider provider-${kind}`,
        part: `provider provider-${kind}`,
        dataset: { provider, testid: `provider-${provider}` },
        "aria-labelledby": `provider-${provider}-name`,
        hidden: provider === "other",
      },
      h(
        "div",
        { className: "provider-head" },
        h("span", { className: "provider-mark", "aria-hidden": "true" }, mark),
        h(
          "div",
          { className: "provider-title" },
          h("h3", { id: `provider-${provider}-name` }, name),
          h("span", { className: "status", part: "status", dataset: { status: "loading", testid: `status-${provider}` } }, t("status.loading")),
          h("span", { className: "provider-accounts", dataset: { testid: `accounts-${provider}` } }),
        ),
        known
          ? h(
              "div",
              { className: "provider-actions" },
              h(
                "button",
                {
                  type: "button",
                  className: "button button-primary",
                  part: "button button-primary",
                  id: `connect-${provider}`,
                  dataset: { testid: `connect-${provider}`, provider },
                  disabled: true,
                  onclick: () => this._startConnect(provider),
                },
                this._connectWording(provider, false),
              ),
              h(
                "button",
                {
                  type: "button",
                  className: "button",
                  part: "button",
                  id: `cancel-connect-${provider}`,
                  dataset: { testid: `cancel-connect-${provider}`, provider },
                  "aria-label": t("connect.cancelLabel", { provider: name }),
                  hidden: true,
                  onclick: () => this._cancelConnect(),
                },
                t("connect.cancel"),
              ),
            )
          : null,
      ),
      h("div", { className: "provider-body", dataset: { providerBody: provider } }, h("p", { className: "provider-loading loading-text" }, t("loading.accounts"))),
    );
  }

  _connectWording(provider, another) {
    const t = this.t;
    if (provider === "google") return t(another ? "connect.googleAnother" : "connect.google");
    if (provider === "outlook") return t(another ? "connect.outlookAnother" : "connect.outlook");
    return `${this.providerName(provider)}`;
  }

  _byId(id) {
    return this.shadowRoot ? this.shadowRoot.getElementById(id) : null;
  }

  // -- page state ------------------------------------------------------------------------------

  _updateState() {
    const state = this._state;
    const settled = state.phase === "no-account" ? "error" : state.phase;
    this.dataset.state = state.inflight > 0 ? "busy" : settled;
    this.setAttribute("aria-busy", state.phase === "loading" ? "true" : "false");
  }

  async _busy(work) {
    this._state.inflight += 1;
    this._updateState();
    try {
      return await work();
    } finally {
      this._state.inflight -= 1;
      this._updateState();
    }
  }

  _locked() {
    const phase = this._state.phase;
    return phase === "signed-out" || phase === "no-account" || phase === "loading";
  }

  _pendingFor(id) {
    const pending = this._state.pending;
    if (!pending.has(id)) pending.set(id, new Map());
    return pending.get(id);
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  // -- messages --------------------------------------------------------------------------------

  _stopCountdown() {
    if (this._countdown) window.clearInterval(this._countdown);
    this._countdown = null;
  }

  _clearNotice() {
    this._stopCountdown();
    this._notice = null;
    const region = this._byId("message");
    if (!region) return;
    region.replaceChildren();
    region.hidden = true;
    delete region.dataset.kind;
    delete region.dataset.code;
  }

  /**
   * notice: { kind, code, text: () => string, detail, requestId, actions: () => [{label, onClick,
   * testid, waitSeconds, primary}], spoken: () => string }. Texts are functions so that a language
   * change can show the same message in the new language.
   */
  _showNotice(notice, { announce = true } = {}) {
    const t = this.t;
    this._stopCountdown();
    this._notice = notice;
    const region = this._byId("message");
    region.replaceChildren();
    region.dataset.kind = notice.kind;
    if (notice.code) region.dataset.code = notice.code;
    else delete region.dataset.code;
    const text = notice.text();
    region.setAttribute("role", notice.kind === "error" ? "alert" : "status");
    const body = h(
      "div",
      { className: "notice-body" },
      h("p", { className: "notice-text", dataset: { testid: "message-text" } }, text),
      notice.detail ? h("p", { className: "notice-detail" }, notice.detail) : null,
      notice.requestId
        ? h("p", { className: "notice-reference", dataset: { testid: "message-request-id" } }, `${t("notice.reference")} `, h("code", {}, notice.requestId))
        : null,
    );
    const built = (notice.actions ? notice.actions() : []).map((action) => this._noticeButton(action));
    const buttons = h("div", { className: "notice-actions" }, ...built);
    const dismiss = h(
      "button",
      { type: "button", className: "button-quiet notice-dismiss", "aria-label": t("notice.dismissLabel"), onclick: () => this._clearNotice() },
      t("notice.dismiss"),
    );
    region.append(body);
    if (built.length) region.append(buttons);
    region.append(dismiss);
    region.hidden = false;
    if (announce) this._announce(notice.spoken ? notice.spoken() : text);
  }

  _noticeButton({ label, onClick, testid, waitSeconds = 0, primary = true, link = null }) {
    const t = this.t;
    if (link) {
      return h("a", { href: link, className: "button button-primary", part: "button button-primary", dataset: { testid } }, label);
    }
    const button = h(
      "button",
      {
        type: "button",
        className: primary ? "button button-primary" : "button",
        part: primary ? "button button-primary" : "button",
        dataset: { testid },
        onclick: () => {
          this._clearNotice();
          onClick();
        },
      },
      label,
    );
    if (waitSeconds > 0) {
      const until = Date.now() + waitSeconds * 1000;
      const tick = () => {
        const left = Math.ceil((until - Date.now()) / 1000);
        if (left <= 0) {
          this._stopCountdown();
          button.disabled = false;
          button.textContent = label;
          return;
        }
        button.disabled = true;
        button.textContent = t("notice.retryIn", { label, seconds: left });
      };
      tick();
      this._countdown = window.setInterval(tick, 1000);
    }
    return button;
  }

  _announce(text) {
    // Emptying first makes screen readers announce a message equal to the previous one again.
    const announcer = this._byId("announcer");
    announcer.textContent = "";
    window.setTimeout(() => {
      const current = this._byId("announcer");
      if (current) current.textContent = text;
    }, 50);
  }

  _success(text) {
    this._showNotice({ kind: "success", text });
  }

  _info(text, code = null, actions = null) {
    this._showNotice({ kind: "info", text, code, actions });
  }

  /** Explain `error`; options: { provider, write, retry, reload } (retry and reload are functions). */
  _error(error, { provider = null, write = false, retry = null, reload = null } = {}) {
    const describe = () =>
      describeError(error, { provider: provider ? this.providerName(provider) : null, write }, this.t);
    const first = describe();
    const waitSeconds = first.retryAfter && first.retryAfter > 0 ? first.retryAfter : 0;
    const signInUrl = this.getAttribute("sign-in-url");
    const offersButton =
      (first.action === "signin" && signInUrl) ||
      Boolean(first.action === "retry" ? retry || reload : first.action === "reload" && reload);
    const actions = () => {
      const t = this.t;
      if (first.action === "signin") {
        return signInUrl ? [{ label: t("notice.signIn"), link: signInUrl, testid: "message-sign-in" }] : [];
      }
      if (first.action === "retry" && retry) return [{ label: t("notice.retry"), onClick: retry, testid: "message-retry", waitSeconds }];
      if ((first.action === "reload" || first.action === "retry") && reload) {
        return [{ label: t("notice.reload"), onClick: reload, testid: "message-retry", waitSeconds }];
      }
      return [];
    };
    const kind = first.code === "aborted" || first.code === "popup_blocked" ? "info" : "error";
    this._showNotice({
      kind,
      code: first.code,
      text: () => {
        const text = describe().text;
        return waitSeconds && !offersButton ? `${text} ${this.t("notice.wait", { seconds: waitSeconds })}` : text;
      },
      spoken: () => {
        const text = describe().text;
        return waitSeconds ? `${text} ${this.t("notice.waitSpoken", { seconds: waitSeconds })}` : text;
      },
      detail: first.detail,
      requestId: first.showRequestId ? first.requestId : null,
      actions,
    });
    this._emit("error", { code: first.code, message: first.text, error });
  }

  /** Explain an error; a lost session or a missing meetergo account also changes what is shown. */
  _report(error, options = {}) {
    const state = this._state;
    if (SESSION_GONE.has(error.code)) {
      state.phase = "signed-out";
      state.connections = [];
      state.calendars.clear();
      state.drafts.clear();
      state.pending.clear();
    } else if (NO_ACCOUNT.has(error.code)) {
      state.phase = "no-account";
    }
    this._error(error, {
      ...options,
      retry: state.phase === "no-account" ? () => this._start() : options.retry,
      reload: options.reload || (() => this._refreshAll()),
    });
    this._render();
  }

  // -- loading ---------------------------------------------------------------------------------

  async _loadList({ calendarsFor = "all" } = {}) {
    const state = this._state;
    const round = ++state.listRound;
    const answer = await this.client.listConnections();
    if (round !== state.listRound) return;
    state.connections = Array.isArray(answer && answer.connections) ? answer.connections : [];
    const ids = new Set(state.connections.map((connection) => connection.id));
    for (const map of [state.calendars, state.drafts, state.pending]) {
      for (const id of [...map.keys()]) if (!ids.has(id)) map.delete(id);
    }
    state.phase = "ready";
    const wanted = state.connections
      .filter((connection) => connection.isConnected !== false)
      .map((connection) => connection.id)
      .filter((id) => calendarsFor === "all" || calendarsFor.includes(id) || !state.calendars.has(id));
    for (const id of wanted) state.calendars.set(id, { status: "loading", list: [] });
    this._render();
    await Promise.all(wanted.map((id) => this._loadCalendars(id)));
  }

  async _loadCalendars(id) {
    const state = this._state;
    try {
      const answer = await this.client.listCalendars(id);
      state.calendars.set(id, { status: "ready", list: Array.isArray(answer && answer.calendars) ? answer.calendars : [] });
    } catch (error) {
      state.calendars.set(id, { status: "error", list: [], error });
      if (SESSION_GONE.has(error.code)) this._report(error);
    }
    this._render();
  }

  _refreshAll() {
    return this._busy(async () => {
      try {
        await this._loadList();
        this._success(() => this.t("list.upToDate"));
      } catch (error) {
        if (this._state.phase === "loading") this._state.phase = "error";
        this._report(error, { retry: () => this._refreshAll() });
      }
    });
  }

  _start() {
    const state = this._state;
    return this._busy(async () => {
      this._clearNotice();
      state.phase = "loading";
      this._render();
      try {
        state.profile = await this.client.me();
      } catch (error) {
        state.phase = SESSION_GONE.has(error.code) ? "signed-out" : "error";
        this._report(error, { retry: () => this._start() });
        return;
      }
      if (!state.profile.meetergoUserMapped) {
        // Calendar calls would all answer user_not_mapped: say so without making them.
        state.phase = "no-account";
        this._report(new CalendarError({ code: "user_not_mapped" }));
        return;
      }
      try {
        await this._loadList();
      } catch (error) {
        state.phase = "error";
        this._report(error, { retry: () => this._start() });
        return;
      }
      if (this._returned) {
        const returned = this._returned;
        this._returned = null;
        this._reportConnectResult(returned);
      }
    });
  }

  // -- connecting ------------------------------------------------------------------------------

  /** Runs inside the click handler: the popup must open before anything is awaited. */
  _startConnect(provider, reconnect = null) {
    const state = this._state;
    if (state.connecting || this._locked()) return;
    const controller = new AbortController();
    const attempt = { provider, controller, redirectTimer: null, reconnect, superseded: false };
    const options = {
      setAsCalendarSync: this.getAttribute("set-as-calendar-sync") !== "false",
      signal: controller.signal,
      onPopupClosed: () => this._popupClosed(attempt),
    };
    let flow;
    try {
      flow = reconnect ? this.client.reconnect(reconnect, options) : this.client.connect(provider, options);
    } catch (error) {
      flow = Promise.reject(error);
    }
    state.connecting = attempt;
    state.focusTarget = reconnect ? `conn-${idPart(reconnect.id)}-reconnect` : `cancel-connect-${provider}`;
    this._info(() =>
      reconnect && reconnect.email
        ? this.t("connect.reconnectWaiting", { provider: this.providerName(provider), email: reconnect.email })
        : this.t("connect.waiting", { provider: this.providerName(provider) }),
    );
    this._render();
    this._busy(async () => {
      let outcome;
      try {
        const result = await flow;
        outcome = { success: true, provider: result.provider || provider, connectionId: result.connectionId, reconnected: Boolean(reconnect) };
      } catch (error) {
        if (attempt.superseded) return; // Retry started a new attempt; this one is history
        if (error.code === "popup_blocked" && !controller.signal.aborted) {
          this._fallBackToRedirect(attempt);
          return;
        }
        outcome = { success: false, provider, error, reconnect };
      }
      if (attempt.superseded) return;
      state.connecting = null;
      state.focusTarget = reconnect ? `conn-${idPart(reconnect.id)}-heading` : `connect-${provider}`;
      await this._afterConnect(outcome);
    });
  }

  /** The popup looks closed: say so at once and offer Retry / Cancel; a late result still counts. */
  _popupClosed(attempt) {
    if (this._state.connecting !== attempt) return;
    const { provider } = attempt;
    this._showNotice({
      kind: "info",
      code: "popup_closed",
      text: () => this.t("connect.popupClosed", { provider: this.providerName(provider) }),
      actions: () => [
        { label: this.t("connect.retry"), onClick: () => this._retryConnect(attempt), testid: "message-retry" },
        { label: this.t("connect.cancel"), onClick: () => this._cancelConnect(), testid: "message-cancel", primary: false },
      ],
    });
    this._render();
  }

  /** Runs inside the Retry click: give up the old flow and open a new popup at once. */
  _retryConnect(attempt) {
    if (this._state.connecting !== attempt) return;
    attempt.superseded = true;
    this._state.connecting = null;
    attempt.controller.abort();
    this._startConnect(attempt.provider, attempt.reconnect);
  }

  _fallBackToRedirect(attempt) {
    const { provider } = attempt;
    this._info(() => this.t("connect.redirecting", { provider: this.providerName(provider) }), "popup_blocked");
    attempt.redirectTimer = window.setTimeout(() => {
      this.client.connect(provider, { mode: "redirect", setAsCalendarSync: this.getAttribute("set-as-calendar-sync") !== "false" });
    }, REDIRECT_FALLBACK_DELAY_MS);
    this._render();
    this._state.inflight += 1; // the page is about to leave: stay busy
    this._updateState();
  }

  _cancelConnect() {
    const state = this._state;
    const attempt = state.connecting;
    if (!attempt) return;
    if (attempt.redirectTimer) {
      window.clearTimeout(attempt.redirectTimer);
      state.inflight -= 1;
      state.connecting = null;
      state.focusTarget = `connect-${attempt.provider}`;
      this._error(new CalendarError({ code: "aborted" }));
      this._render();
      return;
    }
    attempt.controller.abort();
  }

  async _afterConnect(outcome) {
    try {
      await this._loadList({ calendarsFor: outcome.connectionId ? [outcome.connectionId] : [] });
    } catch (error) {
      this._report(error, { retry: () => this._refreshAll() });
      return;
    }
    this._reportConnectResult(outcome);
  }

  _reportConnectResult(outcome) {
    const state = this._state;
    const { provider } = outcome;
    if (outcome.success) {
      const connection = state.connections.find((item) => item.id === outcome.connectionId);
      const account = () => (connection ? this.accountLabel(connection) : this.providerName(provider));
      const key = outcome.reconnected ? "connect.reconnected" : connection && connection.isPrimary ? "connect.donePrimary" : "connect.done";
      this._success(() => this.t(key, { account: account() }));
      if (connection) state.focusTarget = `conn-${idPart(connection.id)}-heading`;
      this._emit("connected", {
        connectionId: outcome.connectionId,
        provider: provider || (connection && connection.provider) || null,
        reconnected: Boolean(outcome.reconnected),
        connection: connection || null,
      });
    } else {
      const error = outcome.error || new CalendarError({ code: outcome.code || "connect_failed" });
      const again = outcome.reconnect
        ? () => this._startConnect(provider, state.connections.find((c) => c.id === outcome.reconnect.id) || outcome.reconnect)
        : () => this._startConnect(provider);
      this._report(error, { provider, retry: again });
    }
    this._render();
  }

  // -- changing a connection -------------------------------------------------------------------

  _write(connection, key, value, call, { success, retry, after, event }) {
    const pending = this._pendingFor(connection.id);
    if (pending.has(key)) return Promise.resolve();
    pending.set(key, value);
    this._render();
    return this._busy(async () => {
      let answer;
      try {
        answer = await call();
      } catch (error) {
        pending.delete(key);
        if (error.code === "not_found" || error.code === "upstream_timeout") {
          // The list may be out of date, or the write may have happened after all: show the truth.
          await this._loadList().catch(() => {});
        }
        this._report(error, { provider: connection.provider, write: true, retry });
        return;
      }
      const saved = answer && answer.id === connection.id ? answer : connection;
      if (saved !== connection) this._replaceConnection(saved);
      pending.delete(key);
      if (after) after(answer);
      this._success(() => success(saved));
      if (event) this._emit(event.type, event.detail(saved));
      this._render();
      try {
        await this._loadList({ calendarsFor: key === "save" ? [connection.id] : [] });
      } catch (error) {
        this._report(error, { retry: () => this._refreshAll() });
      }
    });
  }

  _replaceConnection(updated) {
    const state = this._state;
    state.connections = state.connections.map((item) => (item.id === updated.id ? { ...item, ...updated } : item));
  }

  get _actions() {
    const state = this._state;
    const element = this;
    return {
      toggle(connection, field, value) {
        const rule = RULES.find((item) => item.field === field);
        state.focusTarget = `conn-${idPart(connection.id)}-${field}`;
        element._write(connection, `rule:${field}`, value, () => element.client.updateConnection(connection.id, { [field]: value }), {
          success: (saved) =>
            element.t("rule.saved", {
              account: element.accountLabel(saved),
              state: element.t(`rule.${rule.key}.${switchOn(rule, saved[field]) ? "on" : "off"}`),
            }),
          retry: () => element._actions.toggle(connection, field, value),
          event: { type: "changed", detail: (saved) => ({ connection: saved, changes: { [field]: value } }) },
        });
      },

      setPrimary(connection) {
        state.focusTarget = `conn-${idPart(connection.id)}-heading`;
        element._write(connection, "primary", true, () => element.client.setPrimaryConnection(connection.id), {
          success: (saved) => element.t("primary.saved", { account: element.accountLabel(saved) }),
          retry: () => element._actions.setPrimary(connection),
          event: { type: "changed", detail: (saved) => ({ connection: saved, changes: { isPrimary: true } }) },
        });
      },

      reconnect(connection) {
        element._startConnect(connection.provider, connection);
      },

      async disconnect(connection, button) {
        const others = state.connections.filter((item) => item.id !== connection.id);
        const confirmed = await element._confirmDisconnect(connection, others);
        if (!confirmed) {
          const again = element._byId(button.id);
          if (again) again.focus();
          return;
        }
        state.focusTarget = others.length ? `conn-${idPart(others[0].id)}-heading` : `connect-${connection.provider}`;
        if (!element.providers.includes(connection.provider)) state.focusTarget = "accounts-heading";
        element._write(connection, "delete", true, () => element.client.deleteConnection(connection.id), {
          success: () => element.t("disconnect.done", { account: element.accountLabel(connection) }),
          retry: () => element._actions.disconnect(connection, button),
          event: { type: "disconnected", detail: () => ({ connectionId: connection.id, provider: connection.provider }) },
        });
      },

      editDraft(connection, draft) {
        state.drafts.set(connection.id, draft);
        if (!draftChanges(connection, draft)) state.drafts.delete(connection.id);
        element._render();
      },

      discardDraft(connection) {
        state.drafts.delete(connection.id);
        state.focusTarget = `conn-${idPart(connection.id)}-primary-calendar`;
        element._info(() => element.t("calendars.discarded", { account: element.accountLabel(connection) }));
        element._render();
      },

      saveCalendars(connection) {
        const changes = draftChanges(connection, state.drafts.get(connection.id));
        if (!changes) return;
        state.focusTarget = `conn-${idPart(connection.id)}-save`;
        element._write(connection, "save", changes, () => element.client.updateConnection(connection.id, changes), {
          success: (saved) => element.t("calendars.saved", { account: element.accountLabel(saved) }),
          retry: () => element._actions.saveCalendars(connection),
          after: () => state.drafts.delete(connection.id),
          event: { type: "changed", detail: (saved) => ({ connection: saved, changes }) },
        });
      },

      reloadCalendars(connection) {
        state.focusTarget = `conn-${idPart(connection.id)}-heading`;
        state.calendars.set(connection.id, { status: "loading", list: [] });
        element._render();
        element._busy(() => element._loadCalendars(connection.id));
      },
    };
  }

  /** The modal confirmation; "Keep it connected" has the focus, so a habitual Enter removes nothing. */
  _confirmDisconnect(connection, others) {
    const t = this.t;
    const dialog = this._dialog;
    const account = this.accountLabel(connection);
    this._byId("disconnect-title").textContent = t("disconnect.title", { account });
    this._byId("disconnect-text").textContent = t("disconnect.text", { account });
    const note = this._byId("disconnect-primary-note");
    note.hidden = !connection.isPrimary;
    dialog.setAttribute("aria-describedby", note.hidden ? "disconnect-text" : "disconnect-text disconnect-primary-note");
    note.textContent = others.length
      ? t("disconnect.primaryNext", { account: this.accountLabel(others[0]) })
      : t("disconnect.primaryOnly");
    return new Promise((resolve) => {
      const confirm = this._byId("disconnect-confirm");
      const cancel = this._byId("disconnect-cancel");
      const finish = (value) => {
        confirm.removeEventListener("click", onConfirm);
        cancel.removeEventListener("click", onCancel);
        dialog.removeEventListener("close", onClose);
        this._pendingConfirm = null;
        if (dialog.open) dialog.close();
        resolve(value);
      };
      const onConfirm = () => finish(true);
      const onCancel = () => finish(false);
      const onClose = () => finish(false); // Escape, or the browser closing it
      this._pendingConfirm = finish;
      confirm.addEventListener("click", onConfirm);
      cancel.addEventListener("click", onCancel);
      dialog.addEventListener("close", onClose);
      dialog.showModal();
      cancel.focus();
    });
  }

  // -- rendering -------------------------------------------------------------------------------

  _render() {
    if (!this.shadowRoot) return;
    const state = this._state;
    const root = this.shadowRoot;
    const before = root.activeElement;
    if (before && before.id) state.lastFocusId = before.id;

    const providers = this.providers;
    const byProvider = new Map([...providers, "other"].map((provider) => [provider, []]));
    for (const connection of state.connections) {
      byProvider.get(providers.includes(connection.provider) ? connection.provider : "other").push(connection);
    }
    for (const [provider, connections] of byProvider) this._renderProvider(provider, connections);
    this._byId("refresh").disabled = this._locked();

    const target = state.focusTarget;
    state.focusTarget = null;
    const lost = !root.activeElement && (document.activeElement === this || document.activeElement === document.body);
    const wanted = target && !this._dialog.open ? target : lost ? state.lastFocusId : null;
    const element = wanted && this._byId(wanted);
    // Focus moves only for the element's own actions (or when a re-render lost it), never away
    // from the host page's controls on a background refresh.
    const ours = document.activeElement === this || document.activeElement === document.body || !document.activeElement;
    if (element && !element.disabled && !element.hidden && (ours || target)) element.focus({ preventScroll: !target });
    else if (target && element) state.focusTarget = target; // still disabled: try on the next render
    this._updateState();
  }

  _renderProvider(provider, connections) {
    const t = this.t;
    const state = this._state;
    const card = this.shadowRoot.querySelector(`article[data-provider="${provider}"]`);
    const body = card.querySelector("[data-provider-body]");
    const status = card.querySelector(".status");
    const accounts = card.querySelector(".provider-accounts");
    if (provider === "other") card.hidden = connections.length === 0;

    const connectedCount = connections.filter((item) => item.isConnected !== false).length;
    let statusKey = "none";
    let statusText = t("status.none");
    if (state.phase === "loading") {
      statusKey = "loading";
      statusText = t("status.loading");
    } else if (state.phase === "no-account") {
      statusText = t("status.noAccount");
    } else if (state.phase === "signed-out") {
      statusText = t("status.signedOut");
    } else if (state.phase === "error" && !connections.length) {
      statusText = t("status.unknown");
    } else if (connections.length && connectedCount < connections.length) {
      statusKey = "attention";
      statusText = t("status.attention");
    } else if (connections.length) {
      statusKey = "connected";
      statusText = connections.length === 1 ? t("status.connected") : t("status.connectedMany", { count: connections.length });
    }
    status.dataset.status = statusKey;
    status.textContent = statusText;
    accounts.textContent = connections.map((connection) => connection.email || this.accountLabel(connection)).join(", ");

    if (provider !== "other") this._updateConnectButtons(provider, connections);

    if (state.phase === "loading") return;
    const ui = { t, accountLabel: (connection) => this.accountLabel(connection) };
    const views = connections.map((connection) =>
      renderConnection(
        {
          connection,
          calendars: state.calendars.get(connection.id),
          draft: state.drafts.get(connection.id) || null,
          pending: state.pending.get(connection.id) || new Map(),
          locked: this._locked() || Boolean(state.connecting),
          reconnecting: Boolean(state.connecting && state.connecting.reconnect && state.connecting.reconnect.id === connection.id),
        },
        this._actions,
        ui,
      ),
    );
    const name = card.querySelector("h3").textContent;
    if (views.length) {
      body.replaceChildren(h("ul", { className: "connections", "aria-label": t("provider.accounts", { provider: name }) }, views));
    } else {
      body.replaceChildren(h("p", { className: "provider-empty", dataset: { testid: `empty-${provider}` } }, this._emptyText(provider)));
    }
  }

  _emptyText(provider) {
    const t = this.t;
    const phase = this._state.phase;
    if (phase === "no-account") return t("empty.noAccount");
    if (phase === "error") return t("empty.error");
    if (phase === "signed-out") return t("empty.signedOut");
    return t("empty.none", { provider: this.providerName(provider) });
  }

  _updateConnectButtons(provider, connections) {
    const state = this._state;
    const connect = this._byId(`connect-${provider}`);
    const cancel = this._byId(`cancel-connect-${provider}`);
    const mine = state.connecting && state.connecting.provider === provider;
    connect.textContent = mine && !state.connecting.reconnect ? this.t("connect.busy") : this._connectWording(provider, connections.length > 0);
    connect.disabled = Boolean(state.connecting) || this._locked() || state.phase === "error";
    connect.setAttribute("aria-busy", mine ? "true" : "false");
    cancel.hidden = !mine;
  }
}

/** Define the element (once) where custom elements exist; a no-op under Node/SSR. */
export function defineCalendarSettings(tagName = TAG_NAME) {
  if (typeof customElements === "undefined") return false;
  if (customElements.get(tagName)) return true;
  // A constructor can be registered under one name only: other names get a subclass.
  const definition = tagName === TAG_NAME ? MeetergoCalendarSettings : class extends MeetergoCalendarSettings {};
  customElements.define(tagName, definition);
  return true;
}

defineCalendarSettings();
