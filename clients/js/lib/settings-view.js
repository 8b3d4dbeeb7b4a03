// One connected calendar account inside <meetergo-calendar-settings>: its heading and actions
// (primary, reconnect, disconnect), its booking rules (switches that save at once) and its
// calendars (choices saved with one button).
//
// Pure rendering: everything it shows comes from `view`, everything it does goes through
// `actions`, every text through `ui.t`. Element ids are derived from the connection id, so the
// element can put focus back on the same control after it re-renders.

import { h, idPart } from "./dom.js";

/**
 * The three booking rules. `invert` shows a field the positive way round: meetergo's
 * disableAttendeeNotification=true is the switch "Let the calendar e-mail attendees" turned off.
 */
export const RULES = [
  { field: "validateAvailability", key: "validateAvailability", invert: false },
  { field: "cancelIfDeclinedOrDeleted", key: "cancelIfDeclinedOrDeleted", invert: false },
  { field: "disableAttendeeNotification", key: "attendeeNotification", invert: true },
];

/** Whether the switch for `rule` is on, for a stored field value. */
export function switchOn(rule, value) {
  return rule.invert ? !value : Boolean(value);
}

/**
 * view: { connection, calendars: {status, list, error}, draft: {selected, primary} | null,
 *         pending: Map(key -> value), locked, reconnecting }
 * actions: { toggle, setPrimary, reconnect, disconnect, editDraft, saveCalendars, discardDraft,
 *            reloadCalendars }
 */
export function renderConnection(view, actions, ui) {
  const { connection } = view;
  const base = `conn-${idPart(connection.id)}`;
  const disconnected = connection.isConnected === false;
  return h(
    "li",
    {
      className: disconnected ? "connection connection-attention" : "connection",
      id: base,
      part: disconnected ? "connection connection-attention" : "connection",
      dataset: {
        testid: `connection-${connection.id}`,
        connectionId: connection.id,
        primary: Boolean(connection.isPrimary),
        connected: !disconnected,
      },
      "aria-busy": view.pending.size > 0 ? "true" : "false",
    },
    renderHead(view, actions, base, ui),
    renderRules(view, actions, base, ui),
    renderCalendars(view, actions, base, ui),
  );
}

function renderHead({ connection, pending, locked, reconnecting }, actions, base, ui) {
  const { t } = ui;
  const label = ui.accountLabel(connection);
  const disconnected = connection.isConnected === false;
  const title = h(
    "div",
    { className: "connection-title" },
    h(
      "h4",
      { id: `${base}-heading`, tabindex: "-1" },
      h("span", { dataset: { testid: "account-email" } }, connection.email || label),
      connection.isPrimary ? h("span", { className: "badge badge-primary", part: "badge", dataset: { testid: "primary-badge" } }, t("connection.primary")) : null,
      disconnected ? h("span", { className: "badge badge-warn", part: "badge", dataset: { testid: "needs-reconnect" } }, t("connection.needsReconnect")) : null,
    ),
    h(
      "p",
      { className: "connection-note", id: `${base}-note` },
      disconnected
        ? t("connection.noteDisconnected")
        : connection.isPrimary
          ? t("connection.notePrimary")
          : t("connection.noteSecondary"),
    ),
  );
  const buttons = h("div", { className: "button-row" });
  if (disconnected) {
    buttons.append(
      h(
        "button",
        {
          type: "button",
          className: "button button-primary",
          part: "button button-primary",
          id: `${base}-reconnect`,
          dataset: { testid: "reconnect" },
          "aria-label": t("connection.reconnectLabel", { account: label }),
          "aria-describedby": `${base}-note`,
          disabled: locked || reconnecting,
          onclick: () => actions.reconnect(connection),
        },
        reconnecting ? t("connection.reconnecting") : t("connection.reconnect"),
      ),
    );
  }
  if (!connection.isPrimary && !disconnected) {
    buttons.append(
      h(
        "button",
        {
          type: "button",
          className: "button",
          part: "button",
          id: `${base}-set-primary`,
          dataset: { testid: "set-primary" },
          "aria-label": t("connection.makePrimaryLabel", { account: label }),
          disabled: locked || pending.has("primary"),
          onclick: (event) => actions.setPrimary(connection, event.currentTarget),
        },
        pending.has("primary") ? t("connection.makingPrimary") : t("connection.makePrimary"),
      ),
    );
  }
  buttons.append(
    h(
      "button",
      {
        type: "button",
        className: "button button-danger-outline",
        part: "button button-danger",
        id: `${base}-disconnect`,
        dataset: { testid: "disconnect" },
        "aria-label": t("connection.disconnectLabel", { account: label }),
        disabled: locked || pending.has("delete"),
        onclick: (event) => actions.disconnect(connection, event.currentTarget),
      },
      pending.has("delete") ? t("connection.disconnecting") : t("connection.disconnect"),
    ),
  );
  return h("div", { className: "connection-head" }, title, buttons);
}

function renderRules({ connection, pending, locked }, actions, base, { t }) {
  const disconnected = connection.isConnected === false;
  const rows = RULES.map((rule) => {
    const id = `${base}-${rule.field}`;
    const key = `rule:${rule.field}`;
    const saving = pending.has(key);
    const stored = saving ? pending.get(key) : connection[rule.field];
    return h(
      "div",
      { className: "toggle" },
      h("input", {
        type: "checkbox",
        role: "switch",
        className: "switch",
        id,
        checked: switchOn(rule, stored),
        disabled: locked || saving || disconnected,
        "aria-describedby": `${id}-hint`,
        dataset: { testid: `toggle-${rule.field}`, field: rule.field },
        onchange: (event) => {
          const on = event.currentTarget.checked;
          actions.toggle(connection, rule.field, rule.invert ? !on : on);
        },
      }),
      h("label", { for: id }, t(`rule.${rule.key}.label`)),
      h("p", { className: "hint", id: `${id}-hint` }, t(`rule.${rule.key}.hint`)),
      saving ? h("p", { className: "toggle-state", dataset: { testid: `toggle-saving-${rule.field}` } }, t("rules.saving")) : null,
    );
  });
  return h("fieldset", { className: "settings-group" }, h("legend", {}, t("rules.legend")), ...rows);
}

function renderCalendars(view, actions, base, ui) {
  const { t } = ui;
  const { connection, calendars } = view;
  const legend = h("legend", {}, t("calendars.legend"));
  if (connection.isConnected === false) {
    return h("fieldset", { className: "settings-group" }, legend, h("p", { className: "hint" }, t("calendars.unavailable")));
  }
  if (!calendars || calendars.status === "loading") {
    return h(
      "fieldset",
      { className: "settings-group", "aria-busy": "true" },
      legend,
      h("p", { className: "hint loading-text", dataset: { testid: "calendars-loading" } }, t("calendars.loading")),
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
        h("p", {}, t("calendars.error")),
        h(
          "button",
          {
            type: "button",
            className: "button",
            part: "button",
            id: `${base}-calendars-retry`,
            disabled: view.locked,
            onclick: () => actions.reloadCalendars(connection),
          },
          t("calendars.retry"),
        ),
      ),
    );
  }
  if (!calendars.list.length) {
    return h("fieldset", { className: "settings-group" }, legend, h("p", { className: "hint" }, t("calendars.none")));
  }
  return h("fieldset", { className: "settings-group" }, legend, ...renderCalendarChoices(view, actions, base, ui));
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

/** The PATCH body that saves `draft`, or null when it equals what is saved. */
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

function renderCalendarChoices(view, actions, base, { t }) {
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
    conflictHints.push(h("p", { className: "hint hint-warn" }, t("calendars.conflictsOff")));
  } else if (!choices.selected.length) {
    conflictHints.push(h("p", { className: "hint hint-warn" }, t("calendars.noneTicked")));
  }
  const checks = h(
    "fieldset",
    { className: "settings-group", dataset: { testid: "conflict-calendars" } },
    h("legend", {}, t("calendars.conflictsLegend")),
    ...conflictHints,
    h(
      "ul",
      { className: "calendar-list" },
      list.map((calendar) => {
        const id = `${hidden(calendar)}-check`;
        const notes = [];
        if (calendar.isPrimary) notes.push(t("calendars.mainCalendar"));
        if (calendar.canEdit === false) notes.push(t("calendars.readOnly"));
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
          notes.length ? h("p", { className: "hint", id: `${id}-note` }, notes.join(" · ")) : null,
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
    knownPrimary ? null : h("option", { value: "", selected: true, disabled: true }, t("calendars.choose")),
    list.map((calendar) =>
      h(
        "option",
        {
          value: calendar.id,
          selected: calendar.id === choices.primary,
          disabled: calendar.canEdit === false,
          dataset: { calendarId: calendar.id },
        },
        calendar.canEdit === false
          ? t("calendars.readOnlySuffix", { name: calendar.name || calendar.id })
          : calendar.name || calendar.id,
      ),
    ),
  );
  if (knownPrimary) select.value = choices.primary;
  const hintParts = [connection.isPrimary ? t("calendars.targetPrimary") : t("calendars.targetSecondary")];
  if (readOnly.length) {
    const names = readOnly.map((calendar) => calendar.name || calendar.id).join(", ");
    hintParts.push(t(readOnly.length === 1 ? "calendars.readOnlyOne" : "calendars.readOnlyMany", { names }));
  }
  const target = h(
    "div",
    { className: "field" },
    h("label", { for: selectId }, t("calendars.target")),
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
        part: "button button-primary",
        id: `${base}-save`,
        dataset: { testid: "save-calendars" },
        disabled: disabled || !changes || !choices.primary,
        onclick: () => actions.saveCalendars(connection),
      },
      saving ? t("calendars.saving") : t("calendars.save"),
    ),
    changes && !saving
      ? h(
          "button",
          {
            type: "button",
            className: "button",
            part: "button",
            id: `${base}-discard`,
            dataset: { testid: "discard-calendars" },
            disabled,
            onclick: () => actions.discardDraft(connection),
          },
          t("calendars.undo"),
        )
      : null,
    h(
      "span",
      { className: changes ? "dirty-note" : "hint", dataset: { testid: "calendars-dirty" } },
      saving ? "" : changes ? t("calendars.dirty") : t("calendars.clean"),
    ),
  );
  return [checks, target, save];
}
