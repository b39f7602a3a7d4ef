/**
 * Services learnt from the core itself, through gRPC server reflection (grpc.reflection.v1
 * ServerReflectionInfo): list the services, then fetch the file of each and every file it imports.
 */

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { type FileDescriptorProto, FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const require = createRequire(import.meta.url);
const REFLECTION_PROTO = join(
  dirname(require.resolve('@grpc/reflection')),
  '../proto/grpc/reflection/v1/reflection.proto',
);

interface ReflectionResponse {
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

/** Every file descriptor the server at `target` reflects for its services (reflection itself excluded). */
export async function fetchReflectedDescriptors(
  target: string,
  credentials: grpc.ChannelCredentials,
  timeoutMs: number,
): Promise<FileDescriptorProto[]> {
  const definition = protoLoader.loadSync(REFLECTION_PROTO, {
    keepCase: true,
    longs: String,
    defaults: true,
    oneofs: true,
  });
  const Reflection = (
    grpc.loadPackageDefinition(definition) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
    }
  ).grpc.reflection.v1.ServerReflection;
  const client = new Reflection(target, credentials);
  try {
    const call = (
      client as unknown as {
        ServerReflectionInfo(o: grpc.CallOptions): grpc.ClientDuplexStream<object, ReflectionResponse>;
      }
    ).ServerReflectionInfo({ deadline: Date.now() + timeoutMs });
    const files = new Map<string, FileDescriptorProto>();
    const asked = new Set<string>();
    let pending = 0;
    const ask = (request: object) => {
      pending += 1;
      call.write(request);
    };
    return await new Promise<FileDescriptorProto[]>((resolve, reject) => {
      call.on('error', reject);
      call.on('data', (response: ReflectionResponse) => {
        pending -= 1;
        if (response.error_response) {
          call.cancel();
          return reject(new Error(`reflection: ${response.error_response.error_message}`));
        }
        for (const service of response.list_services_response?.service ?? [])
          if (!service.name.startsWith('grpc.reflection.')) ask({ file_containing_symbol: service.name });
        for (const bytes of response.file_descriptor_response?.file_descriptor_proto ?? []) {
          const file = fromBinary(FileDescriptorProtoSchema, bytes);
          if (files.has(file.name)) continue;
          files.set(file.name, file);
          for (const dependency of file.dependency)
            if (!files.has(dependency) && !asked.has(dependency)) {
              asked.add(dependency);
              ask({ file_by_filename: dependency });
            }
        }
        if (pending === 0) {
          call.end();
          resolve([...files.values()]);
        }
      });
      ask({ list_services: '' });
    });
  } finally {
    client.close();
  }
}
