// What each error code means to the person in front of the page, and what the page offers next.
//
// One entry for every code in docs/errors.md and for the JS client's own codes. `action` says
// which way out the message offers:
//   retry    a "Try again" button that repeats what failed (after Retry-After, when given)
//   reload   a button that reloads the list first (the state may have changed underneath)
//   signin   a link back to the sign-in page (the session is gone)
//   none     nothing to retry: the user or an operator has to change something first
// `internal` marks answers that point at a bug or a configuration problem rather than at the
// user: the page shows the request id so it can be quoted to support.

const PROVIDER_NAMES = { google: "Google Calendar", outlook: "Microsoft 365" };

export function providerName(provider) {
  return PROVIDER_NAMES[provider] || (provider ? `the ${provider} calendar` : "the calendar");
}

const SIGN_IN_AGAIN = "Sign in again to continue; your saved calendar settings are kept.";

/** code -> (context) -> { text, action, internal? } */
const CATALOGUE = {
  // -- the session (any page) --------------------------------------------------------------------
  unauthenticated: () => ({
    text: "You are not signed in, or your sign-in is no longer valid. Sign in to continue.",
    action: "signin",
  }),
  session_expired: () => ({
    text: `Your session ended because it was idle for too long or reached its maximum length. ${SIGN_IN_AGAIN}`,
    action: "signin",
  }),
  session_revoked: () => ({
    text: `You were signed out (in another tab, or by an administrator). ${SIGN_IN_AGAIN}`,
    action: "signin",
  }),

  // -- login tickets (the sign-in page) ----------------------------------------------------------
  ticket_invalid: () => ({
    text: "The app could not sign you in: the service did not accept the login ticket. This is a setup problem on the app's side; trying again will not help.",
    action: "none",
    internal: true,
  }),
  ticket_expired: () => ({
    text: "The login ticket expired before it was used. Try again: a fresh ticket is made for every attempt.",
    action: "retry",
  }),
  ticket_replayed: () => ({
    text: "That login ticket was already used. Try again: a fresh ticket is made for every attempt.",
    action: "retry",
  }),

  // -- the user's meetergo account -------------------------------------------------------------
  user_not_mapped: () => ({
    text: "Calendar connection is not available for your account yet: you have no meetergo account in this company. Your administrator can set one up; check again afterwards.",
    action: "retry",
  }),
  user_mapping_unavailable: () => ({
    text: "We could not look up your meetergo account just now.",
    action: "retry",
  }),
  user_not_found: () => ({
    text: "meetergo does not know the account your user is linked to, so calendars cannot be managed. Your administrator needs to fix the link; trying again will not help until then.",
    action: "none",
    internal: true,
  }),

  // -- connecting a calendar -------------------------------------------------------------------
  connection_already_exists: ({ provider }) => ({
    text: `That ${providerName(provider)} account is already connected. The list below shows it; to use a different account, connect again and enter that one.`,
    action: "reload",
  }),
  access_denied: ({ provider }) => ({
    text: `Nothing was connected because access to ${providerName(provider)} was declined. Bookings can only avoid your busy times and appear in your calendar with that access. You can try again whenever you like.`,
    action: "retry",
  }),
  invalid_scope: ({ provider }) => ({
    text: `You signed in to ${providerName(provider)} but did not grant access to your calendars. Connect again and leave the calendar permission ticked.`,
    action: "retry",
  }),
  server_error: ({ provider }) => ({
    text: `${providerName(provider)} or meetergo had a problem while connecting. Nothing was connected; wait a few seconds and try again.`,
    action: "retry",
  }),
  flow_mismatch: () => ({
    text: "For your safety nothing was connected: the sign-in result arrived in a different browser or session than the one that started it. Start connecting again from this page.",
    action: "retry",
  }),
  flow_expired: () => ({
    text: "The connection attempt took longer than ten minutes (or its link was not valid), so it was stopped. Start again from this page.",
    action: "retry",
  }),
  connect_failed: ({ provider }) => ({
    text: `Connecting ${providerName(provider)} did not complete. We reloaded your calendar accounts; if it is not listed, try again.`,
    action: "retry",
  }),
  limit_reached: () => ({
    text: "Your company's meetergo plan does not allow more calendar connections (or this change). An administrator can change the plan.",
    action: "none",
  }),

  // -- the JS client's own codes ---------------------------------------------------------------
  popup_blocked: () => ({
    text: "Your browser blocked the sign-in window, so we continue in this tab instead.",
    action: "none",
  }),
  popup_closed: ({ provider }) => ({
    text: `The ${providerName(provider)} sign-in window was closed before the connection finished. Nothing was connected.`,
    action: "retry",
  }),
  timeout: () => ({
    text: "Connecting took too long and was stopped. If you had already allowed access, the account may still appear in the list; otherwise try again.",
    action: "retry",
  }),
  aborted: () => ({
    text: "Connecting was cancelled. If you had already allowed access, the account may still appear in the list.",
    action: "none",
  }),
  flow_in_progress: () => ({
    text: "A calendar is already being connected. Finish or cancel that first.",
    action: "none",
  }),
  network_error: () => ({
    text: "The service could not be reached. Check your internet connection and try again.",
    action: "retry",
  }),
  bad_response: () => ({
    text: "The service sent an answer this page could not read.",
    action: "retry",
    internal: true,
  }),

  // -- meetergo, behind the service ------------------------------------------------------------
  upstream_rate_limited: () => ({
    text: "Calendar settings are very busy for your company right now.",
    action: "retry",
  }),
  upstream_unavailable: () => ({
    text: "meetergo is not reachable at the moment.",
    action: "retry",
  }),
  upstream_timeout: ({ write }) =>
    write
      ? {
          text: "meetergo took too long to answer, so we cannot tell whether your change was saved. We reloaded the list: check it before changing anything again.",
          action: "reload",
        }
      : { text: "meetergo took too long to answer.", action: "retry" },
  upstream_unauthorized: () => ({
    text: "The calendar service is not set up correctly (meetergo refused its access key). An administrator has been alerted; trying again will not help until it is fixed.",
    action: "none",
    internal: true,
  }),
  upstream_rejected: () => ({
    text: "meetergo refused the request for a reason we did not expect.",
    action: "reload",
    internal: true,
  }),
  upstream_bad_response: () => ({
    text: "meetergo sent an answer we could not read.",
    action: "retry",
    internal: true,
  }),

  // -- requests this page made -------------------------------------------------------------------
  not_found: () => ({
    text: "That calendar account no longer exists (it may have been disconnected elsewhere). The list has been refreshed.",
    action: "reload",
  }),
  validation_error: () => ({
    text: "The change was not accepted.",
    action: "reload",
  }),
  route_disabled: () => ({
    text: "This calendar feature is switched off for your company.",
    action: "none",
  }),
  invalid_redirect: () => ({
    text: "This page is not allowed to receive the connection result (its address is not configured).",
    action: "none",
    internal: true,
  }),
  csrf_failed: internalProblem,
  origin_not_allowed: internalProblem,
  method_not_allowed: internalProblem,
  unsupported_media_type: internalProblem,
  payload_too_large: internalProblem,
  length_required: internalProblem,

  // -- the service itself ------------------------------------------------------------------------
  shared_state_unavailable: () => ({
    text: "The calendar service is having a temporary problem.",
    action: "retry",
    internal: true,
  }),
  internal_error: () => ({
    text: "Something went wrong in the calendar service.",
    action: "retry",
    internal: true,
  }),
};

function internalProblem() {
  return {
    text: "This page sent a request the service does not accept. This is a bug in the app, not something you did.",
    action: "none",
    internal: true,
  };
}

/** Every code this page can explain (for checks and tests). */
export const KNOWN_CODES = Object.freeze(Object.keys(CATALOGUE));

/**
 * A message for a CalendarError (or any error): { code, text, detail, action, retryAfter,
 * requestId, status }. `context`: { provider, write } where `write` marks a call that changes data.
 */
export function describeError(error, context = {}) {
  const code = (error && error.code) || "unknown";
  const entry = CATALOGUE[code];
  const described = entry
    ? entry(context)
    : { text: "Something unexpected went wrong.", action: "retry", internal: true };
  const status = (error && error.status) || 0;
  return {
    code,
    text: described.text,
    detail: detailOf(error, code),
    action: described.action,
    retryAfter: error && Number.isFinite(error.retryAfter) ? error.retryAfter : null,
    requestId: (error && error.requestId) || null,
    showRequestId: Boolean(described.internal || status >= 500),
  };
}

function detailOf(error, code) {
  if (!error) return null;
  if (code === "validation_error" && Array.isArray(error.errors) && error.errors.length) {
    return error.errors.map((item) => item.message).join(" ");
  }
  return null;
}
