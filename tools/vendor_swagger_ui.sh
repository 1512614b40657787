#!/usr/bin/env bash
# Vendor Swagger UI (the API docs page at /docs) into the web app's static files, so the
# docs page loads nothing from a CDN. Run from the repo root: bash tools/vendor_swagger_ui.sh [VERSION]
set -euo pipefail
version="${1:-5.35.0}"
dest="paperfeed/web/static/vendor/swagger-ui"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "swagger-ui-dist@$version" --silent >/dev/null && tar xzf swagger-ui-dist-*.tgz)
rm -rf "$dest" && mkdir -p "$dest"
cp "$work/package/swagger-ui-bundle.js" "$work/package/swagger-ui.css" "$dest/"
cp "$work/package/favicon-32x32.png" "$dest/"
cp "$work/package/LICENSE" "$dest/LICENSE"
cp "$work/package/NOTICE" "$dest/NOTICE"
# The bundle ends with a sourceMappingURL to a map we do not ship; drop it (no 404s in devtools).
sed -i "/^\/\/# sourceMappingURL=/d" "$dest/swagger-ui-bundle.js"
sed -i "s#/\*\# sourceMappingURL=[^*]*\*/##" "$dest/swagger-ui.css"
echo "$version" > "$dest/VERSION"
echo "Swagger UI $version vendored into $dest ($(du -sh "$dest" | cut -f1))"
