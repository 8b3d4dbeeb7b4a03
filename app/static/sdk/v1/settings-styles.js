// The styles of <meetergo-calendar-settings> (started from the demo stylesheet; this is now the source).
export const STYLES = `
/* The element's own styles (a constructed stylesheet, so a strict CSP needs no 'unsafe-inline').
   Theme it from outside with the --mcs-* custom properties on the element, and ::part(...).
   The short names (--_mcs-ink, ...) are private: prefixed, so a page's own --brand or --ink can
   neither leak in nor form a cycle with a theme value such as --mcs-color-accent: var(--brand). */
:host {
  --_mcs-ink: var(--mcs-color-text, #1d2433);
  --_mcs-muted: var(--mcs-color-muted, #485264);
  --_mcs-line: var(--mcs-color-border, #c9ced8);
  --_mcs-line-soft: var(--mcs-color-border-soft, #e3e6eb);
  --_mcs-page: var(--mcs-color-background, #f4f5f7);
  --_mcs-card: var(--mcs-color-surface, #ffffff);
  --_mcs-brand: var(--mcs-color-accent, #1d4ed8);
  --_mcs-brand-dark: var(--mcs-color-accent-strong, #1e3a8a);
  --_mcs-brand-soft: var(--mcs-color-accent-soft, #e8eefc);
  --_mcs-ok: var(--mcs-color-success, #136c2e);
  --_mcs-ok-soft: var(--mcs-color-success-soft, #e5f3e9);
  --_mcs-danger: var(--mcs-color-danger, #a8231a);
  --_mcs-danger-soft: var(--mcs-color-danger-soft, #fbe9e7);
  --_mcs-warn: var(--mcs-color-warning, #7a4100);
  --_mcs-warn-soft: var(--mcs-color-warning-soft, #fff2de);
  --_mcs-focus: var(--mcs-color-focus, #1d4ed8);
  --_mcs-google: var(--mcs-color-google, #1a73e8);
  --_mcs-microsoft: var(--mcs-color-microsoft, #0067b8);
  --_mcs-radius: var(--mcs-radius, 10px);
  display: block;
  container: settings / inline-size;
  color: var(--_mcs-ink);
  font: var(--mcs-font, 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif);
  overflow-wrap: anywhere;
}

:host([hidden]) {
  display: none;
}

*,
*::before,
*::after {
  box-sizing: border-box;
}

h2 {
  font-size: 1.25rem;
}

h3 {
  font-size: 1.125rem;
}

h4 {
  font-size: 1rem;
}

p {
  margin: 0;
}

a {
  color: var(--_mcs-brand);
}

a:hover {
  color: var(--_mcs-brand-dark);
}

code {
  font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: 0.9em;
}

:focus-visible {
  outline: 3px solid var(--_mcs-focus);
  outline-offset: 2px;
}

[hidden] {
  display: none !important;
}

.visually-hidden {
  position: absolute !important;
  width: 1px;
  height: 1px;
  margin: -1px;
  padding: 0;
  overflow: hidden;
  clip: rect(0 0 0 0);
  white-space: nowrap;
  border: 0;
}

.stack {
  display: flex;
  flex-direction: column;
  gap: 0.625rem;
}

.section-head {
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  justify-content: space-between;
  gap: 0.5rem;
}

.button,
button {
  font: inherit;
}

.button {
  display: inline-flex;
  align-items: center;
  justify-content: center;
  gap: 0.375rem;
  min-height: 2.5rem;
  padding: 0.5rem 1rem;
  border: 1px solid var(--_mcs-line);
  border-radius: 8px;
  background: var(--_mcs-card);
  color: var(--_mcs-ink);
  font-weight: 600;
  text-decoration: none;
  cursor: pointer;
}

.button:hover {
  background: #eef0f3;
  color: var(--_mcs-ink);
}

.button-primary {
  background: var(--_mcs-brand);
  border-color: var(--_mcs-brand);
  color: #fff;
}

.button-primary:hover {
  background: var(--_mcs-brand-dark);
  border-color: var(--_mcs-brand-dark);
  color: #fff;
}

.button-danger {
  background: var(--_mcs-danger);
  border-color: var(--_mcs-danger);
  color: #fff;
}

.button-danger:hover {
  background: #861b14;
  border-color: #861b14;
}

.button-danger-outline {
  color: var(--_mcs-danger);
  border-color: #d9a19c;
}

.button-danger-outline:hover {
  background: var(--_mcs-danger-soft);
  color: var(--_mcs-danger);
}

.button:disabled,
.button[aria-disabled="true"] {
  background: #e9ebef;
  border-color: #d3d7de;
  color: #5b6474;
  cursor: not-allowed;
}

.button-quiet {
  background: none;
  border: 0;
  padding: 0.25rem 0.5rem;
  border-radius: 6px;
  color: var(--_mcs-brand);
  text-decoration: underline;
  cursor: pointer;
}

.button-quiet:hover {
  color: var(--_mcs-brand-dark);
}

.button-quiet:disabled {
  color: var(--_mcs-muted);
  text-decoration: none;
  cursor: not-allowed;
}

.button-row {
  display: flex;
  flex-wrap: wrap;
  gap: 0.5rem;
  align-items: center;
}

.notice {
  display: grid;
  grid-template-columns: 1fr auto;
  gap: 0.5rem 0.75rem;
  align-items: start;
  border-radius: var(--_mcs-radius);
  border: 1px solid var(--_mcs-line);
  border-left-width: 6px;
  background: var(--_mcs-card);
  padding: 0.875rem 1rem;
}

.notice[data-kind="error"] {
  border-color: #e2aaa5;
  border-left-color: var(--_mcs-danger);
  background: var(--_mcs-danger-soft);
}

.notice[data-kind="success"] {
  border-color: #a9d3b5;
  border-left-color: var(--_mcs-ok);
  background: var(--_mcs-ok-soft);
}

.notice[data-kind="info"] {
  border-color: #b8c7f0;
  border-left-color: var(--_mcs-brand);
  background: var(--_mcs-brand-soft);
}

.notice-body {
  display: flex;
  flex-direction: column;
  gap: 0.25rem;
  grid-column: 1;
}

.notice-text {
  font-weight: 600;
}

.notice-detail,
.notice-reference {
  font-size: 0.875rem;
  color: var(--_mcs-muted);
}

.notice-actions {
  grid-column: 1;
  display: flex;
  flex-wrap: wrap;
  gap: 0.5rem;
}

.notice-dismiss {
  grid-column: 2;
  grid-row: 1;
  font-size: 0.875rem;
}

.providers {
  display: flex;
  flex-direction: column;
  gap: 1rem;
}

.provider {
  background: var(--_mcs-card);
  border: 1px solid var(--_mcs-line);
  border-radius: var(--_mcs-radius);
  overflow: hidden;
}

.provider-head {
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  gap: 0.75rem 1rem;
  padding: 1rem;
}

.provider-mark {
  flex: none;
  width: 2.5rem;
  height: 2.5rem;
  border-radius: 8px;
  display: grid;
  place-items: center;
  color: #fff;
  font-weight: 700;
  font-size: 1.125rem;
}

.provider-google .provider-mark {
  background: var(--_mcs-google);
}

.provider-outlook .provider-mark {
  background: var(--_mcs-microsoft);
}

.provider-other .provider-mark {
  background: #4b5563;
}

.provider-title {
  flex: 1 1 12rem;
  display: flex;
  flex-direction: column;
  gap: 0.125rem;
  min-width: 0;
}

.provider-accounts {
  color: var(--_mcs-muted);
  font-size: 0.9375rem;
}

.provider-actions {
  display: flex;
  flex-wrap: wrap;
  gap: 0.5rem;
}

.status {
  display: inline-flex;
  align-items: center;
  gap: 0.375rem;
  font-size: 0.875rem;
  font-weight: 600;
}

.status::before {
  content: "";
  width: 0.625rem;
  height: 0.625rem;
  border-radius: 50%;
  background: #8a93a3;
}

.status[data-status="connected"] {
  color: var(--_mcs-ok);
}

.status[data-status="connected"]::before {
  background: var(--_mcs-ok);
}

.status[data-status="attention"] {
  color: var(--_mcs-warn);
}

.status[data-status="attention"]::before {
  background: #c26a00;
}

.status[data-status="none"] {
  color: var(--_mcs-muted);
}

.badge {
  display: inline-block;
  padding: 0.0625rem 0.5rem;
  border-radius: 999px;
  font-size: 0.75rem;
  font-weight: 700;
  letter-spacing: 0.02em;
  text-transform: uppercase;
  vertical-align: middle;
}

.badge-primary {
  background: var(--_mcs-brand-soft);
  color: var(--_mcs-brand-dark);
  border: 1px solid #b8c7f0;
}

.badge-warn {
  background: var(--_mcs-warn-soft);
  color: var(--_mcs-warn);
  border: 1px solid #f0c98f;
}

.provider-empty,
.provider-loading {
  padding: 0 1rem 1rem;
  color: var(--_mcs-muted);
}

.connections {
  list-style: none;
  margin: 0;
  padding: 0;
}

.connection {
  border-top: 1px solid var(--_mcs-line-soft);
  padding: 1rem;
  display: flex;
  flex-direction: column;
  gap: 1rem;
}

.connection-head {
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  justify-content: space-between;
  gap: 0.5rem 1rem;
}

.connection-title {
  flex: 1 1 18rem;
  display: flex;
  flex-direction: column;
  gap: 0.25rem;
  min-width: 0;
}

.connection-title h4 {
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  gap: 0.5rem;
}

.connection-note {
  font-size: 0.875rem;
  color: var(--_mcs-muted);
}

.settings-group {
  border: 1px solid var(--_mcs-line-soft);
  border-radius: 8px;
  margin: 0;
  padding: 0.75rem 1rem 1rem;
  min-width: 0;
}

.settings-group .settings-group {
  border: 0;
  padding: 0;
  margin-top: 0.25rem;
}

.settings-group .settings-group legend {
  padding: 0;
  margin-bottom: 0.25rem;
}

.settings-group legend {
  font-weight: 700;
  padding: 0 0.25rem;
}

.settings-group > .hint {
  margin-bottom: 0.5rem;
}

.hint {
  font-size: 0.875rem;
  color: var(--_mcs-muted);
}

.hint-warn {
  color: var(--_mcs-warn);
}

.toggle {
  display: grid;
  grid-template-columns: auto 1fr;
  gap: 0.125rem 0.75rem;
  align-items: start;
  padding: 0.5rem 0;
}

.toggle + .toggle {
  border-top: 1px solid var(--_mcs-line-soft);
}

.toggle label {
  font-weight: 600;
  cursor: pointer;
}

.toggle .hint {
  grid-column: 2;
}

.toggle-state {
  grid-column: 2;
  font-size: 0.8125rem;
  font-weight: 600;
  color: var(--_mcs-muted);
}

input.switch {
  appearance: none;
  -webkit-appearance: none;
  grid-row: 1 / span 3;
  position: relative;
  width: 2.75rem;
  height: 1.5rem;
  margin: 0;
  border-radius: 999px;
  border: 2px solid #6b7384;
  background: #6b7384;
  cursor: pointer;
  transition: background 0.15s ease;
}

input.switch::after {
  content: "";
  position: absolute;
  top: 0.125rem;
  left: 0.125rem;
  width: 1rem;
  height: 1rem;
  border-radius: 50%;
  background: #fff;
  transition: transform 0.15s ease;
}

input.switch:checked {
  background: var(--_mcs-brand);
  border-color: var(--_mcs-brand);
}

input.switch:checked::after {
  transform: translateX(1.25rem);
}

input.switch:disabled {
  opacity: 0.55;
  cursor: progress;
}

@media (prefers-reduced-motion: reduce) {
  input.switch,
  input.switch::after {
    transition: none;
  }
}

.calendar-list {
  list-style: none;
  margin: 0;
  padding: 0;
}

.calendar-option {
  display: grid;
  grid-template-columns: auto 1fr;
  gap: 0 0.625rem;
  align-items: start;
  padding: 0.375rem 0;
}

.calendar-option input {
  width: 1.25rem;
  height: 1.25rem;
  margin: 0.125rem 0 0;
  accent-color: var(--_mcs-brand);
  cursor: pointer;
}

.calendar-option label {
  cursor: pointer;
}

.calendar-option .hint {
  grid-column: 2;
}

.field {
  display: flex;
  flex-direction: column;
  gap: 0.375rem;
  margin-top: 1rem;
}

.field label {
  font-weight: 700;
}

select {
  font: inherit;
  color: var(--_mcs-ink);
  min-height: 2.5rem;
  width: min(100%, 26rem);
  padding: 0.375rem 0.5rem;
  border: 1px solid #6b7384;
  border-radius: 8px;
  background: var(--_mcs-card);
}

.save-row {
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  gap: 0.5rem 0.75rem;
  margin-top: 1rem;
}

.dirty-note {
  font-size: 0.875rem;
  color: var(--_mcs-warn);
  font-weight: 600;
}

.inline-error {
  display: flex;
  flex-wrap: wrap;
  gap: 0.5rem;
  align-items: center;
  color: var(--_mcs-danger);
  font-size: 0.9375rem;
}

.loading-text::after {
  content: "…";
}

dialog {
  width: min(28rem, calc(100vw - 2rem));
  border: 1px solid var(--_mcs-line);
  border-radius: var(--_mcs-radius);
  padding: 1.25rem;
  color: var(--_mcs-ink);
  box-shadow: 0 12px 40px rgba(15, 23, 42, 0.25);
}

dialog::backdrop {
  background: rgba(15, 23, 42, 0.55);
}

.dialog-body {
  display: flex;
  flex-direction: column;
  gap: 0.75rem;
}

.dialog-actions {
  display: flex;
  flex-wrap: wrap;
  justify-content: flex-end;
  gap: 0.5rem;
  margin-top: 0.5rem;
}

@container settings (max-width: 30rem) {

  .provider-actions,
  .provider-actions .button,
  .connection-head .button-row,
  .connection-head .button-row .button {
    width: 100%;
  }

  .dialog-actions .button {
    flex: 1 1 auto;
  }

  select {
    width: 100%;
  }

  .provider-head,
  .connection {
    padding: 0.875rem 0.75rem;
  }

  .settings-group {
    padding: 0.5rem 0.75rem 0.75rem;
  }
}
`;
