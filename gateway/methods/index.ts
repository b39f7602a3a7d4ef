/** The v2 upstream: methods from descriptors, the proto3 JSON codec, generic gRPC calls. */
import { readFileSync } from 'node:fs';
import type { FileRegistry } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { registryFromDescriptors, registryFromProtoFiles } from './descriptors.js';
import { createMethodCatalog, type MethodCatalog } from './method-registry.js';
import { fetchReflectedDescriptors } from './reflection.js';

export * from './codec.js';
export * from './descriptors.js';
export * from './method-registry.js';

export interface MethodSourceOptions {
  /** .proto files to load. */
  readonly protoFiles: readonly string[];
  /** Also ask the core through server reflection. */
  readonly reflection: boolean;
  readonly target: string;
  readonly caFile?: string;
  readonly allow: readonly string[];
  readonly maxMessageBytes: number;
  readonly reflectionTimeoutMs?: number;
}

/** The method catalog from .proto files and/or the core's reflection (files first). */
export async function loadMethodCatalog(options: MethodSourceOptions): Promise<MethodCatalog> {
  const registries: FileRegistry[] = [];
  if (options.protoFiles.length > 0) registries.push(registryFromProtoFiles(options.protoFiles));
  if (options.reflection) {
    const credentials = options.caFile
      ? grpc.credentials.createSsl(readFileSync(options.caFile))
      : grpc.credentials.createInsecure();
    const files = await fetchReflectedDescriptors(
      options.target,
      credentials,
      options.reflectionTimeoutMs ?? 10_000,
    );
    registries.push(registryFromDescriptors(files));
  }
  return createMethodCatalog(registries, { allow: options.allow, maxMessageBytes: options.maxMessageBytes });
}
