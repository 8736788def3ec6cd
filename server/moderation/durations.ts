/**
 * How long a ban or a mute lasts: read from what a moderator typed (`10m`, `2h`, `7d`), and said
 * back in notices ("for 2h") and refusals ("1 h 59 min more").
 */

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
/** The longest a ban or mute may be given for; longer is "until lifted", which needs no number. */
const LONGEST_MS = 5 * 365 * UNIT_MS.d;

/** `10m` as milliseconds, or a problem to tell the moderator. */
export function parseDuration(text: string): number | { problem: string } {
  const match = /^(\d{1,6})([smhdw])$/i.exec(text);
  const ms = match ? Number(match[1]) * UNIT_MS[match[2]!.toLowerCase() as keyof typeof UNIT_MS] : Number.NaN;
  if (!(ms > 0) || ms > LONGEST_MS)
    return {
      problem: `A duration is a number and a unit, s, m, h, d or w (e.g. 10m, 2h, 7d), up to 5 years; not '${text}'.`,
    };
  return ms;
}

/** " for 2h" as typed, or "" for one until lifted: the words a notice puts after the action. */
export function forHowLong(duration: string | undefined): string {
  return duration ? ` for ${duration.toLowerCase()}` : "";
}

/** "2 h 5 min", "40 s": how long is left until `until` (ms since the epoch), rounded up. */
export function timeLeft(until: number, now: number): string {
  const seconds = Math.max(1, Math.ceil((until - now) / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const [hours, rest] = [Math.floor(minutes / 60), minutes % 60];
  if (hours < 48) return rest ? `${hours} h ${rest} min` : `${hours} h`;
  return `${Math.ceil(hours / 24)} days`;
}
