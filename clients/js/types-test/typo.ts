// Must NOT compile: a typo'd field name in a documented write (scripts/typecheck.mjs expects TS2561).
import { createCalendarClient } from "@meetergo/calendar-bff-client";

const calendar = createCalendarClient();
await calendar.updateConnection("abc", { selectedCalendar: ["primary"] });
