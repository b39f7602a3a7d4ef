/**
 * A call's status in the page's words: its name and, when there is one, its message exactly as
 * the gateway sent it (the core's own words, e.g. why the note store refused a note), never
 * replaced by a guess at the cause.
 */
import type { CallStatus } from '../../lib/index.js';

export const statusText = (status: Pick<CallStatus, 'name' | 'message'>): string =>
  status.message ? `${status.name}: ${status.message}` : status.name;
