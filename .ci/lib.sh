# Shared by .ci/serve and .ci/test: install what the build and the tests need, skipping what is there.
# Everything comes from the package registries (Debian, crates.io, npm); nothing downloads binaries.
# shellcheck shell=bash

CARGO_LEPTOS_VERSION=0.3.10
SCHEMATHESIS_VERSION=4.32.5

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=
# Installs the Debian packages that are not installed yet.
ensure_debian_packages() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return
  say "installing Debian packages: ${missing[*]}"
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The wasm target, cargo-leptos, wasm-bindgen-cli (the version in Cargo.lock), Node and the npm build tools.
ensure_build_tools() {
  command -v cc >/dev/null || ensure_debian_packages build-essential
  command -v node >/dev/null && command -v npm >/dev/null || ensure_debian_packages nodejs npm
  rustup target list --installed | grep -qx wasm32-unknown-unknown || {
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  }
  # cargo-leptos 0.3.11's lockfile needs a newer rustc; 0.3.10 installs as published. Its release
  # profile is built without LTO here: the tool is not speed-critical and this halves its build time.
  if ! cargo leptos --version 2>/dev/null | grep -q " $CARGO_LEPTOS_VERSION\$"; then
    say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 10 minutes, once)"
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
      cargo install --locked cargo-leptos --version "$CARGO_LEPTOS_VERSION"
  fi
  local bindgen
  bindgen=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $bindgen\$"; then
    say "installing wasm-bindgen-cli $bindgen (the version in Cargo.lock)"
    cargo install wasm-bindgen-cli --version "$bindgen"
  fi
  npm_install style
  # cargo-leptos runs tailwindcss and wasm-opt from PATH (its own download would fail offline).
  export PATH="$PWD/style/node_modules/.bin:$PATH"
}

# npm packages of a folder at the lockfile's versions, when missing or stale. `npm install` rather than
# `npm ci`: npm refuses `ci` when the lock lacks other platforms' optional packages (Tailwind's native
# binaries), which is how npm itself writes it here.
npm_install() {
  local dir=$1
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    say "installing npm packages in $dir"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
  fi
}

# Chromium for the browser tests, Mosquitto's clients and unzip for the device journey, curl and jq
# for the README's API guide, and what the benchmark's smoke run needs.
ensure_test_tools() {
  ensure_debian_packages chromium mosquitto-clients unzip curl jq
  npm_install end2end
  ensure_schemathesis
  ensure_bench_tools
}

# wrk for the page load figures, and the services.
ensure_bench_tools() {
  ensure_debian_packages wrk
  ensure_services
}

# PostgreSQL and Mosquitto installed and running, for the store and broker tests.
ensure_services() {
  local fresh_postgres=
  if ! command -v pg_ctlcluster >/dev/null; then
    ensure_debian_packages postgresql postgresql-client
    fresh_postgres=1
  fi
  command -v mosquitto >/dev/null || ensure_debian_packages mosquitto
  start_services "$fresh_postgres"
}

# schemathesis (PyPI) for the API contract test, in its own virtualenv under target/.
ensure_schemathesis() {
  local venv=target/tools/schemathesis
  if "$venv/bin/schemathesis" --version 2>/dev/null | grep -q " $SCHEMATHESIS_VERSION\$"; then return; fi
  python3 -m venv --help >/dev/null 2>&1 || ensure_debian_packages python3 python3-venv
  say "installing schemathesis $SCHEMATHESIS_VERSION"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Starts PostgreSQL (127.0.0.1:5432) and Mosquitto (127.0.0.1:1883) when they are down.
start_services() {
  local fresh_postgres=$1 version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  if [ -n "$fresh_postgres" ]; then
    # A freshly installed server asks for passwords on TCP; the tests connect as postgres without one.
    local hba="/etc/postgresql/$version/main/pg_hba.conf"
    as_root sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
  fi
  if ! port_open 5432; then
    say "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
  elif [ -n "$fresh_postgres" ]; then
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  fi
  if ! port_open 1883; then
    say "starting Mosquitto"
    as_root mosquitto -d -c /etc/mosquitto/mosquitto.conf
  fi
  for _ in $(seq 50); do port_open 5432 && port_open 1883 && return; sleep 0.2; done
  say "PostgreSQL (5432) or Mosquitto (1883) did not start"; return 1
}
