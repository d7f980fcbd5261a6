#!/usr/bin/env bash
# Build the docs site (`nbdev-docs` -> _docs/) and README.md (`nbdev-readme`), then check the site in headless Chromium
# (tools/check_site.py). Installs what is missing: Quarto (../shared/tools/quarto/install-quarto.sh into .ci/quarto when
# `quarto` is not on PATH; on your own machine use Quarto's installer, https://quarto.org/docs/get-started/), Debian's
# `chromium` (apt-get, as root) and the `playwright` package. Fails when a build fails or prints a warning (nbdev's or
# Quarto's: both are logged in .ci/out/docs.log), or when the browser check finds a problem.
#     bash tools/docs.sh            # from the repository root, in the project's virtualenv
set -uo pipefail
cd "$(dirname "$0")/.."
out=.ci/out; mkdir -p "$out"
log=$out/docs.log; : > "$log"
fail() { echo "FAIL: $*"; exit 1; }

if ! command -v quarto >/dev/null; then
  if [ ! -x .ci/quarto/bin/quarto ]; then
    installer=../shared/tools/quarto/install-quarto.sh
    [ -f "$installer" ] || fail "quarto is not on PATH and $installer is missing: install Quarto (https://quarto.org/docs/get-started/)"
    echo "== installing Quarto into .ci/quarto"
    q=$(bash "$installer" "$PWD/.ci/quarto" 2>&1 | tee "$out/quarto_install.log" | tail -1)
    [ -x "$q" ] || { tail -20 "$out/quarto_install.log"; fail "the Quarto install did not end with the path of quarto"; }
    mkdir -p .ci/quarto/bin && ln -sf "$q" .ci/quarto/bin/quarto
  fi
  export PATH="$PWD/.ci/quarto/bin:$PATH"
fi
if ! command -v chromium >/dev/null; then
  echo "== installing chromium (apt-get)"
  { apt-get update -q && apt-get install -y -q chromium; } > "$out/chromium_install.log" 2>&1 || { tail -20 "$out/chromium_install.log"; fail "apt-get install chromium"; }
fi
python -c "import playwright" 2>/dev/null || pip install -q playwright 2>&1 | grep -v "^WARNING: Location '.*' is ignored"
echo "quarto $(quarto --version) | $(chromium --version 2>/dev/null | head -1)"

# nbdev-docs and nbdev-readme capture Quarto's stderr: a shim on PATH copies it into the log (the warnings are there)
real=$(command -v quarto); mkdir -p "$out/bin"
cat > "$out/bin/quarto" <<SHIM
#!/usr/bin/env bash
err=\$(mktemp); "$real" "\$@" 2> "\$err"; rc=\$?
cat "\$err" >> "$PWD/$log"; cat "\$err" >&2; rm -f "\$err"; exit \$rc
SHIM
chmod +x "$out/bin/quarto"; export PATH="$PWD/$out/bin:$PATH"

echo "== nbdev-readme"
nbdev-readme >> "$log" 2>&1 || { tail -40 "$log"; fail "nbdev-readme"; }
# one Quarto worker: nbdev's parallel render puts its output outside the project, and Quarto then warns on every
# page with figures ("Refusing to remove directory ... figure-commonmark"); on 2 cores one worker is as fast
echo "== nbdev-docs"
start=$SECONDS
nbdev-docs --n-workers 1 >> "$log" 2>&1 || { tail -40 "$log"; fail "nbdev-docs"; }
echo "built $(ls _docs/*.html | wc -l) pages in $((SECONDS - start)) s"
warnings=$(grep -iE "warn" "$log" | grep -vE "^\s*warn\(f'Found cells" || true)
status=0
if [ -n "$warnings" ]; then
  grep -iE -A4 "warn" "$log" | head -60
  echo "FAIL: the docs build printed $(echo "$warnings" | wc -l) warning line(s) (full log: $log)"; status=1
fi
echo "== browser check (tools/check_site.py; screenshots in $out/site)"
python tools/check_site.py --site _docs --shots "$out/site" || { echo "FAIL: the site check found problems"; status=1; }
exit $status
