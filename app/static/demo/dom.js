// The demo pages build elements with the client package's builder (text as text nodes, never as
// HTML), served by the service at /sdk/v1; only what the package does not need is here.
import { h } from "/sdk/v1/dom.js";

export { h };

/** A <time> element for an ISO instant: the time only when it is today, else date and time. */
export function timeElement(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return document.createTextNode("unknown");
  const sameDay = when.toDateString() === new Date().toDateString();
  const locale = document.documentElement.lang || undefined; // the page's language
  const format = new Intl.DateTimeFormat(
    locale,
    sameDay ? { hour: "2-digit", minute: "2-digit" } : { dateStyle: "medium", timeStyle: "short" },
  );
  return h("time", { datetime: when.toISOString() }, format.format(when));
}
