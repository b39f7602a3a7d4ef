/**
 * A message from the gateway, read as one frame of the contract (v1's or v2's schema): the text,
 * parsed and checked. Anything else (binary data, bad JSON, a frame the schema refuses) is
 * `undefined`: the caller ends the stream as a protocol fault.
 */
import type { z } from 'zod';

export function readServerFrame<T>(schema: z.ZodType<T>, data: unknown): T | undefined {
  if (typeof data !== 'string') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return undefined;
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}
