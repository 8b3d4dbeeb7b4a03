export type Locale = "en" | "de";
export type Catalogue = Readonly<Record<string, string>>;
export declare const CATALOGUES: Readonly<Record<Locale, Catalogue>>;
export declare const DEFAULT_LOCALE: "en";
export declare function resolveLocale(...candidates: (string | null | undefined)[]): Locale;
export declare function createTranslator(
  locale: string | null | undefined,
): (key: string, values?: Record<string, string | number>) => string;
