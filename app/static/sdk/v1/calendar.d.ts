// Types for /sdk/v1/calendar.js.

/** Stable error codes: the service's (docs/errors.md) plus the client's own. */
export type CalendarErrorCode =
  | "popup_blocked"
  | "popup_closed"
  | "timeout"
  | "aborted"
  | "flow_in_progress"
  | "network_error"
  | "bad_response"
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

/** meetergo's connection object; unknown fields are passed through. */
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
  [field: string]: unknown;
}

export interface Calendar {
  id: string;
  name: string;
  isPrimary: boolean;
  canEdit: boolean;
  selected: boolean;
  [field: string]: unknown;
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
  updateConnection(connectionId: string, changes: ConnectionChanges): Promise<unknown>;
  deleteConnection(connectionId: string): Promise<unknown>;
  setPrimaryConnection(connectionId: string): Promise<unknown>;
  login(ticket: string): Promise<SessionProfile>;
  me(): Promise<SessionProfile>;
  /**
   * Ends the session and removes the cookie. `null` when every replica knows; the object when the
   * service could not record the revocation yet (its shared state was down): the cookie is gone
   * all the same, and the service records it as soon as it can.
   */
  logout(): Promise<null | { revocationRecorded: false }>;
  flowStatus(flowId: string): Promise<FlowStatus>;
  /** Call inside the click handler so the popup opens synchronously. */
  connect(provider: Provider, options?: ConnectOptions): Promise<ConnectResult>;
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
