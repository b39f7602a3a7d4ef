/**
 * What `import { z } from 'zod'` means in the browser bundle (an esbuild alias; Node and tsc use
 * zod itself). zod's `z` namespace also carries its 40+ locales and JSON-schema tooling, which a
 * bundler cannot drop (~400 KiB); named imports can be tree-shaken. The build checks that every
 * `z.<member>` the bundled sources use is listed here.
 */
import {
  array,
  boolean,
  config,
  discriminatedUnion,
  enum as enumSchema,
  literal,
  NEVER,
  null as nullSchema,
  number,
  object,
  preprocess,
  record,
  strictObject,
  string,
  union,
  unknown,
} from 'zod/v4';

export const z = {
  array,
  boolean,
  config,
  discriminatedUnion,
  enum: enumSchema,
  literal,
  NEVER,
  null: nullSchema,
  number,
  object,
  preprocess,
  record,
  strictObject,
  string,
  union,
  unknown,
};
