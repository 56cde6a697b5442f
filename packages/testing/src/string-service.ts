import { create, createFileRegistry, type DescService } from "@bufbuild/protobuf";
import {
  FileDescriptorProtoSchema,
  file_google_protobuf_wrappers,
  MethodDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";

/**
 * A tiny Connect service built from a descriptor in code, for testing infrastructure (runtime,
 * auth) without depending on the product's API. Every method takes and returns StringValue.
 * `stringService("kindred.test.v1", "TestService", ["Echo", "Slow"])`.
 */
export function stringService(
  pkg: string,
  service: string,
  methods: readonly string[],
): DescService {
  const method = (name: string) =>
    create(MethodDescriptorProtoSchema, {
      name,
      inputType: ".google.protobuf.StringValue",
      outputType: ".google.protobuf.StringValue",
    });
  const file = create(FileDescriptorProtoSchema, {
    name: `${pkg.replaceAll(".", "/")}/${service.toLowerCase()}.proto`,
    package: pkg,
    syntax: "proto3",
    dependency: ["google/protobuf/wrappers.proto"],
    service: [{ name: service, method: methods.map(method) }],
  });
  const registry = createFileRegistry(file, (name) =>
    name === "google/protobuf/wrappers.proto" ? file_google_protobuf_wrappers : undefined,
  );
  const found = registry.getService(`${pkg}.${service}`);
  if (found === undefined) throw new Error(`no service ${pkg}.${service}`);
  return found;
}
