/**
 * Command-line + environment configuration, validated once with zod. Each program declares its
 * options as data; this module turns them into `--help`, a flag parser and a frozen, typed object.
 * Precedence: flag, then environment variable, then default.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';

export interface OptionSpec {
  /** Environment variable read when the flag is not given. */
  readonly env: string;
  readonly description: string;
  /** The default as a user would type it: --help shows it, and the schema parses it (`withDefaults`). */
  readonly default?: string;
  /** Instead of `default`: words for a default no flag value spells; the schema or program applies it. */
  readonly defaultNote?: string;
  /** `boolean` options are flags without a value, off unless given. */
  readonly type?: 'string' | 'boolean';
  /** May be given several times (values are comma-joined). */
  readonly multiple?: boolean;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'INVALID_CONFIG';
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** What --help and the docs show as an option's default. */
export const shownDefault = (spec: OptionSpec): string | undefined => spec.default ?? spec.defaultNote;

export function helpText(program: string, summary: string, specs: OptionSpecs): string {
  const lines = [`Usage: ${program} [options]`, '', summary, '', 'Options:'];
  for (const [flag, spec] of Object.entries(specs)) {
    const value = spec.type === 'boolean' ? '' : ' VALUE';
    const shown = shownDefault(spec);
    const dflt = shown === undefined ? '' : ` (default: ${shown})`;
    lines.push(`  --${flag}${value}`.padEnd(34) + `${spec.description}${dflt} [env ${spec.env}]`);
  }
  lines.push(`  --help`.padEnd(34) + 'Show this help and exit');
  return lines.join('\n');
}

/**
 * Reads raw string values for every option from argv and env. Returns `help: true` when --help
 * was asked for. Unknown flags and positional arguments are a ConfigError.
 */
export function readRawOptions(
  specs: OptionSpecs,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): { help: boolean; raw: Record<string, string | boolean | undefined> } {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {
    help: { type: 'boolean' },
  };
  for (const [flag, spec] of Object.entries(specs)) {
    options[flag] = { type: spec.type ?? 'string', ...(spec.multiple ? { multiple: true } : {}) };
  }
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }));
  } catch (error) {
    // parseArgs explains over several lines; the first one says what is wrong.
    throw new ConfigError(
      (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? 'invalid arguments',
    );
  }
  const raw: Record<string, string | boolean | undefined> = {};
  for (const [flag, spec] of Object.entries(specs)) {
    const fromFlag = values[flag];
    if (Array.isArray(fromFlag)) raw[flag] = fromFlag.join(',');
    else if (typeof fromFlag === 'string' || typeof fromFlag === 'boolean') raw[flag] = fromFlag;
    else {
      const fromEnv = env[spec.env];
      if (fromEnv !== undefined && fromEnv !== '') {
        raw[flag] = spec.type === 'boolean' ? /^(1|true|yes|on)$/i.test(fromEnv) : fromEnv;
      }
    }
  }
  return { help: values.help === true, raw };
}

/**
 * `raw` plus each absent option's default text (boolean flags: off), for the schema to parse like a
 * flag's value: --help then shows what applies, and a default its schema refuses fails a test.
 */
export function withDefaults(specs: OptionSpecs, raw: Record<string, unknown>): Record<string, unknown> {
  const filled = { ...raw };
  for (const [flag, spec] of Object.entries(specs)) {
    const fallback = spec.default ?? (spec.type === 'boolean' ? false : undefined);
    if (filled[flag] === undefined && fallback !== undefined) filled[flag] = fallback;
  }
  return filled;
}

/** Validates raw values and defaults; the first problem becomes a one-line ConfigError naming the flag. */
export function parseOptions<S extends z.ZodType>(
  schema: S,
  raw: Record<string, unknown>,
  specs: OptionSpecs,
): Readonly<z.output<S>> {
  const result = schema.safeParse(withDefaults(specs, raw));
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = String(issue?.path[0] ?? '');
    const spec = specs[key];
    const where = spec ? `--${key} (${spec.env})` : key || 'configuration';
    throw new ConfigError(`invalid ${where}: ${issue?.message ?? 'invalid value'}`);
  }
  return Object.freeze(result.data);
}

/** `HOST:PORT`, with `[v6]:PORT` for IPv6. Port 0 asks the OS for a free port. */
export const hostPort = z.string().transform((value, ctx) => {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value.trim());
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65535) {
    ctx.addIssue({ code: 'custom', message: `expected HOST:PORT, got "${value}"` });
    return z.NEVER;
  }
  return { host: (match[1] ?? match[2]) as string, port };
});

export type HostPort = z.output<typeof hostPort>;

export const formatHostPort = ({ host, port }: HostPort): string =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;

/** A positive integer from a flag or env string. */
export const positiveInt = z.coerce.number().int().positive();
export const nonNegativeInt = z.coerce.number().int().nonnegative();

/** Human byte sizes: `65536`, `64KiB`, `1MiB`. */
export const byteSize = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const match = /^\s*(\d+)\s*(b|kib|kb|k|mib|mb|m|gib|gb|g)?\s*$/i.exec(String(value));
  if (!match) {
    ctx.addIssue({ code: 'custom', message: `expected a size such as 65536, 64KiB or 1MiB, got "${value}"` });
    return z.NEVER;
  }
  const unit = (match[2] ?? 'b').toLowerCase()[0];
  const factor = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return Number(match[1]) * factor;
});

/** Durations: `500ms`, `30s`, `2m`, or a bare number of milliseconds. */
export const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(String(value));
  if (!match) {
    ctx.addIssue({ code: 'custom', message: `expected a duration such as 500ms, 30s or 2m, got "${value}"` });
    return z.NEVER;
  }
  const unit = (match[2] ?? 'ms').toLowerCase();
  const factor = unit === 's' ? 1000 : unit === 'm' ? 60_000 : unit === 'h' ? 3_600_000 : 1;
  return Math.round(Number(match[1]) * factor);
});

/** Comma-separated list. */
export const csv = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0),
);

/** A gRPC message size limit (grpc-js takes an int32). */
export const grpcMessageSize = byteSize.pipe(
  z
    .number()
    .int()
    .min(1024)
    .max(2 ** 31 - 1),
);

/** pino levels. */
export const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** An optional listener's address (`HOST:PORT`), or `off`. */
export const hostPortOrOff = z.union([z.literal('off'), hostPort]);
