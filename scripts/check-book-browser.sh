#!/usr/bin/env bash
# Opens every page of the built book (book/build) in headless Chromium, at a desktop and at a
# phone width, and fails on what a reader would see wrong: maths left raw or rendered with a KaTeX
# error, a broken image, content sticking out of the text column, a page that scrolls sideways.
# The page checks itself (book/theme/layout-check.js, switched on by `?layout-check`) and writes
# its findings into the DOM, which Chromium prints. Usage: bash scripts/check-book-browser.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build=book/build
[ -d "$build" ] || { echo "no $build: run mdbook build book first" >&2; exit 1; }
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "chromium is not installed (apt-get install chromium)" >&2; exit 1; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
pages=$(find "$build" -name '*.html' \( -path '*/phase*/*' -o -name introduction.html \) | sort)
failed=0
checked=0
for page in $pages; do
  for width in 1280 390; do
    dom=$("$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
      --disable-background-networking --disable-component-update --disable-sync \
      --user-data-dir="$profile" --window-size="$width,900" --virtual-time-budget=10000 \
      --dump-dom "file://$PWD/$page?layout-check" 2>/dev/null || true)
    verdict=$(printf '%s' "$dom" | python3 -c '
import html, json, re, sys
m = re.search(r"data-layout-check=\"([^\"]*)\"", sys.stdin.read())
if not m:
    print("the page did not report (did its scripts run?)")
else:
    for p in json.loads(html.unescape(m.group(1))):
        print(p)
')
    checked=$((checked + 1))
    if [ -n "$verdict" ]; then
      failed=$((failed + 1))
      echo "✗ ${page#"$build"/} at $width px:"
      printf '%s\n' "$verdict" | sed 's/^/    /'
    fi
  done
done
echo "book pages checked in a browser: $checked page views, $failed with problems"
[ "$failed" -eq 0 ]
