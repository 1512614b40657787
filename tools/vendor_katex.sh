#!/usr/bin/env bash
# Vendor KaTeX (math rendering on paper pages) into the web app's static files, so pages make
# no request to a CDN. Run from the repo root: bash tools/vendor_katex.sh [VERSION]
# Keeps the minified JS/CSS, auto-render and the woff2 fonts (every browser we target reads
# woff2); the CSS's woff/ttf fallbacks are dropped so it references only shipped files.
set -euo pipefail
version="${1:-0.16.47}"
dest="paperfeed/web/static/vendor/katex"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "katex@$version" --silent >/dev/null && tar xzf katex-*.tgz)
rm -rf "$dest" && mkdir -p "$dest/fonts" "$dest/contrib"
cp "$work/package/dist/katex.min.js" "$dest/"
cp "$work/package/dist/contrib/auto-render.min.js" "$dest/contrib/"
cp "$work/package/dist/fonts/"*.woff2 "$dest/fonts/"
cp "$work/package/LICENSE" "$dest/LICENSE"
# url(...woff2) format("woff2"),url(...woff) format("woff"),url(...ttf) format("truetype")
sed -E 's/,url\([^)]*\.woff\) format\("woff"\),url\([^)]*\.ttf\) format\("truetype"\)//g' \
  "$work/package/dist/katex.min.css" > "$dest/katex.min.css"
echo "$version" > "$dest/VERSION"
if grep -qE '\.(woff|ttf)\)' "$dest/katex.min.css"; then
  echo "vendor_katex: the CSS still references woff/ttf files" >&2; exit 1
fi
echo "KaTeX $version vendored into $dest ($(du -sh "$dest" | cut -f1))"
