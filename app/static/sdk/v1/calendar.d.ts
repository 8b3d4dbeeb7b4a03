// Types for @meetergo/calendar-bff-client (also served as /sdk/v1/calendar.js).

export declare const VERSION: string;

/** Stable error codes: the service's (docs/errors.md) plus the client's own. */
export type CalendarErrorCode =
  | "popup_blocked"
  | "popup_closed"
  | "timeout"
  | "aborted"
  | "flow_in_progress"
  | "network_error"
  | "bad_response"
  | "not_in_browser"
  | (string & {});

export declare class CalendarError extends Error {
  readonly name: "CalendarError";
  readonly code: CalendarErrorCode;
  /** HTTP status; 0 when no answer was received. */
  readonly status: number;
  readonly title: string;
  readonly detail: string | null;
  /** Seconds to wait before retrying, when the service said so. */
  readonly retryAfter: number | null;
  readonly requestId: string | null;
  readonly errors: { location: string; message: string }[] | null;
}

export type Provider = "google" | "outlook" | (string & {});

/**
 * meetergo's connection object. Fields meetergo adds later are passed through at run time; they
 * are left out of the type on purpose, so that a misspelt field name does not compile.
 */
export interface Connection {
  id: string;
  provider: Provider;
  email?: string;
  isPrimary?: boolean;
  isConnected?: boolean;
  primaryCalendar?: string;
  selectedCalendars?: string[];
  validateAvailability?: boolean;
  cancelIfDeclinedOrDeleted?: boolean;
  disableAttendeeNotification?: boolean;
  syncBuffersToCalendar?: boolean;
  createdAt?: string;
  updatedAt?: string;
}

export interface Calendar {
  id: string;
  name: string;
  isPrimary: boolean;
  canEdit: boolean;
  selected: boolean;
}

export interface ConnectionChanges {
  primaryCalendar?: string;
  selectedCalendars?: string[];
  validateAvailability?: boolean;
  cancelIfDeclinedOrDeleted?: boolean;
  disableAttendeeNotification?: boolean;
  syncBuffersToCalendar?: boolean;
}

export interface SessionProfile {
  authenticated: true;
  appUserId: string;
  name: string | null;
  meetergoUserMapped: boolean;
  expiresAt: string;
  absoluteExpiresAt: string;
}

export interface FlowStatus {
  flowId: string;
  state: "pending" | "success" | "error";
  provider: string | null;
  connectionId: string | null;
  code: string | null;
}

export interface ConnectOptions {
  /** "popup" (default) or "redirect" (the page leaves; read the result with readRedirectResult). */
  mode?: "popup" | "redirect";
  setAsCalendarSync?: boolean;
  /** Redirect mode: where to come back (an allowed app origin); default the current page. */
  returnTo?: string;
  /** Default 5 minutes. */
  timeoutMs?: number;
  /** How long popup.closed must stay true before the flow fails with popup_closed. Default 10 s. */
  closedGraceMs?: number;
  /**
   * The grace instead, when popup.closed turned true within earlyCloseMs of opening: that is how
   * a provider's Cross-Origin-Opener-Policy cutting the popup off looks. Default 60 s.
   */
  severedGraceMs?: number;
  /** Default 4 s. */
  earlyCloseMs?: number;
  /** How often the flow status is polled as the last-resort channel. Default 1.5 s. */
  pollIntervalMs?: number;
  signal?: AbortSignal;
  popupFeatures?: string;
  /**
   * Called at once when the popup looks closed. The flow keeps waiting (a provider's COOP can make
   * an open popup look closed, and a late result still counts) until the grace passes: offer the
   * user Retry (abort, then connect again) and Cancel (abort).
   */
  onPopupClosed?: (info: { flowId: string; provider: Provider }) => void;
}

export interface ConnectResult {
  connectionId: string;
  provider: Provider;
  flowId: string;
}

export interface CalendarClient {
  getAuthUrl(
    provider: Provider,
    options?: { redirectUrl?: string; setAsCalendarSync?: boolean },
  ): Promise<{ authUrl: string; provider: Provider }>;
  listConnections(): Promise<{ connections: Connection[]; total: number }>;
  listCalendars(
    connectionId: string,
  ): Promise<{ calendars: Calendar[]; connectionId: string; provider: Provider }>;
  /** Resolves the updated connection (re-read when meetergo answers without a body). */
  updateConnection(connectionId: string, changes: ConnectionChanges): Promise<Connection>;
  deleteConnection(connectionId: string): Promise<void>;
  /** Resolves the connection, now primary. */
  setPrimaryConnection(connectionId: string): Promise<Connection>;
  login(ticket: string): Promise<SessionProfile>;
  /** Rejects with unauthenticated, session_expired or session_revoked when nobody is signed in. */
  me(): Promise<SessionProfile>;
  /** Like me(), but null when nobody is signed in. */
  session(): Promise<SessionProfile | null>;
  /**
   * Ends the session and removes the cookie. `null` when every replica knows; the object when the
   * service could not record the revocation yet (its shared state was down): the cookie is gone
   * all the same, and the service records it as soon as it can.
   */
  logout(): Promise<null | { revocationRecorded: false }>;
  flowStatus(flowId: string): Promise<FlowStatus>;
  /** Call inside the click handler so the popup opens synchronously. */
  connect(provider: Provider, options?: ConnectOptions): Promise<ConnectResult>;
  /**
   * Run the connect flow again for a connection with `isConnected: false` (its provider; the user
   * picks the account at the provider: meetergo takes no login hint). Call inside the click handler.
   */
  reconnect(
    connection: Pick<Connection, "id" | "provider">,
    options?: ConnectOptions,
  ): Promise<ConnectResult & { reconnected: boolean }>;
}

export declare function createCalendarClient(options?: {
  /** The service's origin; "" (default) for the page's own origin. */
  baseUrl?: string;
  apiPrefix?: string;
  fetch?: typeof fetch;
}): CalendarClient;

export interface RedirectResult {
  success: boolean;
  provider: string | null;
  connectionId: string | null;
  code: string | null;
  message: string | null;
}

export declare function readRedirectResult(options?: {
  url?: string;
  clean?: boolean;
}): RedirectResult | null;
