#!/usr/bin/env node
// The `routechat` bin: the compiled CLI (built by `npm run build:client`, which `prepare` runs on
// `npm ci`, `npm install` and `npm pack`). In a checkout that was never built, the TypeScript
// through tsx, a devDependency.
const compiled = new URL('../../dist/clients/cli/main.js', import.meta.url);
try {
  await import(compiled.href);
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('dist/clients/cli/main.js')) {
    throw error;
  }
  const { register } = await import('tsx/esm/api');
  register();
  await import('./main.ts');
}
