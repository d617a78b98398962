#!/usr/bin/env bash
# Build static release binaries of octane-import with version information, into dist/.
#
#   scripts/release.sh                     # every platform below
#   scripts/release.sh linux/amd64         # only some
#   VERSION=v1.2.0 scripts/release.sh      # default: git describe --tags --always --dirty
#
# Platforms: linux, darwin (macOS), windows × amd64, arm64. CGO_ENABLED=0 (static, no libc),
# -trimpath (no local paths in the binary), version, commit and date through -ldflags.
# Each binary that can run here is started with --version and its answer checked: the one
# of this machine's platform, and others through qemu-user (qemu-aarch64, qemu-x86_64) when
# installed. dist/SHA256SUMS lists the checksums.
set -euo pipefail
cd "$(dirname "$0")/.."

version=${VERSION:-}
[ -n "$version" ] || version=$(git describe --tags --always --dirty 2>/dev/null) || version=dev
commit=${COMMIT:-}
[ -n "$commit" ] || commit=$(git rev-parse --verify -q HEAD 2>/dev/null) || commit=unknown
date=${DATE:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}
for v in "$version" "$commit" "$date"; do
    case $v in *[[:space:]]*|"") echo "release.sh: version, commit and date must be single words: \"$v\"" >&2; exit 2 ;; esac
done
platforms=("$@")
if [ ${#platforms[@]} -eq 0 ]; then
    platforms=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64)
fi
ldflags="-s -w -X main.version=$version -X main.commit=$commit -X main.date=$date"
want="octane-import $version (commit ${commit:0:12}, built $date)"
host="$(go env GOHOSTOS)/$(go env GOHOSTARCH)"

mkdir -p dist
status=0
for p in "${platforms[@]}"; do
    os=${p%/*} arch=${p#*/}
    out="dist/octane-import-$version-$os-$arch"
    [ "$os" = windows ] && out="$out.exe"
    echo "== $p -> $out"
    CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags "$ldflags" -o "$out" ./cmd/octane-import

    # Can it start here?
    runner=()
    if [ "$p" = "$host" ]; then
        runner=()
    elif [ "$os" = linux ] && [ "$arch" = arm64 ] && command -v qemu-aarch64 >/dev/null; then
        runner=(qemu-aarch64)
    elif [ "$os" = linux ] && [ "$arch" = amd64 ] && command -v qemu-x86_64 >/dev/null; then
        runner=(qemu-x86_64)
    else
        echo "   not started: cannot run $p binaries on $host"
        continue
    fi
    got=$("${runner[@]}" "./$out" --version) || { echo "   FAILED to start"; status=1; continue; }
    if [ "$got" = "$want" ]; then
        echo "   $got"
    else
        echo "   FAILED: --version printed \"$got\", want \"$want\""
        status=1
    fi
done
(cd dist && { command -v sha256sum >/dev/null && sha256sum octane-import-"$version"-* || shasum -a 256 octane-import-"$version"-*; } > SHA256SUMS)
echo "== dist/SHA256SUMS"; cat dist/SHA256SUMS
exit $status
