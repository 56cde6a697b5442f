#!/usr/bin/env bash
# Protobuf toolchain for Kindred.
#
#   proto.sh generate   build proto/.build/image.binpb and regenerate packages/proto/src/gen
#   proto.sh check      fail on stale generated code, buf lint, buf breaking vs the previous schema
#
# buf/validate/validate.proto is not vendored: its descriptors ship inside
# @bufbuild/protovalidate, so proto-validate-fds.mjs writes them as a FileDescriptorSet that
# protoc reads with --descriptor_set_in. protoc compiles our files into one image (with imports
# and source info); buf lints, compares and generates from that image, so no Buf Schema
# Registry access is needed.
#
# BUF_BREAKING_AGAINST=<git rev> overrides the base of the breaking check. By default it is HEAD
# when proto/ has uncommitted changes, else HEAD~1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

PROTO_DIR=proto
BUILD_DIR=proto/.build
GEN_DIR=packages/proto/src/gen
TEMPLATE=proto/buf.gen.yaml
CONFIG=proto/buf.yaml
# buf and protoc-gen-es come from @kindred/proto's devDependencies; buf finds the plugin on PATH.
export PATH="$ROOT/packages/proto/node_modules/.bin:$PATH"

log() { printf 'proto: %s\n' "$*"; }
die() {
  printf 'proto: error: %s\n' "$*" >&2
  exit 1
}

ensure_tools() {
  if ! command -v protoc >/dev/null 2>&1; then
    log "protoc not found; installing Debian's protobuf-compiler"
    local apt_log
    apt_log="$(mktemp)"
    if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y protobuf-compiler; } \
      >"$apt_log" 2>&1; then
      cat "$apt_log" >&2
      rm -f "$apt_log"
      die "could not install protobuf-compiler (apt-get needs root)"
    fi
    rm -f "$apt_log"
  fi
  command -v buf >/dev/null 2>&1 || die "buf not found in packages/proto/node_modules/.bin; run pnpm install"
  command -v protoc-gen-es >/dev/null 2>&1 ||
    die "protoc-gen-es not found in packages/proto/node_modules/.bin; run pnpm install"
}

# build_image <proto root> <out image>: compiles every .proto under <root>/kindred into one image.
build_image() {
  local src="$1" out="$2" files
  [[ -d "$src/kindred" ]] || die "no $src/kindred directory"
  mkdir -p "$BUILD_DIR" "$(dirname "$out")"
  node infra/scripts/proto-validate-fds.mjs "$BUILD_DIR/validate.binpb"
  files="$(cd "$src" && find kindred -name '*.proto' | LC_ALL=C sort)"
  [[ -n "$files" ]] || die "no .proto files under $src/kindred"
  # shellcheck disable=SC2086 # one file per word; proto paths contain no spaces
  (cd "$src" && protoc --descriptor_set_in="$ROOT/$BUILD_DIR/validate.binpb" \
    --include_imports --include_source_info -I . -o "$out" $files)
}

# generate_into <base dir>: writes generated code to <base dir>/packages/proto/src/gen.
generate_into() {
  buf generate "$BUILD_DIR/image.binpb" --template "$TEMPLATE" --path kindred --output "$1"
}

cmd_generate() {
  ensure_tools
  build_image "$PROTO_DIR" "$ROOT/$BUILD_DIR/image.binpb"
  generate_into .
  log "generated $(find "$GEN_DIR" -name '*_pb.ts' | wc -l | tr -d ' ') files into $GEN_DIR"
}

check_generated() {
  local tmp="$1"
  generate_into "$tmp"
  if ! diff -rq "$GEN_DIR" "$tmp/$GEN_DIR" >"$tmp/gen.diff" 2>&1; then
    sed "s#$tmp/#(regenerated) #g" "$tmp/gen.diff" >&2
    die "$GEN_DIR is out of date with proto/; run 'pnpm proto:generate' and commit the result"
  fi
  log "generated code is up to date"
}

check_format() {
  if ! buf format "$PROTO_DIR" --diff --exit-code >&2; then
    die "proto files are not formatted; run 'pnpm --filter @kindred/proto exec buf format -w ../../proto'"
  fi
  log "format ok"
}

check_lint() {
  buf lint "$BUILD_DIR/image.binpb" --config "$CONFIG" --path kindred || die "buf lint failed"
  log "lint ok"
}

breaking_base() {
  if [[ -n "${BUF_BREAKING_AGAINST:-}" ]]; then
    printf '%s\n' "$BUF_BREAKING_AGAINST"
  elif [[ -n "$(git status --porcelain -- "$PROTO_DIR")" ]]; then
    printf 'HEAD\n'
  else
    printf 'HEAD~1\n'
  fi
}

check_breaking() {
  local tmp="$1" base rev
  base="$(breaking_base)"
  if ! rev="$(git rev-parse --verify --quiet "$base^{commit}")"; then
    [[ -z "${BUF_BREAKING_AGAINST:-}" ]] || die "BUF_BREAKING_AGAINST=$base is not a commit"
    if [[ "$(git rev-parse --is-shallow-repository)" == true ]]; then
      die "cannot find $base in this shallow clone; fetch at least two commits or set BUF_BREAKING_AGAINST"
    fi
    log "breaking check skipped: no previous schema ($base does not exist)"
    return
  fi
  if [[ -z "$(git ls-tree -r --name-only "$rev" -- "$PROTO_DIR/kindred" | grep '\.proto$' || true)" ]]; then
    log "breaking check skipped: no previous schema ($base has no $PROTO_DIR/kindred)"
    return
  fi
  mkdir -p "$tmp/base"
  git archive "$rev" "$PROTO_DIR" | tar -x -C "$tmp/base"
  build_image "$tmp/base/$PROTO_DIR" "$tmp/base.binpb"
  buf breaking "$BUILD_DIR/image.binpb" --against "$tmp/base.binpb" --config "$CONFIG" \
    --against-config "$CONFIG" --path kindred ||
    die "breaking changes against $base ($(git rev-parse --short "$rev")); add a new message or a new vN instead"
  log "no breaking changes against $base ($(git rev-parse --short "$rev"))"
}

cmd_check() {
  ensure_tools
  local tmp
  tmp="$(mktemp -d)"
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf '$tmp'" EXIT
  build_image "$PROTO_DIR" "$ROOT/$BUILD_DIR/image.binpb"
  check_generated "$tmp"
  check_format
  check_lint
  check_breaking "$tmp"
}

case "${1:-}" in
  generate) cmd_generate ;;
  check) cmd_check ;;
  *)
    printf 'usage: %s generate|check\n' "$(basename "$0")" >&2
    exit 2
    ;;
esac
