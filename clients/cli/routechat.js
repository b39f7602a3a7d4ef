#!/usr/bin/env node
// The `routechat` bin: runs the TypeScript CLI through tsx, so it works from a checkout without a build.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
