#!/usr/bin/env bash
# Builds kubelived from a clean copy of its sources and assembles the runtime tree the image
# ships: OUT/app holds dist/, the native addon, package.json, package-lock.json and the
# production node_modules, nothing else. The Dockerfile's build stage runs this, and so does
# test/image/build.test.ts, so what the test checks is what the image gets.
#
#   scripts/build-image-root.sh SRC OUT
#
# SRC is built in place (npm ci fills its node_modules), so it must be a throw-away copy with
# no node_modules, dist or native/build of its own: a Docker build context, or the test's copy.
# Needs node 24 with npm, g++, make and python3 (node-gyp), and the npm registry.
set -euo pipefail

die() { echo "build-image-root: $*" >&2; exit 1; }

(($# == 2)) || die "usage: build-image-root.sh SRC OUT"
src=$(realpath "$1")
out=$(realpath -m "$2")
[[ -f $src/package.json ]] || die "$src is not the kubelived source tree (no package.json)"
for leftover in node_modules dist native/build; do
  # Output of an earlier build would leak stale files into the image.
  [[ ! -e $src/$leftover ]] || die "$src/$leftover exists: SRC must be a clean copy of the sources"
done
[[ $out != "$src" && $out != "$src"/* ]] || die "OUT ($out) must be outside SRC ($src)"
major=$(node -p 'process.versions.node.split(".")[0]')
[[ $major == 24 ]] || die "node 24 is needed, $(command -v node) is $(node --version)"

cd "$src"
# With the dev dependencies: node-gyp builds the addon (package.json's install script, against
# the headers of the `node` dev package) and typescript compiles dist/.
npm ci --no-audit --no-fund
# npm ci's prepare hook builds dist/ too; building here keeps this script independent of it.
npm run build
[[ -f native/build/Release/kubelived_native.node ]] || die "npm ci built no native addon"

app=$out/app
rm -rf "$app"
mkdir -p "$app/native/build/Release"
# The source maps stay behind: they point at TypeScript the image does not hold, and tsc's
# output keeps the code readable enough for stack traces without them.
tar -C "$src" --exclude='*.map' -cf - dist | tar -C "$app" -xf -
cp native/build/Release/kubelived_native.node "$app/native/build/Release/"
# The lockfile stays: it pins the versions and lets image scanners list the dependencies.
cp package.json package-lock.json "$app/"
# Production dependencies only, from the cache the first npm ci filled: no compiler, no
# typescript, and no `node` package (the image runs the base image's node). None of them has
# an install script; --ignore-scripts keeps the project's own (node-gyp) from running here.
(cd "$app" && npm ci --omit=dev --ignore-scripts --offline --no-audit --no-fund)

echo "build-image-root: $app: $(du -sh "$app" | cut -f1)"
