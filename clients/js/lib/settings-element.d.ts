// Types for @meetergo/calendar-bff-client/settings-element (<meetergo-calendar-settings>).
import type { CalendarClient, CalendarError, CalendarErrorCode, Connection, ConnectionChanges, Provider } from "./calendar.js";

export declare const TAG_NAME: "meetergo-calendar-settings";

export interface ConnectedDetail {
  connectionId: string;
  provider: Provider | null;
  /** True when the flow reconnected an account whose access meetergo had lost. */
  reconnected: boolean;
  connection: Connection | null;
}
export interface DisconnectedDetail {
  connectionId: string;
  provider: Provider;
}
export interface ChangedDetail {
  connection: Connection;
  changes: ConnectionChanges | { isPrimary: true };
}
export interface SettingsErrorDetail {
  code: CalendarErrorCode;
  /** The friendly text the element shows, in its language. */
  message: string;
  error: CalendarError | Error | { code: string };
}

export interface MeetergoCalendarSettingsEventMap extends Omit<HTMLElementEventMap, "error"> {
  connected: CustomEvent<ConnectedDetail>;
  disconnected: CustomEvent<DisconnectedDetail>;
  changed: CustomEvent<ChangedDetail>;
  error: CustomEvent<SettingsErrorDetail>;
}

export declare class MeetergoCalendarSettings extends HTMLElement {
  /** The client it uses; set one to share it with the app (else made from base-url, api-prefix). */
  client: CalendarClient;
  /** "en" or "de": the lang/locale attribute, else the page's lang, else English. */
  readonly locale: "en" | "de";
  readonly providers: string[];
  /** Reload the session and the accounts (for example after the app signed the user in). */
  refresh(): Promise<void>;
  addEventListener<K extends keyof MeetergoCalendarSettingsEventMap>(
    type: K,
    listener: (this: MeetergoCalendarSettings, event: MeetergoCalendarSettingsEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject,
    options?: boolean | AddEventListenerOptions,
  ): void;
}

/** Define the element (done on import); returns false outside a browser. */
export declare function defineCalendarSettings(tagName?: string): boolean;

declare global {
  interface HTMLElementTagNameMap {
    "meetergo-calendar-settings": MeetergoCalendarSettings;
  }
}
