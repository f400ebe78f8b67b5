#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# prepare.sh NAME: everything before a boot of config NAME: dependencies, the
# tree (base + series), the config, the build, the layout check, the initramfs.
. "$(dirname "$0")/lib.sh"

name=${1:?usage: prepare.sh NAME}
h=$TOP/harness
"$h/deps.sh"
"$h/tree.sh"
"$h/config.sh" "$name"
"$h/build.sh" "$name"
"$h/layout.sh" "$name"
"$h/initramfs.sh" "$name"
