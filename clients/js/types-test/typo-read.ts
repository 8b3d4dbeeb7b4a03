// Must NOT compile: a typo'd field read from a typed write result (expects TS2551).
import { createCalendarClient } from "@meetergo/calendar-bff-client";

const calendar = createCalendarClient();
const updated = await calendar.setPrimaryConnection("abc");
const flag: boolean = updated.isPrimry;
export { flag };
