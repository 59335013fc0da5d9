// Money in its own currency (from integer minor units), dates in the user's time zone, both in the user's locale.

const fractionCache = new Map<string, number>();

export function fractionDigits(currency: string): number {
  let digits = fractionCache.get(currency);
  if (digits === undefined) {
    digits = new Intl.NumberFormat(undefined, { style: "currency", currency }).resolvedOptions()
      .maximumFractionDigits ?? 2;
    fractionCache.set(currency, digits);
  }
  return digits;
}

/** Minor units as a major-unit number (for charts). */
export function major(minor: number, currency: string): number {
  return minor / 10 ** fractionDigits(currency);
}

export function money(minor: number | null | undefined, currency: string | null | undefined): string {
  if (minor === null || minor === undefined) return "—";
  if (!currency) return String(minor);
  return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(major(minor, currency));
}

export function num(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined) return "—";
  return new Intl.NumberFormat(undefined, { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(
    value,
  );
}

export function percent(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  return `${num(value, 2)} %`;
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = value;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  return `${num(v, i === 0 ? 0 : 2)} ${units[i]}`;
}

/** Today's date in UTC (YYYY-MM-DD): the reports' `as_of` days are UTC days. */
export function todayUtc(): string {
  return new Date().toISOString().slice(0, 10);
}
