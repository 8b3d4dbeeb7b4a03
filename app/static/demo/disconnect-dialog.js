// The "Disconnect this calendar?" confirmation: the modal <dialog> in settings.html, opened with
// showModal() so focus stays inside it and Escape cancels. "Keep it connected" gets the focus,
// so pressing Enter by habit never removes anything.

import { accountLabel } from "./connection-view.js";

export const dialog = document.getElementById("disconnect-dialog");

/**
 * Ask before disconnecting `connection`; `others` are the user's remaining connections, oldest
 * first (meetergo promotes the oldest when the primary one goes). Resolves true to go ahead.
 */
export function confirmDisconnect(connection, others) {
  const label = accountLabel(connection);
  document.getElementById("disconnect-title").textContent = `Disconnect ${label}?`;
  document.getElementById("disconnect-text").textContent =
    `Bookings will no longer check ${label}'s calendars for conflicts or add events to them. ` +
    "Events already created stay where they are. You can connect the account again at any time.";
  const note = document.getElementById("disconnect-primary-note");
  note.hidden = !connection.isPrimary;
  dialog.setAttribute("aria-describedby", note.hidden ? "disconnect-text" : "disconnect-text disconnect-primary-note");
  note.textContent = others.length
    ? `It is your primary account, so ${accountLabel(others[0])} will become primary instead.`
    : "It is your only connected account: bookings will not be added to any calendar until you connect one.";
  return new Promise((resolve) => {
    const confirm = document.getElementById("disconnect-confirm");
    const cancel = document.getElementById("disconnect-cancel");
    const finish = (value) => {
      confirm.removeEventListener("click", onConfirm);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("close", onClose);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const onConfirm = () => finish(true);
    const onCancel = () => finish(false);
    const onClose = () => finish(false); // Escape, or the browser closing it
    confirm.addEventListener("click", onConfirm);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("close", onClose);
    dialog.showModal();
    cancel.focus();
  });
}
