#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# config.sh NAME: configure $BUILD/obj-NAME from configs/base.config plus
# configs/NAME.config (allnoconfig, then the fragments), and check that every
# option the fragments ask for is really set. NAME may name variants after a
# '+': test+noinline is configs/test.config, then configs/noinline.config.
. "$(dirname "$0")/lib.sh"

name=${1:?usage: config.sh NAME}
obj=$BUILD/obj-$name
frags=("$TOP/configs/base.config")
IFS=+ read -r -a parts <<<"$name"
for p in "${parts[@]}"; do frags+=("$TOP/configs/$p.config"); done
for f in "${frags[@]}"; do [ -r "$f" ] || die "no config fragment $f"; done

mkdir -p "$obj"
want=$obj/fragments.config
cat "${frags[@]}" >"$want.new"
if cmp -s "$want.new" "$want" && [ -f "$obj/.config" ]; then
	rm "$want.new"
else
	say "configuring $name"
	rm -f "$want"
	# A variant's fragment overrides the options it names on purpose:
	# kconfig's warnings about that are not findings.
	kmake "$name" KCONFIG_ALLCONFIG="$want.new" allnoconfig >/dev/null 2>"$obj/kconfig.log" || {
		cat "$obj/kconfig.log" >&2
		die "allnoconfig for $name failed"
	}
	grep -v 'warning: override: reassigning to symbol' "$obj/kconfig.log" >&2 || true
	mv "$want.new" "$want"
fi

# Every "CONFIG_X=v" and "# CONFIG_X is not set" asked for must hold: the
# last of them for each X, as a later fragment overrides an earlier one.
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		grep -qxF "$line" "$obj/.config" || {
			echo "error: config $name: $line was dropped (got: $(grep -E "^(# )?${line%%=*}[= ]" "$obj/.config" || echo unset))" >&2
			bad=1
		} ;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }; sym=${sym%% *}
		! grep -q "^$sym=" "$obj/.config" || { echo "error: config $name: $sym should be off" >&2; bad=1; } ;;
	esac
done < <(awk '{ sym = $0; sub(/^# /, "", sym); sub(/[= ].*/, "", sym) }
	sym ~ /^CONFIG_/ { last[sym] = $0; order[sym] = NR }
	END { for (s in last) print order[s], last[s] }' "$want" | sort -n | cut -d" " -f2-)
if [ $bad -ne 0 ]; then
	rm -f "$want" # the next run must configure again
	die "config $name is missing options it asks for (a dependency is off or the option does not exist)"
fi
