/** Connect-ES helpers for tests: a service the gateway does not know, and note/feature shapes. */
import { create, createFileRegistry, type DescService } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { file_route_guide } from '../../proto/es/route_guide_pb.js';

/**
 * `routeguide.Unlisted/GetFeature(Point) returns (Feature)`: a unary method no core serves and no
 * gateway catalog lists, built at run time from a descriptor (what a client with a newer .proto has).
 */
export function unlistedService(): DescService {
  const file = create(FileDescriptorProtoSchema, {
    name: 'unlisted.proto',
    package: 'routeguide',
    syntax: 'proto3',
    dependency: ['route_guide.proto'],
    service: [
      {
        name: 'Unlisted',
        method: [{ name: 'GetFeature', inputType: '.routeguide.Point', outputType: '.routeguide.Feature' }],
      },
    ],
  });
  const registry = createFileRegistry(file, (name) =>
    name === 'route_guide.proto' ? file_route_guide : undefined,
  );
  const service = registry.getService('routeguide.Unlisted');
  if (!service) throw new Error('routeguide.Unlisted did not build');
  return service;
}
