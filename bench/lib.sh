# What the compare_*.sh scripts share; each sources it after `cd` to the repository root.

# venv_for DIR PROGRAM: DIR/.venv with DIR/requirements.txt installed, created the first time
# (PROGRAM, a file of its bin/, tells whether an earlier install finished).
venv_for() {
  if [ ! -x "$1/.venv/bin/$2" ]; then
    python3 -m venv "$1/.venv"
    "$1/.venv/bin/pip" install -q -r "$1/requirements.txt"
  fi
}

# target_dir PROFILE: where cargo puts that profile's binaries (CARGO_TARGET_DIR is honoured).
target_dir() {
  local root
  root=$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  if [ "$1" = dev ]; then echo "$root/debug"; else echo "$root/$1"; fi
}

# port_free PORT: fails, naming it, when something already answers there (a service left over
# from an earlier run would be measured instead of the one about to start).
port_free() {
  if curl -s -o /dev/null "http://127.0.0.1:$1/"; then
    echo "port $1 is already in use: stop what listens there first" >&2
    exit 1
  fi
}

# wait_for PORT LOG...: waits (60 s at most) until http://127.0.0.1:PORT/healthz answers; else
# prints the logs and fails.
wait_for() {
  local port=$1
  shift
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/healthz" > /dev/null && return
    sleep 0.1
  done
  echo "port $port never answered:" >&2
  cat "$@" >&2
  exit 1
}
