#!/usr/bin/env bash
# The version is written once, in CMakeLists.txt's project(VERSION): both
# programs print it and the Kustomize base tags its images with it.
# Usage: version.sh SOURCE_DIR BUILD_DIR PROJECT_VERSION
set -euo pipefail
src=${1:?} build=${2:?} want=${3:?}
fail() { echo "FAIL: $*"; exit 1; }

out=$("$build/bin/mailferry" --version)
[ "$out" = "mailferry $want" ] || fail "mailferry --version: \"$out\", want \"mailferry $want\""
out=$("$build/bin/mailferry-worker" --version)
[ "$out" = "mailferry-worker $want" ] ||
    fail "mailferry-worker --version: \"$out\", want \"mailferry-worker $want\""

tags=$(grep -E '^\s*newTag:' "$src/deploy/k8s/base/kustomization.yaml" |
       awk '{print $2}' | sort -u)
[ -n "$tags" ] || fail "no newTag in deploy/k8s/base/kustomization.yaml"
[ "$tags" = "$want" ] ||
    fail "deploy/k8s/base/kustomization.yaml tags images $tags, project(VERSION) is $want"
echo "ok: version $want everywhere"
