// The demo app's own texts (its header, intro and sign-in page) in English and German. The
// calendar settings element brings its own catalogues; it follows the page's lang attribute.
// Choosing a language: ?lang=de|en, else the last choice (localStorage), else the browser's.

const TEXTS = {
  en: {
    "app.demo": "(demo app)",
    "lang.label": "Language",
    "settings.title": "Calendar settings · Acme Workspace (calendar demo)",
    "settings.skip": "Skip to the calendar settings",
    "settings.heading": "Calendar settings",
    "settings.lead": "Connect the calendar you already use, and bookings made with you will respect it:",
    "settings.benefit1": "times that are busy in your calendar cannot be booked;",
    "settings.benefit2": "each new booking is added to your calendar as an event;",
    "settings.benefit3": "if you decline or delete that event, the booking can be cancelled for you.",
    "settings.signedInAs": "Signed in as",
    "settings.notSignedIn": "Not signed in",
    "settings.goToSignIn": "Go to sign-in",
    "settings.sessionEnds": "Session ends {idle} if idle (at the latest {absolute})",
    "settings.signOut": "Sign out",
    "settings.signingOut": "Signing out…",
    "settings.signOutFailed": "Signing out did not work. Try again.",
    "noscript": "This demo needs JavaScript.",
    "login.title": "Sign in · Acme Workspace (calendar demo)",
    "login.skip": "Skip to the sign-in options",
    "login.heading": "Sign in to the demo app",
    "login.lead": "This page stands in for your company's web app. Pick a person to sign in as, then manage their calendar connections on the settings page.",
    "login.currentHeading": "Already signed in",
    "login.currentText": "This browser has a session for",
    "login.continueAs": "Continue as {name}",
    "login.continue": "Continue",
    "login.peopleHeading": "Choose a demo user",
    "login.peopleHint": "Each button signs in as that person; any session you have is replaced.",
    "login.signInAs": "Sign in as",
    "login.aboutAlice": "Has a meetergo account (an administrator) and no calendars yet: connect Google or Microsoft 365 and configure it.",
    "login.aboutBob": "An ordinary member with his own meetergo account: his calendars are separate from Alice's.",
    "login.nameDave": "Dave (no meetergo account)",
    "login.aboutDave": "Can use the app but has no meetergo account, so the settings page explains why he cannot connect a calendar.",
    "login.ticketHeading": "What is a login ticket?",
    "login.ticketText": "A short-lived, single-use pass that the app's own backend signs for the person already signed in to the app. The browser exchanges it once for a calendar session with this service, so the meetergo API key never reaches the browser.",
    "login.ticketSmall": "In this demo the service plays the app's backend and mints tickets for the three people above; a real deployment has no such endpoint.",
    "login.signingIn": "Signing in as {name}…",
    "login.signedOut": "You are signed out. Choose a person to sign in again.",
  },
  de: {
    "app.demo": "(Demo-App)",
    "lang.label": "Sprache",
    "settings.title": "Kalendereinstellungen · Acme Workspace (Kalender-Demo)",
    "settings.skip": "Zu den Kalendereinstellungen springen",
    "settings.heading": "Kalendereinstellungen",
    "settings.lead": "Verbinden Sie den Kalender, den Sie schon nutzen, und Buchungen bei Ihnen richten sich danach:",
    "settings.benefit1": "Zeiten, die in Ihrem Kalender belegt sind, können nicht gebucht werden;",
    "settings.benefit2": "jede neue Buchung wird als Termin in Ihren Kalender eingetragen;",
    "settings.benefit3": "wenn Sie diesen Termin ablehnen oder löschen, kann die Buchung für Sie storniert werden.",
    "settings.signedInAs": "Angemeldet als",
    "settings.notSignedIn": "Nicht angemeldet",
    "settings.goToSignIn": "Zur Anmeldung",
    "settings.sessionEnds": "Sitzung endet {idle} bei Inaktivität (spätestens {absolute})",
    "settings.signOut": "Abmelden",
    "settings.signingOut": "Wird abgemeldet…",
    "settings.signOutFailed": "Die Abmeldung hat nicht geklappt. Versuchen Sie es erneut.",
    "noscript": "Diese Demo braucht JavaScript.",
    "login.title": "Anmelden · Acme Workspace (Kalender-Demo)",
    "login.skip": "Zu den Anmeldeoptionen springen",
    "login.heading": "Bei der Demo-App anmelden",
    "login.lead": "Diese Seite steht für die Web-App Ihres Unternehmens. Wählen Sie eine Person, als die Sie sich anmelden, und verwalten Sie dann deren Kalenderverbindungen auf der Einstellungsseite.",
    "login.currentHeading": "Bereits angemeldet",
    "login.currentText": "Dieser Browser hat eine Sitzung für",
    "login.continueAs": "Weiter als {name}",
    "login.continue": "Weiter",
    "login.peopleHeading": "Demo-Person wählen",
    "login.peopleHint": "Jede Schaltfläche meldet Sie als diese Person an; eine bestehende Sitzung wird ersetzt.",
    "login.signInAs": "Anmelden als",
    "login.aboutAlice": "Hat ein meetergo-Konto (Administratorin) und noch keine Kalender: Verbinden Sie Google oder Microsoft 365 und richten Sie ihn ein.",
    "login.aboutBob": "Ein gewöhnliches Mitglied mit eigenem meetergo-Konto: Seine Kalender sind von Alices getrennt.",
    "login.nameDave": "Dave (kein meetergo-Konto)",
    "login.aboutDave": "Kann die App nutzen, hat aber kein meetergo-Konto; die Einstellungsseite erklärt, warum er keinen Kalender verbinden kann.",
    "login.ticketHeading": "Was ist ein Anmeldeticket?",
    "login.ticketText": "Ein kurzlebiger Einmal-Pass, den das Backend der App für die dort bereits angemeldete Person signiert. Der Browser tauscht ihn einmal gegen eine Kalendersitzung bei diesem Dienst, so erreicht der meetergo-API-Schlüssel nie den Browser.",
    "login.ticketSmall": "In dieser Demo spielt der Dienst das Backend der App und stellt Tickets für die drei Personen oben aus; ein echter Betrieb hat keinen solchen Endpunkt.",
    "login.signingIn": "Anmeldung als {name}…",
    "login.signedOut": "Sie sind abgemeldet. Wählen Sie eine Person, um sich erneut anzumelden.",
  },
};

export const LANGUAGES = Object.freeze(Object.keys(TEXTS));
export const DEMO_TEXTS = TEXTS;
const STORAGE_KEY = "meetergo-calendar-demo-lang";

function supported(value) {
  const base = String(value || "").toLowerCase().split("-")[0];
  return LANGUAGES.includes(base) ? base : null;
}

export function chosenLanguage() {
  const fromUrl = supported(new URLSearchParams(window.location.search).get("lang"));
  if (fromUrl) return fromUrl;
  let stored = null;
  try {
    stored = supported(window.localStorage.getItem(STORAGE_KEY));
  } catch {
    // storage may be blocked: fall through to the browser's language
  }
  return stored || supported(navigator.language) || "en";
}

export function t(key, values = {}) {
  const language = supported(document.documentElement.lang) || "en";
  const text = TEXTS[language][key] ?? TEXTS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in values ? String(values[name]) : match));
}

/** Put the language on <html> (the settings element follows it) and fill every data-i18n element. */
export function applyLanguage(language) {
  document.documentElement.lang = language;
  for (const element of document.querySelectorAll("[data-i18n]")) element.textContent = t(element.dataset.i18n);
  const title = document.querySelector("[data-i18n-title]");
  if (title) document.title = t(title.dataset.i18nTitle);
  for (const select of document.querySelectorAll("select[data-language-switch]")) select.value = language;
}

/** Wire the language <select>: a change applies at once and is remembered. */
export function setUpLanguageSwitch(onChange = () => {}) {
  applyLanguage(chosenLanguage());
  for (const select of document.querySelectorAll("select[data-language-switch]")) {
    select.addEventListener("change", () => {
      try {
        window.localStorage.setItem(STORAGE_KEY, select.value);
      } catch {
        // not remembered, still applied
      }
      applyLanguage(select.value);
      onChange(select.value);
    });
  }
}
