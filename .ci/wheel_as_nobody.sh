#!/usr/bin/env bash
# Maillage runs installed and unprivileged, as the Dockerfile runs it: the wheel, built from this
# checkout and installed (not editable) by root into a fresh virtualenv of Debian's python3, is run
# by `nobody`, who may write only her data folder. `maillage db upgrade`, `demo` and `run` must
# work, and a French page and a signed-in page answer 200. A write into the code fails, loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$PWD
umask 022

fail() {
  echo "wheel_as_nobody: FAILED: $*" >&2
  exit 1
}
say() { echo "wheel_as_nobody: $*"; }

[ "$(id -u)" -eq 0 ] || fail "run me as root: I install as root and run Maillage as nobody"
[ -x /usr/bin/python3 ] || fail "Debian's /usr/bin/python3 is missing"
[ "$(stat -c %u "$checkout")" -eq 0 ] || fail "$checkout must belong to root"
if runuser -u nobody -- test -w "$checkout/service"; then
  fail "nobody can write into $checkout/service: the check would not catch a write into the code"
fi

work=$(mktemp -d /tmp/maillage-wheel.XXXXXX)
chmod 755 "$work"
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -TERM -- "-$server" 2>/dev/null || true
    sleep 3
    kill -KILL -- "-$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# From a copy, so the build writes nothing into the checkout and finds no catalog compiled there.
say "building the wheel"
/usr/bin/python3 - "$checkout" "$work/source" <<'EOF'
import shutil
import sys

left_out = shutil.ignore_patterns(
    ".git", ".venv", "instance", "build", "dist", "tests", "*.egg-info", "__pycache__", ".*_cache", "*.mo"
)
shutil.copytree(sys.argv[1], sys.argv[2], ignore=left_out)
EOF
/usr/bin/python3 -m venv "$work/venv"
venv="$work/venv"
"$venv/bin/python" -m pip --quiet --disable-pip-version-check wheel --no-deps -w "$work/wheels" \
  "$work/source" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; fail "the wheel did not build"; }
wheel=$(ls "$work"/wheels/maillage-*.whl)

# As the Dockerfile does: the locked versions (hashes checked), then the wheel without dependencies.
say "installing $(basename "$wheel") and the locked versions of its dependencies into a fresh virtualenv"
{
  "$venv/bin/python" -m pip --quiet --disable-pip-version-check install --require-hashes \
    -r "$checkout/requirements/maillage.txt" \
    && "$venv/bin/python" -m pip --quiet --disable-pip-version-check install --no-deps "$wheel" \
    && "$venv/bin/python" -m pip --disable-pip-version-check check
} >"$work/install.log" 2>&1 || { cat "$work/install.log" >&2; fail "the wheel did not install"; }
installed=$("$venv/bin/python" -I -c 'import workflows.loader as l; print(l.TEMPLATES_FOLDER)')
case "$installed" in
  "$venv"/*) ;;
  *) fail "the installed Maillage reads its templates from $installed, not from the virtualenv" ;;
esac

mkdir "$work/data" "$work/home"
chown nobody: "$work/data" "$work/home"
if runuser -u nobody -- test -w "$venv/lib"; then fail "nobody can write into the virtualenv"; fi

# Run from a folder nobody cannot write, with only the environment an operator would set.
cd "$work"
maillage=(runuser -u nobody -- env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME="$work/home"
  MAILLAGE_DATA_DIR="$work/data" "$venv/bin/maillage")

say "maillage db upgrade"
"${maillage[@]}" db upgrade >"$work/upgrade.log" 2>&1 || { cat "$work/upgrade.log" >&2; fail "maillage db upgrade"; }
say "maillage demo"
"${maillage[@]}" demo >"$work/demo.log" 2>&1 || { cat "$work/demo.log" >&2; fail "maillage demo"; }
# A caseworker signs in with her password alone (no second step); her address names her role.
read -r email password < <(awk '$1 ~ /^intervenante\./ { print $1, $2; exit }' "$work/demo.log") \
  || { cat "$work/demo.log" >&2; fail "maillage demo printed no caseworker's login"; }

port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
say "maillage run --port $port"
# A session of its own: stopping it stops the worker and the scheduler it started too.
setsid "${maillage[@]}" run --port "$port" >"$work/run.log" 2>&1 &
server=$!
for _ in $(seq 1 120); do
  curl --silent --output /dev/null "$base/sign-in" && break
  kill -0 "$server" 2>/dev/null || { cat "$work/run.log" >&2; fail "maillage run stopped"; }
  sleep 0.5
done

jar="$work/cookies"
page="$work/page.html"
status=$(curl --silent --cookie-jar "$jar" --output "$page" --write-out '%{http_code}' "$base/sign-in") \
  || { cat "$work/run.log" >&2; fail "$base/sign-in does not answer"; }
[ "$status" = 200 ] || { cat "$work/run.log" >&2; fail "/sign-in answered $status"; }
grep -q "<h1>Connexion</h1>" "$page" || fail "/sign-in is not in French: $(grep -o '<h1>[^<]*</h1>' "$page")"
say "/sign-in answers 200, in French"

token=$(sed -n 's/.*name="csrf_token" type="hidden" value="\([^"]*\)".*/\1/p' "$page" | head -n 1)
[ -n "$token" ] || fail "no CSRF token in the sign-in form"
status=$(curl --silent --cookie "$jar" --cookie-jar "$jar" --output /dev/null --write-out '%{http_code}' \
  --data-urlencode "csrf_token=$token" --data-urlencode "email=$email" --data-urlencode "password=$password" \
  "$base/sign-in")
case "$status" in
  302 | 303) ;;
  *) fail "signing in as $email answered $status" ;;
esac
status=$(curl --silent --cookie "$jar" --output "$page" --write-out '%{http_code}' "$base/")
[ "$status" = 200 ] || { cat "$work/run.log" >&2; fail "the dashboard answered $status to $email"; }
grep -q "Se déconnecter" "$page" || fail "the dashboard does not show $email signed in"
say "the dashboard answers 200 to $email, signed in"

kill -TERM -- "-$server"
wait "$server" || true
server=""
if grep -q -E "Traceback|PermissionError|Read-only file system" "$work/run.log"; then
  cat "$work/run.log" >&2
  fail "maillage run logged an error"
fi
say "passed: the wheel runs as nobody and writes nothing outside $work/data"
