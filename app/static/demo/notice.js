// The message area both demo pages share: one message at a time, with its way out (try again,
// reload, sign in), the request id in small print for server-side problems, and a polite live
// region that reads the sentence out once (the visible box can hold a countdown that must not be
// announced every second).

import { describeError } from "/sdk/v1/errors.js";
import { createTranslator } from "/sdk/v1/i18n/index.js";
import { h } from "./dom.js";

// The error texts are the settings element's catalogues, in the page's language.
const tr = (key, values) => createTranslator(document.documentElement.lang)(key, values);

const SIGN_IN_PAGE = "index.html";

/**
 * region: the visible message box; announcer: an aria-live="polite" element.
 * Returns { success, info, error, clear }.
 */
export function createNotices({ region, announcer }) {
  let countdown = null;

  function announce(text) {
    // Emptying first makes screen readers announce a message equal to the previous one again.
    announcer.textContent = "";
    window.setTimeout(() => {
      announcer.textContent = text;
    }, 50);
  }

  function clear() {
    if (countdown) window.clearInterval(countdown);
    countdown = null;
    region.replaceChildren();
    region.hidden = true;
    delete region.dataset.kind;
    delete region.dataset.code;
  }

  function show({ kind, code = null, text, detail = null, actions = [], requestId = null, spoken }) {
    clear();
    region.dataset.kind = kind;
    if (code) region.dataset.code = code;
    const body = h(
      "div",
      { className: "notice-body" },
      h("p", { className: "notice-text", dataset: { testid: "message-text" } }, text),
      detail ? h("p", { className: "notice-detail" }, detail) : null,
      requestId
        ? h(
            "p",
            { className: "notice-reference", dataset: { testid: "message-request-id" } },
            `${tr("notice.reference")} `,
            h("code", {}, requestId),
          )
        : null,
    );
    // Built after clear(): a retry button may start a countdown that clear() would stop.
    const built = typeof actions === "function" ? actions() : actions;
    const buttons = h("div", { className: "notice-actions" }, ...built);
    const dismiss = h(
      "button",
      { type: "button", className: "button-quiet notice-dismiss", "aria-label": tr("notice.dismissLabel"), onclick: clear },
      tr("notice.dismiss"),
    );
    region.append(body, buttons, dismiss);
    if (!built.length) buttons.remove();
    region.hidden = false;
    announce(spoken || text);
  }

  function success(text) {
    show({ kind: "success", text });
  }

  function info(text, { code = null } = {}) {
    show({ kind: "info", text, code });
  }

  /**
   * Explain `error` (usually a CalendarError). options: { context, retry, reload } where retry
   * and reload are functions: the message offers the one its code calls for, when given.
   */
  function error(err, { context = {}, retry = null, reload = null } = {}) {
    const message = describeError(err, context, tr);
    let spoken = message.text;
    const waitSeconds = message.retryAfter && message.retryAfter > 0 ? message.retryAfter : 0;
    if (waitSeconds) spoken += ` ${tr("notice.waitSpoken", { seconds: waitSeconds })}`;
    const actions = () => {
      if (message.action === "signin") {
        return [
          h("a", { href: SIGN_IN_PAGE, className: "button button-primary", dataset: { testid: "message-sign-in" } }, tr("notice.signIn")),
        ];
      }
      if (message.action === "retry" && retry) return [retryButton(tr("notice.retry"), retry, waitSeconds)];
      if ((message.action === "reload" || message.action === "retry") && reload) {
        return [retryButton(tr("notice.reload"), reload, waitSeconds)];
      }
      return [];
    };
    const kind = message.code === "aborted" || message.code === "popup_blocked" ? "info" : "error";
    const offersButton = message.action === "signin" || Boolean(message.action === "retry" ? retry || reload : message.action === "reload" && reload);
    const visibleText = waitSeconds && !offersButton
      ? `${message.text} ${tr("notice.wait", { seconds: waitSeconds })}`
      : message.text;
    show({
      kind,
      code: message.code,
      text: visibleText,
      detail: message.detail,
      requestId: message.showRequestId ? message.requestId : null,
      actions,
      spoken,
    });
  }

  function retryButton(label, onRetry, waitSeconds) {
    const button = h(
      "button",
      {
        type: "button",
        className: "button button-primary",
        dataset: { testid: "message-retry" },
        onclick: () => {
          clear();
          onRetry();
        },
      },
      label,
    );
    if (waitSeconds > 0) {
      const until = Date.now() + waitSeconds * 1000;
      const tick = () => {
        const left = Math.ceil((until - Date.now()) / 1000);
        if (left <= 0) {
          window.clearInterval(countdown);
          countdown = null;
          button.disabled = false;
          button.textContent = label;
          return;
        }
        button.disabled = true;
        button.textContent = tr("notice.retryIn", { label, seconds: left });
      };
      tick();
      countdown = window.setInterval(tick, 1000);
    }
    return button;
  }

  clear();
  return { success, info, error, clear };
}
