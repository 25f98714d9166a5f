#!/usr/bin/env bash
# Vendors the API docs UI that /docs serves from the binary: Stoplight
# Elements' web-components build, at a pinned version, with its licences.
#
#   scripts/vendor-docs.sh          fetch the pinned version (npm pack) and
#                                   rewrite adapters/http/docs/
#   scripts/vendor-docs.sh verify   check the committed files against
#                                   adapters/http/docs/SHA256SUMS (no network)
#
# The files are committed so that building and running keyward needs no
# network; SHA256SUMS records the version and each file's hash, and
# adapters/http/docs_test.go checks the embedded files against it.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE=@stoplight/elements
VERSION=9.0.25
DEST=adapters/http/docs
FILES=(web-components.min.js styles.min.css LICENSE web-components.min.js.LICENSE.txt)

if [[ "${1:-}" == verify ]]; then
	(cd "$DEST" && sha256sum --check --strict --quiet SHA256SUMS) ||
		{ echo "vendor-docs: $DEST does not match its SHA256SUMS; run scripts/vendor-docs.sh" >&2; exit 1; }
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null && tar -xzf ./*.tgz)
got=$(node -p 'require(process.argv[1]).version' "$tmp/package/package.json")
[[ "$got" == "$VERSION" ]] || { echo "vendor-docs: npm gave $PACKAGE $got, want $VERSION" >&2; exit 1; }

rm -rf "$DEST"
mkdir -p "$DEST"
for f in "${FILES[@]}"; do
	cp "$tmp/package/$f" "$DEST/$f"
done
{
	echo "# $PACKAGE@$VERSION (npm), vendored by scripts/vendor-docs.sh"
	(cd "$DEST" && sha256sum "${FILES[@]}")
} >"$DEST/SHA256SUMS"
du -ch "${FILES[@]/#/$DEST/}" | tail -1 | sed "s|^|vendor-docs: $PACKAGE@$VERSION, |"
