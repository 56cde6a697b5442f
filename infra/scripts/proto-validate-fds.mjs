#!/usr/bin/env node
/**
 * Writes a binary FileDescriptorSet of `buf/validate/validate.proto` and every file it imports,
 * dependencies first, to the path given as the only argument.
 *
 * validate.proto is not shipped as source: `@bufbuild/protovalidate` embeds its descriptor (and
 * `@bufbuild/protobuf/wkt` those of its imports). protoc reads this set with
 * `--descriptor_set_in`, so our protos can import "buf/validate/validate.proto" without the
 * Buf Schema Registry (unreachable here) and without a vendored copy that could drift from the
 * runtime that enforces the rules.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const outPath = process.argv[2];
if (!outPath) {
  process.stderr.write("usage: proto-validate-fds.mjs <out.binpb>\n");
  process.exit(2);
}

// Resolve from @kindred/proto, which declares both packages (pnpm does not hoist them to the root).
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const require = createRequire(join(repoRoot, "packages/proto/package.json"));
const { create, toBinary } = require("@bufbuild/protobuf");
const { FileDescriptorSetSchema } = require("@bufbuild/protobuf/wkt");
const {
  file_buf_validate_validate,
} = require("@bufbuild/protovalidate/gen/buf/validate/validate_pb.js");

/** Depth-first, dependencies before dependents, each file once. */
function topologicalOrder(root) {
  const ordered = [];
  const seen = new Set();
  const visit = (file) => {
    if (seen.has(file.proto.name)) return;
    seen.add(file.proto.name);
    for (const dep of file.dependencies) visit(dep);
    ordered.push(file.proto);
  };
  visit(root);
  return ordered;
}

const set = create(FileDescriptorSetSchema, { file: topologicalOrder(file_buf_validate_validate) });
mkdirSync(dirname(resolve(outPath)), { recursive: true });
writeFileSync(outPath, toBinary(FileDescriptorSetSchema, set));
