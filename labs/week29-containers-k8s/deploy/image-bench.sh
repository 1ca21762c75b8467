#!/usr/bin/env bash
# The scorer's image built three ways with podman, measured side by side in one run:
#   naive       Containerfile.naive       one stage, `COPY . .`, the build in the shipped image;
#   multistage  Containerfile.multistage  dependencies built from the manifests first (a cached
#                                         layer), a slim Debian runtime with the binary, not root;
#   scratch     Containerfile.scratch     the same build linked statically, FROM scratch.
# For each: the cold build (no cache used; its layers stored, as podman 4.3 stores them only with
# --layers), the rebuild after a one-line edit of src/app.rs (with the
# cache: what a developer waits for), the image's size and layers, and the cold start (podman
# run until /readyz answers 200); then SIGTERM, which must stop it with exit status 0. Writes
# deploy/images.json, which the lab's report and the chapter show.
# The build context is the service folder with its dependencies vendored (cargo vendor), so the
# builds need no network. Base images: deploy/base-images.sh (run first, by this script).
# Usage: bash labs/week29-containers-k8s/deploy/image-bench.sh
set -euo pipefail
cd "$(dirname "$0")"
deploy=$PWD
if ! command -v podman > /dev/null 2>&1; then
  echo "podman is not installed: the image measurements are skipped (apt-get install podman runc)"
  exit 0
fi
podman=(podman --runtime runc --cgroup-manager=cgroupfs)
bash base-images.sh
work=$(mktemp -d)
names=()
cleanup() {
  for n in "${names[@]}"; do "${podman[@]}" rm -f "$n" > /dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
ctx="$work/ctx"
cp -r ../service "$ctx"
rm -rf "$ctx/target"
mkdir -p "$ctx/.cargo"
(cd "$ctx" && cargo vendor --locked vendor > .cargo/config.toml 2> "$work/vendor.log") \
  || { cat "$work/vendor.log" >&2; exit 1; }
now() { date +%s.%N; }
secs() { python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 2))" "$1" "$2"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

rows=()
for variant in naive multistage scratch; do
  image="localhost/week29-scorer:$variant"
  cp "$deploy/Containerfile.$variant" "$ctx/Containerfile"
  echo "== $variant: cold build"
  t0=$(now)
  "${podman[@]}" build -q --no-cache --layers=true --format docker -t "$image" "$ctx" > "$work/build.log" 2>&1 \
    || { tail -30 "$work/build.log" >&2; exit 1; }
  build_s=$(secs "$t0" "$(now)")
  echo "== $variant: rebuild after editing src/app.rs"
  cp "$ctx/src/app.rs" "$work/app.rs"
  printf '\n// an edit, %s\n' "$(date +%s%N)" >> "$ctx/src/app.rs"
  t0=$(now)
  "${podman[@]}" build -q --format docker -t "$image" "$ctx" > "$work/build.log" 2>&1 \
    || { tail -30 "$work/build.log" >&2; exit 1; }
  rebuild_s=$(secs "$t0" "$(now)")
  cp "$work/app.rs" "$ctx/src/app.rs"
  size=$("${podman[@]}" image inspect --format '{{.Size}}' "$image")
  layers=$("${podman[@]}" image inspect --format '{{len .RootFS.Layers}}' "$image")
  echo "== $variant: cold start"
  port=$(free_port)
  name="week29-bench-$variant-$$"
  names+=("$name")
  t0=$(now)
  "${podman[@]}" run -d --name "$name" --network=host -e ADDR="127.0.0.1:$port" -e WARMUP_MS=0 "$image" > /dev/null
  ready=""
  for _ in $(seq 1 1000); do
    if curl -sf "http://127.0.0.1:$port/readyz" > /dev/null 2>&1; then ready=1; break; fi
    sleep 0.01
  done
  [ -n "$ready" ] || { echo "$variant never became ready" >&2; "${podman[@]}" logs "$name" >&2; exit 1; }
  cold_ms=$(python3 -c "import sys; print(round((float(sys.argv[2]) - float(sys.argv[1])) * 1000))" "$t0" "$(now)")
  answer=$(curl -sf -X POST -H 'content-type: application/json' -d '{"features": [1, 2, 3, 4]}' "http://127.0.0.1:$port/v1/predict")
  echo "$answer" | grep -q probability || { echo "$variant: no prediction: $answer" >&2; exit 1; }
  "${podman[@]}" stop -t 10 "$name" > /dev/null
  status=$("${podman[@]}" inspect --format '{{.State.ExitCode}}' "$name")
  [ "$status" = 0 ] || { echo "$variant: SIGTERM ended it with status $status, expected 0" >&2; exit 1; }
  echo "   build ${build_s} s, rebuild ${rebuild_s} s, $((size / 1048576)) MiB in $layers layers, ready in ${cold_ms} ms, stopped cleanly"
  rows+=("{\"variant\": \"$variant\", \"size_bytes\": $size, \"layers\": $layers, \"build_s\": $build_s, \"rebuild_s\": $rebuild_s, \"cold_start_ms\": $cold_ms}")
done
measured_on="$(date -u +%F), $(nproc) cores, $("${podman[@]}" --version)"
{
  echo "{"
  echo "  \"measured_on\": \"$measured_on\","
  echo "  \"variants\": ["
  for i in "${!rows[@]}"; do
    sep=","; [ "$i" = $((${#rows[@]} - 1)) ] && sep=""
    echo "    ${rows[$i]}$sep"
  done
  echo "  ]"
  echo "}"
} > "$deploy/images.json"
echo "wrote $deploy/images.json"
