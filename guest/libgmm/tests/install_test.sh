#!/bin/sh
# Installs libgmm into a temporary prefix, builds tests/consumer against it
# out of tree (find_package and pkg-config), and runs both consumers
# against a 1-node process-mode cluster.
#   install_test.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
source=$2
work=$(mktemp -d /tmp/gmm-install-XXXXXX)
trap 'GMM_CLUSTER_DIR="$work/cluster" "$build/bin/gmm-host" down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
cmake --install "$build" --component libgmm --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/include/gmm/app.hpp"
test -f "$work/prefix/include/gmm/gmm_c.h"
test -f "$work/prefix/lib/pkgconfig/gmm.pc"
test -f "$work/prefix/lib/cmake/gmm/gmmConfig.cmake"
PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" cmake -S "$source/guest/libgmm/tests/consumer" -B "$work/consumer" \
  -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" cmake --build "$work/consumer" >/dev/null
"$build/bin/gmm-host" --dir "$work/cluster" up --mode proc --nodes 1 --pool-size 32M >/dev/null
export GMM_SOCKET="$work/cluster/node0.sock"
"$work/consumer/consumer_cpp"
"$work/consumer/consumer_c"
echo "install test: PASS"
