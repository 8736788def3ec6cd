/**
 * How the HTTP API answers: JSON, and every refusal as `{"error":{"code","message"}}` with the code
 * of the one table the WebSocket's errors use (common/codes.ts), whose status it has.
 */
import { ERROR_CODES, type ErrorCode } from "../../common/codes";
import { escapeControls } from "../../common/text";

const NO_STORE = { "Cache-Control": "no-store" };

export function jsonAnswer(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return Response.json(body, { status, headers: { ...NO_STORE, ...headers } });
}

/** A refusal: its code's status, and one sentence saying what went wrong and what to do. */
export function apiError(code: ErrorCode, message: string, headers: Record<string, string> = {}): Response {
  // A message may quote what the caller sent (a room's name): escaped, as the WebSocket's are.
  return jsonAnswer({ error: { code, message: escapeControls(message) } }, ERROR_CODES[code].status, headers);
}

/** A 429 with the seconds to wait, at least one. */
export function tooFast(message: string, waitMs: number): Response {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return apiError("rate-limited", `${message} Try again in ${seconds} s.`, { "Retry-After": String(seconds) });
}
