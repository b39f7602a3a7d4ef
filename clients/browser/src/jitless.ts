/**
 * Imported first by the page: zod 4 compiles object schemas with `new Function()`, which a strict
 * Content-Security-Policy (no 'unsafe-eval') forbids. Jitless mode parses without it.
 */
import { z } from 'zod';

z.config({ jitless: true });
