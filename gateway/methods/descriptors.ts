/**
 * Where the gateway learns services: `.proto` files (through @grpc/proto-loader) or the core's
 * gRPC server reflection. Either way the result is a @bufbuild/protobuf FileRegistry, which the
 * method registry and the proto3 JSON codec work from.
 */

import { dirname } from 'node:path';
import { create, createFileRegistry, type FileRegistry, fromBinary } from '@bufbuild/protobuf';
import {
  type DescriptorProto,
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from '@bufbuild/protobuf/wkt';
import * as protoLoader from '@grpc/proto-loader';

/** protoc's json_name: underscores dropped, the letter after one upper-cased (`point_count` → `pointCount`). */
export function jsonNameOf(name: string): string {
  let out = '';
  let upper = false;
  for (const char of name) {
    if (char === '_') upper = true;
    else {
      out += upper ? char.toUpperCase() : char;
      upper = false;
    }
  }
  return out;
}

/**
 * proto-loader (protobufjs) hands out descriptors that are valid protobuf but looser than protoc's:
 * type names relative to their scope ("Point" for ".routeguide.Point"), no `json_name`, no `dependency` list, and
 * proto3 `optional` as a plain one-field oneof named `_field`. This makes them what protoc would
 * emit, so the registry resolves them: fully-qualified names, dependencies, files in dependency order.
 */
export function normaliseDescriptors(files: readonly FileDescriptorProto[]): FileDescriptorProto[] {
  const fileOf = new Map<string, FileDescriptorProto>();
  const collect = (file: FileDescriptorProto, scope: string, messages: DescriptorProto[]) => {
    for (const message of messages) {
      const name = `${scope}.${message.name}`;
      fileOf.set(name, file);
      for (const e of message.enumType) fileOf.set(`${name}.${e.name}`, file);
      collect(file, name, message.nestedType);
    }
  };
  for (const file of files) {
    const scope = file.package ? `.${file.package}` : '';
    for (const e of file.enumType) fileOf.set(`${scope}.${e.name}`, file);
    collect(file, scope, file.messageType);
  }
  const resolve = (name: string, scope: string): string => {
    if (name.startsWith('.')) return name;
    for (let at = scope; ; at = at.slice(0, Math.max(0, at.lastIndexOf('.')))) {
      const candidate = `${at}.${name}`;
      if (fileOf.has(candidate)) return candidate;
      if (at === '') return `.${name}`;
    }
  };
  const dependencies = new Map<FileDescriptorProto, Set<FileDescriptorProto>>();
  const use = (file: FileDescriptorProto, typeName: string) => {
    const owner = fileOf.get(typeName);
    if (owner && owner !== file) dependencies.get(file)?.add(owner);
  };
  const fixMessages = (file: FileDescriptorProto, scope: string, messages: DescriptorProto[]) => {
    for (const message of messages) {
      const name = `${scope}.${message.name}`;
      for (const field of message.field) {
        field.jsonName ||= jsonNameOf(field.name ?? '');
        if (field.typeName) {
          field.typeName = resolve(field.typeName, name);
          use(file, field.typeName);
        }
        const oneof = field.oneofIndex === undefined ? undefined : message.oneofDecl[field.oneofIndex];
        const members = message.field.filter((f) => f.oneofIndex === field.oneofIndex).length;
        if (oneof && members === 1 && oneof.name === `_${field.name}`) field.proto3Optional = true;
      }
      fixMessages(file, name, message.nestedType);
    }
  };
  for (const file of files) dependencies.set(file, new Set());
  for (const file of files) {
    const scope = file.package ? `.${file.package}` : '';
    fixMessages(file, scope, file.messageType);
    for (const service of file.service)
      for (const method of service.method) {
        method.inputType = resolve(method.inputType ?? '', scope);
        method.outputType = resolve(method.outputType ?? '', scope);
        use(file, method.inputType);
        use(file, method.outputType);
      }
  }
  const ordered: FileDescriptorProto[] = [];
  const visit = (file: FileDescriptorProto, path: Set<FileDescriptorProto>) => {
    if (ordered.includes(file) || path.has(file)) return;
    path.add(file);
    for (const dep of dependencies.get(file) ?? []) visit(dep, path);
    ordered.push(file);
  };
  for (const file of files) visit(file, new Set());
  for (const file of ordered)
    file.dependency = [...(dependencies.get(file) ?? [])].map((dep) => dep.name ?? '');
  return ordered;
}

/** Descriptors of every file a proto-loader package definition was built from, each once. */
export function descriptorsOf(definition: protoLoader.PackageDefinition): FileDescriptorProto[] {
  const seen = new Set<string>();
  const files: FileDescriptorProto[] = [];
  const add = (buffers: readonly Buffer[] | undefined) => {
    for (const buffer of buffers ?? []) {
      const key = buffer.toString('base64');
      if (seen.has(key)) continue;
      seen.add(key);
      files.push(fromBinary(FileDescriptorProtoSchema, buffer));
    }
  };
  for (const entry of Object.values(definition)) {
    if ('fileDescriptorProtos' in entry) add(entry.fileDescriptorProtos as Buffer[]);
    else
      for (const method of Object.values(entry as protoLoader.ServiceDefinition))
        add(method.requestType.fileDescriptorProtos);
  }
  return files;
}

/**
 * A registry of the services in these `.proto` files (imports resolved against `includeDirs`; by
 * default the files' own folders, as `protoc -I` each would: note_feed.proto imports
 * "route_guide.proto" by that name).
 */
export function registryFromProtoFiles(
  paths: readonly string[],
  includeDirs: readonly string[] = [...new Set(paths.map((path) => dirname(path)))],
): FileRegistry {
  // keepCase: the descriptors then carry the .proto's own field names, from which JSON names derive.
  const definition = protoLoader.loadSync([...paths], { keepCase: true, includeDirs: [...includeDirs] });
  return registryFromDescriptors(descriptorsOf(definition));
}

export function registryFromDescriptors(files: readonly FileDescriptorProto[]): FileRegistry {
  return createFileRegistry(create(FileDescriptorSetSchema, { file: normaliseDescriptors(files) }));
}
