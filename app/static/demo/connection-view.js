// One connected calendar account on the settings page: its heading and actions, its booking
// rules (switches that save at once) and its calendars (choices saved with one button).
//
// Pure rendering: everything it shows comes from `view`, everything it does goes through
// `actions`. Element ids are derived from the connection id, so the page can put focus back
// on the same control after it re-renders.

import { h, idPart } from "./dom.js";
import { providerName } from "./messages.js";

/** The three booking rules, as the switches show them. */
export const RULES = [
  {
    field: "validateAvailability",
    label: "Check this calendar for conflicts",
    hint: "Times that are busy in the calendars ticked below cannot be booked.",
    on: "Conflict checking is on",
    off: "Conflict checking is off",
  },
  {
    field: "cancelIfDeclinedOrDeleted",
    label: "Cancel the booking when its event is declined or deleted",
    hint: "Declining or deleting the event in this calendar also cancels the booking.",
    on: "Bookings follow their calendar events",
    off: "Bookings stay even if their event is declined or deleted",
  },
  {
    field: "disableAttendeeNotification",
    label: "Don't let the calendar e-mail attendees",
    hint: "Google or Microsoft will not send attendees their own notices about booking events.",
    on: "The calendar will not notify attendees",
    off: "The calendar may notify attendees",
  },
];

export function accountLabel(connection) {
  return connection.email || `${providerName(connection.provider)} account`;
}

/**
 * view: { connection, calendars: {status: "loading"|"ready"|"error", list, error}, draft:
 *         {selected: string[], primary: string} | null, pending: Map(key -> value), locked }
 * actions: { toggle(connection, field, value), setPrimary(connection, button),
 *            disconnect(connection, button), editDraft(connection, draft), saveCalendars(connection),
 *            discardDraft(connection), reloadCalendars(connection) }
 */
export function renderConnection(view, actions) {
  const { connection, locked } = view;
  const base = `conn-${idPart(connection.id)}`;
  const busy = view.pending.size > 0;
  return h(
    "li",
    {
      className: "connection",
      id: base,
      dataset: { testid: `connection-${connection.id}`, connectionId: connection.id, primary: Boolean(connection.isPrimary) },
      "aria-busy": busy ? "true" : "false",
    },
    renderHead(view, actions, base),
    renderRules(view, actions, base),
    renderCalendars(view, actions, base),
  );
}

function renderHead({ connection, pending, locked }, actions, base) {
  const label = accountLabel(connection);
  const title = h(
    "div",
    { className: "connection-title" },
    h(
      "h4",
      { id: `${base}-heading`, tabindex: "-1" },
      h("span", { dataset: { testid: "account-email" } }, label),
      connection.isPrimary ? h("span", { className: "badge badge-primary", dataset: { testid: "primary-badge" } }, "Primary") : null,
      connection.isConnected === false ? h("span", { className: "badge badge-warn", dataset: { testid: "needs-reconnect" } }, "Needs reconnecting") : null,
    ),
    h(
      "p",
      { className: "connection-note" },
      connection.isConnected === false
        ? "meetergo can no longer reach this calendar. Disconnect it, then connect it again."
        : connection.isPrimary
          ? "New bookings are added to this account's calendar."
          : "Checked for conflicts only; new bookings go to your primary account.",
    ),
  );
  const buttons = h("div", { className: "button-row" });
  if (!connection.isPrimary) {
    buttons.append(
      h(
        "button",
        {
          type: "button",
          className: "button",
          id: `${base}-set-primary`,
          dataset: { testid: "set-primary" },
          "aria-label": `Make primary: ${label}`,
          disabled: locked || pending.has("primary"),
          onclick: (event) => actions.setPrimary(connection, event.currentTarget),
        },
        pending.has("primary") ? "Making primary…" : "Make primary",
      ),
    );
  }
  buttons.append(
    h(
      "button",
      {
        type: "button",
        className: "button button-danger-outline",
        id: `${base}-disconnect`,
        dataset: { testid: "disconnect" },
        "aria-label": `Disconnect ${label}`,
        disabled: locked || pending.has("delete"),
        onclick: (event) => actions.disconnect(connection, event.currentTarget),
      },
      pending.has("delete") ? "Disconnecting…" : "Disconnect",
    ),
  );
  return h("div", { className: "connection-head" }, title, buttons);
}

function renderRules({ connection, pending, locked }, actions, base) {
  const rows = RULES.map((rule) => {
    const id = `${base}-${rule.field}`;
    const key = `rule:${rule.field}`;
    const saving = pending.has(key);
    const value = saving ? pending.get(key) : Boolean(connection[rule.field]);
    return h(
      "div",
      { className: "toggle" },
      h("input", {
        type: "checkbox",
        role: "switch",
        className: "switch",
        id,
        checked: value,
        disabled: locked || saving,
        "aria-describedby": `${id}-hint`,
        dataset: { testid: `toggle-${rule.field}`, field: rule.field },
        onchange: (event) => actions.toggle(connection, rule.field, event.currentTarget.checked),
      }),
      h("label", { for: id }, rule.label),
      h("p", { className: "hint", id: `${id}-hint` }, rule.hint),
      saving ? h("p", { className: "toggle-state", dataset: { testid: `toggle-saving-${rule.field}` } }, "Saving…") : null,
    );
  });
  return h("fieldset", { className: "settings-group" }, h("legend", {}, "Booking rules"), ...rows);
}

function renderCalendars(view, actions, base) {
  const { connection, calendars } = view;
  const legend = h("legend", {}, "Calendars");
  if (!calendars || calendars.status === "loading") {
    return h(
      "fieldset",
      { className: "settings-group", "aria-busy": "true" },
      legend,
      h("p", { className: "hint loading-text", dataset: { testid: "calendars-loading" } }, "Loading the calendars of this account"),
    );
  }
  if (calendars.status === "error") {
    return h(
      "fieldset",
      { className: "settings-group" },
      legend,
      h(
        "div",
        { className: "inline-error", dataset: { testid: "calendars-error" } },
        h("p", {}, "The calendars of this account could not be loaded."),
        h(
          "button",
          {
            type: "button",
            className: "button",
            id: `${base}-calendars-retry`,
            disabled: view.locked,
            onclick: () => actions.reloadCalendars(connection),
          },
          "Try again",
        ),
      ),
    );
  }
  if (!calendars.list.length) {
    return h("fieldset", { className: "settings-group" }, legend, h("p", { className: "hint" }, "This account has no calendars."));
  }
  return h("fieldset", { className: "settings-group" }, legend, ...renderCalendarChoices(view, actions, base));
}

function currentChoices({ connection, draft }) {
  if (draft) return draft;
  return {
    selected: Array.isArray(connection.selectedCalendars) ? [...connection.selectedCalendars] : [],
    primary: connection.primaryCalendar || "",
  };
}

function sameChoices(a, b) {
  if (a.primary !== b.primary || a.selected.length !== b.selected.length) return false;
  const other = new Set(b.selected);
  return a.selected.every((id) => other.has(id));
}

export function draftChanges(connection, draft) {
  const saved = currentChoices({ connection, draft: null });
  if (!draft || sameChoices(saved, draft)) return null;
  const changes = {};
  if (draft.primary !== saved.primary) changes.primaryCalendar = draft.primary;
  const selectedChanged =
    draft.selected.length !== saved.selected.length || draft.selected.some((id) => !saved.selected.includes(id));
  if (selectedChanged) changes.selectedCalendars = [...draft.selected];
  return changes;
}

function renderCalendarChoices(view, actions, base) {
  const { connection, calendars, locked, pending } = view;
  const choices = currentChoices(view);
  const saving = pending.has("save");
  const disabled = locked || saving;
  const edit = (next) => actions.editDraft(connection, { ...choices, ...next });
  const list = calendars.list;
  const hidden = (calendar) => `${base}-cal-${list.indexOf(calendar)}`;

  // Which calendars are checked for conflicts.
  const conflictHints = [];
  if (connection.validateAvailability === false) {
    conflictHints.push(
      h("p", { className: "hint hint-warn" }, "Conflict checking is off for this account (see Booking rules), so these choices apply only once it is on."),
    );
  } else if (!choices.selected.length) {
    conflictHints.push(h("p", { className: "hint hint-warn" }, "No calendar is ticked: nothing in this account will block bookings."));
  }
  const checks = h(
    "fieldset",
    { className: "settings-group", dataset: { testid: "conflict-calendars" } },
    h("legend", {}, "Check for conflicts in"),
    ...conflictHints,
    h(
      "ul",
      { className: "calendar-list" },
      list.map((calendar) => {
        const id = `${hidden(calendar)}-check`;
        const notes = [];
        if (calendar.isPrimary) notes.push("the account's main calendar");
        if (calendar.canEdit === false) notes.push("read-only");
        return h(
          "li",
          { className: "calendar-option" },
          h("input", {
            type: "checkbox",
            id,
            checked: choices.selected.includes(calendar.id),
            disabled,
            "aria-describedby": notes.length ? `${id}-note` : null,
            dataset: { testid: `calendar-${calendar.id}`, calendarId: calendar.id },
            onchange: (event) => {
              const selected = choices.selected.filter((value) => value !== calendar.id);
              if (event.currentTarget.checked) selected.push(calendar.id);
              edit({ selected });
            },
          }),
          h("label", { for: id }, calendar.name || calendar.id),
          notes.length ? h("p", { className: "hint", id: `${id}-note` }, capitalise(notes.join(", "))) : null,
        );
      }),
    ),
  );

  // Which calendar new bookings are written to.
  const selectId = `${base}-primary-calendar`;
  const readOnly = list.filter((calendar) => calendar.canEdit === false);
  const knownPrimary = list.some((calendar) => calendar.id === choices.primary);
  const select = h(
    "select",
    {
      id: selectId,
      disabled,
      "aria-describedby": `${selectId}-hint`,
      dataset: { testid: "primary-calendar" },
      onchange: (event) => edit({ primary: event.currentTarget.value }),
    },
    knownPrimary ? null : h("option", { value: "", selected: true, disabled: true }, "Choose a calendar"),
    list.map((calendar) =>
      h(
        "option",
        {
          value: calendar.id,
          selected: calendar.id === choices.primary,
          disabled: calendar.canEdit === false,
          dataset: { calendarId: calendar.id },
        },
        calendar.canEdit === false ? `${calendar.name || calendar.id} (read-only)` : calendar.name || calendar.id,
      ),
    ),
  );
  if (knownPrimary) select.value = choices.primary;
  const hintParts = [
    connection.isPrimary
      ? "New bookings become events in this calendar."
      : "Used once this account is your primary one.",
  ];
  if (readOnly.length) {
    const names = readOnly.map((calendar) => calendar.name || calendar.id).join(", ");
    hintParts.push(
      `${names} ${readOnly.length === 1 ? "is" : "are"} read-only: you can only look at ${readOnly.length === 1 ? "it" : "them"}, so bookings cannot be added there.`,
    );
  }
  const target = h(
    "div",
    { className: "field" },
    h("label", { for: selectId }, "Add new bookings to"),
    select,
    h("p", { className: "hint", id: `${selectId}-hint` }, hintParts.join(" ")),
  );

  const changes = draftChanges(connection, view.draft);
  const save = h(
    "div",
    { className: "save-row" },
    h(
      "button",
      {
        type: "button",
        className: "button button-primary",
        id: `${base}-save`,
        dataset: { testid: "save-calendars" },
        disabled: disabled || !changes || !choices.primary,
        onclick: () => actions.saveCalendars(connection),
      },
      saving ? "Saving…" : "Save calendar choices",
    ),
    changes && !saving
      ? h(
          "button",
          {
            type: "button",
            className: "button",
            id: `${base}-discard`,
            dataset: { testid: "discard-calendars" },
            disabled,
            onclick: () => actions.discardDraft(connection),
          },
          "Undo changes",
        )
      : null,
    h(
      "span",
      { className: changes ? "dirty-note" : "hint", dataset: { testid: "calendars-dirty" } },
      saving ? "" : changes ? "Unsaved changes" : "All changes saved",
    ),
  );
  return [checks, target, save];
}

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
