// A TypeScript app using the documented API; `tsc --strict` must accept it (scripts/typecheck.mjs).
import {
  CalendarError,
  createCalendarClient,
  readRedirectResult,
  type Connection,
  type ConnectionChanges,
} from "@meetergo/calendar-bff-client";
import { defineCalendarSettings, type MeetergoCalendarSettings } from "@meetergo/calendar-bff-client/settings-element";
import { createTranslator, resolveLocale } from "@meetergo/calendar-bff-client/i18n";

export async function settingsPage(button: HTMLButtonElement): Promise<string[]> {
  const calendar = createCalendarClient({ baseUrl: "https://calendar.example.com" });
  const { connections, total } = await calendar.listConnections();
  const first: Connection | undefined = connections[0];
  const emails: string[] = connections.map((connection) => connection.email ?? connection.provider);
  if (first) {
    const changes: ConnectionChanges = { selectedCalendars: ["primary"], validateAvailability: true };
    const updated: Connection = await calendar.updateConnection(first.id, changes);
    const primary: Connection = await calendar.setPrimaryConnection(updated.id);
    const nothing: void = await calendar.deleteConnection(primary.id);
    void nothing;
    if (first.isConnected === false) {
      button.onclick = async () => {
        const result = await calendar.reconnect(first);
        const again: boolean = result.reconnected;
        void again;
      };
    }
  }
  button.addEventListener("click", async () => {
    try {
      const { connectionId } = await calendar.connect("google", { setAsCalendarSync: true, onPopupClosed: ({ flowId }) => flowId });
      emails.push(connectionId);
    } catch (error) {
      if (error instanceof CalendarError && error.code === "popup_blocked") {
        await calendar.connect("google", { mode: "redirect" });
      }
    }
  });
  const who = await calendar.session();
  if (who) emails.push(who.appUserId);
  const returned = readRedirectResult({ clean: true });
  if (returned?.success && returned.connectionId) emails.push(returned.connectionId);
  emails.push(String(total));
  return emails;
}

export function mountSettings(host: HTMLElement): MeetergoCalendarSettings {
  defineCalendarSettings();
  const element = document.createElement("meetergo-calendar-settings");
  element.setAttribute("lang", "de");
  element.addEventListener("connected", (event) => {
    const id: string = event.detail.connectionId;
    const reconnected: boolean = event.detail.reconnected;
    void [id, reconnected];
  });
  element.addEventListener("error", (event) => {
    const message: string = event.detail.message;
    void message;
  });
  host.append(element);
  const t = createTranslator(resolveLocale(navigator.language));
  host.title = t("section.heading");
  return element;
}
