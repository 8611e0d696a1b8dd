#!/usr/bin/env bash
# Seeds the fuzz corpora: real zips from every writer .ci/install-deps installs into
# corpus/artifact, sample migration files into corpus/migration. Idempotent; archives
# stay far below the -max_len=70000 the artifact target runs with.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
art="$here/corpus/artifact"
mig="$here/corpus/migration"
mkdir -p "$art" "$mig"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "seed.sh: $1 is missing: run .ci/install-deps" >&2; exit 1; }
}
for t in python3 zip 7zz jar go bsdtar; do need "$t"; done

# --- sample migrations (also the migration corpus) -------------------------------------
src="$work/src"
mkdir -p "$src/migrations/sub" "$src/app"
cat > "$src/migrations/1_init.sql" <<'SQL'
-- +migrate Up
-- A comment line, dropped.
CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(255) NOT NULL);
INSERT INTO people VALUES (1, 'semi; colon');

-- +migrate Down
DROP TABLE people;
SQL
cat > "$src/migrations/2_block.sql" <<'SQL'
-- +migrate Up notransaction
-- +migrate StatementBegin
CREATE PROCEDURE p()
BEGIN
  SELECT 1;
END;
-- +migrate StatementEnd
-- +migrate Down
DROP PROCEDURE p;
SQL
cat > "$src/migrations/3_delimiter.sql" <<'SQL'
-- +migrate Up
DELIMITER $$
CREATE TRIGGER t BEFORE INSERT ON people FOR EACH ROW
BEGIN
  SET NEW.name = TRIM(NEW.name);
END$$
DELIMITER ;
ALTER TABLE people ADD COLUMN age INT; -- trailing comment
-- +migrate Down
DROP TRIGGER t;
SQL
printf -- '-- +migrate Up\r\nCREATE TABLE crlf (id INT);\r\n-- +migrate Down\r\nDROP TABLE crlf;\r\n' \
  > "$src/migrations/4_crlf.sql"
{
  echo "-- +migrate Up"
  echo "CREATE TABLE log (id INT PRIMARY KEY, msg TEXT);"
  for i in $(seq 1 120); do echo "INSERT INTO log VALUES ($i, 'line $i of a compressible file');"; done
  echo "-- +migrate Down"
  echo "DROP TABLE log;"
} > "$src/migrations/5_big.sql"
: > "$src/migrations/6_empty.sql"
printf '\xef\xbb\xbf-- +migrate Up\nSELECT 1;\n' > "$src/migrations/7_bom.sql"
echo "not a migration" > "$src/migrations/notes.txt"
echo "-- +migrate Up" > "$src/migrations/sub/x.sql"
echo "# readme" > "$src/README.md"
echo "exports.handler = 1;" > "$src/app/h.js"
cp "$src"/migrations/*.sql "$mig/"
# The repository's own example migrations, when present.
for f in "$here"/../migrations/*.sql; do
  if [ -f "$f" ]; then cp "$f" "$mig/repo-$(basename "$f")"; fi
done

names=(README.md app/h.js migrations/1_init.sql migrations/2_block.sql migrations/3_delimiter.sql
  migrations/4_crlf.sql migrations/5_big.sql migrations/6_empty.sql migrations/7_bom.sql
  migrations/notes.txt migrations/sub/x.sql)

# --- archives from each writer ---------------------------------------------------------
cd "$src"
for mode in stored deflated zip64; do
  python3 - "$mode" "$art/python-$mode.zip" "${names[@]}" <<'PY'
import sys, zipfile
mode, out, names = sys.argv[1], sys.argv[2], sys.argv[3:]
method = zipfile.ZIP_STORED if mode == "stored" else zipfile.ZIP_DEFLATED
z = zipfile.ZipFile(out, "w", method)
for name in names:
    info = zipfile.ZipInfo(name, (2024, 1, 2, 3, 4, 6))
    info.compress_type = method
    with open(name, "rb") as f, z.open(info, "w", force_zip64=(mode == "zip64")) as w:
        w.write(f.read())
if mode == "zip64":
    zipfile.ZIP64_LIMIT = 0
    zipfile.ZIP_FILECOUNT_LIMIT = 0
z.close()
PY
done
# A repository artifact: everything under one top-level folder.
python3 - "$art/python-repo.zip" "${names[@]}" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for name in sys.argv[2:]:
        z.write(name, "repo-1a2b3c/" + name)
PY
rm -f "$art/infozip.zip" "$art/infozip-stored.zip" "$art/7zz.zip" "$art/jar.zip" "$art/bsdtar.zip"
zip -q -X "$art/infozip.zip" "${names[@]}"
zip -q -X -0 "$art/infozip-stored.zip" "${names[@]}"
7zz a -tzip -bd -bso0 -bsp0 "$art/7zz.zip" "${names[@]}"
jar cf "$art/jar.zip" "${names[@]}"
bsdtar --format zip -cf "$art/bsdtar.zip" $(printf './%s ' "${names[@]}")
GO111MODULE=off GOFLAGS= GOPATH="$work/gopath" GOCACHE="${GOCACHE:-$here/target/gocache}" \
  go build -o "$work/gozip" "$here/../engine/tests/writers/gozip.go"
"$work/gozip" "$art/go.zip" "$src" "${names[@]}"
# Degenerate inputs: nothing, and the smallest valid archive.
: > "$art/empty"
printf 'PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0' > "$art/eocd-only.zip"

echo "seeded $(ls "$art" | wc -l) artifact and $(ls "$mig" | wc -l) migration inputs"
