// What each error code means to the person in front of the page, and which way out it offers:
//   retry    a "Try again" button that repeats what failed (after Retry-After, when given)
//   reload   a button that reloads the list first (the state may have changed underneath)
//   signin   the session is gone: sign in again (a link when the page gave a sign-in URL)
//   none     nothing to retry: the user or an operator has to change something first
// `internal` marks answers that point at a bug or a configuration problem rather than at the
// user: the message shows the request id so it can be quoted to support. The texts are in the
// catalogues (i18n/en.js, i18n/de.js) under "error.<code>".

const SIGNIN = { action: "signin" };
const RETRY = { action: "retry" };
const RELOAD = { action: "reload" };
const NONE = { action: "none" };
const INTERNAL_NONE = { action: "none", internal: true };
const INTERNAL_RETRY = { action: "retry", internal: true };
const INTERNAL_PROBLEM = { action: "none", internal: true, text: "error.internal_problem" };

export const ERROR_ACTIONS = Object.freeze({
  unauthenticated: SIGNIN,
  session_expired: SIGNIN,
  session_revoked: SIGNIN,
  ticket_invalid: INTERNAL_NONE,
  ticket_expired: RETRY,
  ticket_replayed: RETRY,
  user_not_mapped: RETRY,
  user_mapping_unavailable: RETRY,
  user_not_found: INTERNAL_NONE,
  connection_already_exists: RELOAD,
  access_denied: RETRY,
  invalid_scope: RETRY,
  server_error: RETRY,
  flow_mismatch: RETRY,
  flow_expired: RETRY,
  connect_failed: RETRY,
  limit_reached: NONE,
  popup_blocked: NONE,
  popup_closed: RETRY,
  timeout: RETRY,
  aborted: NONE,
  flow_in_progress: NONE,
  network_error: RETRY,
  bad_response: INTERNAL_RETRY,
  not_in_browser: INTERNAL_NONE,
  upstream_rate_limited: RETRY,
  rate_limited: RETRY,
  overloaded: RETRY,
  request_timeout: RETRY,
  too_many_connections: RETRY,
  invalid_path: INTERNAL_PROBLEM,
  malformed_request: INTERNAL_PROBLEM,
  request_headers_too_large: INTERNAL_PROBLEM,
  upstream_unavailable: RETRY,
  upstream_timeout: RETRY,
  upstream_unauthorized: INTERNAL_NONE,
  upstream_rejected: { action: "reload", internal: true },
  upstream_bad_response: INTERNAL_RETRY,
  not_found: RELOAD,
  validation_error: RELOAD,
  route_disabled: NONE,
  invalid_redirect: INTERNAL_NONE,
  csrf_failed: INTERNAL_PROBLEM,
  origin_not_allowed: INTERNAL_PROBLEM,
  method_not_allowed: INTERNAL_PROBLEM,
  unsupported_media_type: INTERNAL_PROBLEM,
  payload_too_large: INTERNAL_PROBLEM,
  length_required: INTERNAL_PROBLEM,
  shared_state_unavailable: INTERNAL_RETRY,
  internal_error: INTERNAL_RETRY,
});

export const KNOWN_CODES = Object.freeze(Object.keys(ERROR_ACTIONS));

/**
 * A message for a CalendarError (or any error): { code, text, detail, action, retryAfter,
 * requestId, showRequestId }. context: { provider (a display name), write (a call that changes data) }.
 */
export function describeError(error, context, t) {
  const code = (error && error.code) || "unknown";
  const entry = Object.hasOwn(ERROR_ACTIONS, code) ? ERROR_ACTIONS[code] : { action: "retry", internal: true, text: "error.unknown" };
  let key = entry.text || `error.${code}`;
  if (code === "upstream_timeout" && context.write) key = "error.upstream_timeout.write";
  const action = code === "upstream_timeout" && context.write ? "reload" : entry.action;
  const status = (error && error.status) || 0;
  let detail = null;
  if (code === "validation_error" && error && Array.isArray(error.errors) && error.errors.length) {
    detail = error.errors.map((item) => item.message).join(" ");
  }
  return {
    code,
    text: t(key, { provider: context.provider || t("provider.generic") }),
    detail,
    action,
    retryAfter: error && Number.isFinite(error.retryAfter) ? error.retryAfter : null,
    requestId: (error && error.requestId) || null,
    showRequestId: Boolean(entry.internal || status >= 500),
  };
}
