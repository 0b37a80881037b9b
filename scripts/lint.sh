#!/usr/bin/env bash
# Quality gates: clang-format and clang-tidy on our C++; ESLint, Prettier and tsc on web/.
# `scripts/lint.sh --fix` rewrites formatting instead of failing on it.
set -euo pipefail
cd "$(dirname "$0")/.."

fix=0
[ "${1:-}" = "--fix" ] && fix=1
jobs=$(nproc)

mapfile -t cpp_files < <(git ls-files --cached --others --exclude-standard 'src/*.cpp' 'src/*.hpp' 'tests/*.cpp' 'tests/*.hpp' 'bench/*.cpp')

echo "lint: clang-format (${#cpp_files[@]} files)"
if [ "$fix" = 1 ]; then
  clang-format -i "${cpp_files[@]}"
else
  clang-format --dry-run -Werror "${cpp_files[@]}"
fi

# clang-tidy reads the compile commands of the dev build; configure it if needed.
[ -f build/dev/compile_commands.json ] || cmake --preset dev >/dev/null
mapfile -t tidy_files < <(printf '%s\n' "${cpp_files[@]}" | grep -E '^src/.*\.cpp$' | grep -v '_test\.cpp$')
echo "lint: clang-tidy (${#tidy_files[@]} files)"
tidy=$(command -v run-clang-tidy || command -v run-clang-tidy-14)
# The compile commands are GCC's; clang-tidy need not know every GCC warning flag.
"$tidy" -quiet -p build/dev -j "$jobs" -extra-arg=-Wno-unknown-warning-option "${tidy_files[@]/#/$PWD/}" > build/clang-tidy.log 2>&1 || {
  grep -E "error:|warning:" build/clang-tidy.log | sort -u | head -50
  echo "lint: clang-tidy failed (full output in build/clang-tidy.log)"
  exit 1
}

if [ -f web/package.json ]; then
  echo "lint: web (eslint, prettier, tsc)"
  (cd web && npm run --silent lint && npm run --silent format:check && npm run --silent typecheck)
fi
echo "lint: ok"
