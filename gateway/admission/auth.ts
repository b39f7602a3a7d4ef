/**
 * Optional authentication at the gateway, before the upgrade: static bearer tokens and/or JWTs
 * verified with `jose`. Without any configured, the caller's token is passed through and the core
 * decides.
 */
import { createHash, createPublicKey, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errors as joseErrors, jwtVerify } from 'jose';

export type AuthResult =
  | { readonly ok: true; readonly subject?: string }
  | { readonly ok: false; readonly reason: string };
export type Authenticator = (token: string | undefined) => Promise<AuthResult>;

const digest = (value: string) => createHash('sha256').update(value).digest();

/** The settings authentication reads (config.ts's flags of the same names). */
export interface AuthSettings {
  readonly 'auth-tokens'?: readonly string[] | undefined;
  readonly 'auth-tokens-file'?: string | undefined;
  readonly 'jwt-key'?: string | undefined;
  readonly 'jwt-secret'?: string | undefined;
  readonly 'jwt-issuer'?: string | undefined;
  readonly 'jwt-audience'?: string | undefined;
}

export function createAuthenticator(config: AuthSettings): Authenticator | undefined {
  const staticTokens = [
    ...(config['auth-tokens'] ?? []),
    ...(config['auth-tokens-file']
      ? readFileSync(config['auth-tokens-file'], 'utf8')
          .split('\n')
          .map((line) => line.trim())
          .filter((line) => line.length > 0 && !line.startsWith('#'))
      : []),
  ].map(digest);
  const jwtKey = config['jwt-key']
    ? {
        key: createPublicKey(readFileSync(config['jwt-key'])),
        algorithms: [
          'RS256',
          'RS384',
          'RS512',
          'PS256',
          'PS384',
          'PS512',
          'ES256',
          'ES384',
          'ES512',
          'EdDSA',
        ],
      }
    : config['jwt-secret']
      ? { key: new TextEncoder().encode(config['jwt-secret']), algorithms: ['HS256', 'HS384', 'HS512'] }
      : undefined;
  if (staticTokens.length === 0 && !jwtKey) return undefined;

  return async (token) => {
    if (!token) return { ok: false, reason: 'missing bearer token' };
    // Compare digests in constant time, so a token cannot be guessed byte by byte from timings.
    const given = digest(token);
    if (staticTokens.some((known) => timingSafeEqual(known, given))) return { ok: true };
    if (!jwtKey) return { ok: false, reason: 'unknown token' };
    try {
      const { payload } = await jwtVerify(token, jwtKey.key, {
        algorithms: jwtKey.algorithms,
        ...(config['jwt-issuer'] ? { issuer: config['jwt-issuer'] } : {}),
        ...(config['jwt-audience'] ? { audience: config['jwt-audience'] } : {}),
      });
      return payload.sub === undefined ? { ok: true } : { ok: true, subject: payload.sub };
    } catch (error) {
      const reason = error instanceof joseErrors.JOSEError ? error.code : 'invalid token';
      return { ok: false, reason };
    }
  };
}
