#!/usr/bin/env bash
# fakebox benchmark: the same workloads under native (baseline), fakebox, fakeroot,
# pseudo (fakeroot-pseudo) and proot -0, taking turns, as an unprivileged user.
#
#   bench/run.sh                          # everything, REPS=3
#   REPS=1 ONLY='statstorm|exec' bench/run.sh
#   TOOLS="native fakebox fakeroot" bench/run.sh > results.md
#
# Environment:
#   REPS=N      timed repetitions per workload and tool (default 3); the cell is the median
#   ONLY=RE     extended regex; run only the workloads whose name matches
#   TOOLS=LIST  tools to run, from: native fakebox fakeroot pseudo proot (default: all five)
#   FAKEBOX=P   the fakebox binary (default: target/release/fakebox of this checkout);
#               libfakebox.so must sit beside it
#   WARMUP=0|1  run each workload once natively, untimed, before timing it (default 1),
#               so that the page cache is warm for the baseline too
#   KEEP=1      keep the work dir (logs, tarball, built programs) instead of deleting it
#   BENCH_USER  uid:gid to drop to when started as root (default 65534:65534)
#   BENCH_DIR   where the work dir is made (default: /dev/shm when it is a tmpfs with 2 GiB
#               free, else ${TMPDIR:-/tmp}). tmpfs on purpose: on ext4, creating files within
#               a minute or so of deleting many others makes inode allocation scan
#               (ext4 recently_deleted()), so a tar extraction right after the previous
#               run's clean-up takes 5-30x longer, erratically, whatever the tool.
#
# The markdown table goes to stdout; progress and diagnostics go to stderr.
# Workload scripts are single-quoted on purpose: they expand inside the session's sh.
# shellcheck disable=SC2016
set -uo pipefail
export LC_ALL=C

SCRIPT_PATH=$(readlink -f "${BASH_SOURCE[0]}")
SCRIPT_DIR=$(dirname "$SCRIPT_PATH")
ALL_TOOLS="native fakebox fakeroot pseudo proot"
ALL_WORKLOADS="extract package statstorm exec build gowalk parallel"
REPS=${REPS:-3}
ONLY=${ONLY:-}
TOOLS=${TOOLS:-$ALL_TOOLS}
WARMUP=${WARMUP:-1}
KEEP=${KEEP:-0}

log() { printf '%s\n' "bench: $*" >&2; }
pick_base() {
	if [ -n "${BENCH_DIR:-}" ]; then
		printf '%s' "$BENCH_DIR"
	elif [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && [ -w /dev/shm ] &&
		[ "$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')" -gt 2097152 ]; then
		printf /dev/shm
	else
		printf '%s' "${TMPDIR:-/tmp}"
	fi
}
die() { log "$*"; exit 2; }

case $REPS in '' | *[!0-9]* | 0) die "REPS must be a positive integer, got '$REPS'" ;; esac
for t in $TOOLS; do
	case " $ALL_TOOLS " in *" $t "*) ;; *) die "unknown tool '$t' in TOOLS (known: $ALL_TOOLS)" ;; esac
done

# ---------------------------------------------------------------------------------------
# As root: prepare a work dir the unprivileged user owns, copy fakebox there, and run this
# script again as that user. Root's own files are never touched by the workloads.
# ---------------------------------------------------------------------------------------
if [ "$(id -u)" -eq 0 ] && [ -z "${BENCH_CHILD:-}" ]; then
	command -v setpriv >/dev/null || die "running as root needs setpriv (util-linux) to drop to an unprivileged user"
	BENCH_USER=${BENCH_USER:-65534:65534}
	buid=${BENCH_USER%%:*}
	bgid=${BENCH_USER##*:}
	fb=${FAKEBOX:-$SCRIPT_DIR/../target/release/fakebox}
	FAKEBOX_REV=${FAKEBOX_REV:-$(git -C "$(dirname "$fb")" describe --always --dirty 2>/dev/null || true)}
	[ -n "$FAKEBOX_REV" ] && FAKEBOX_REV="built $(date -u -r "$fb" '+%Y-%m-%d %H:%M UTC' 2>/dev/null) from $FAKEBOX_REV"
	base=$(pick_base)
	work=$(mktemp -d "$base/fakebox-bench.XXXXXX") || die "cannot create a work dir under $base"
	chmod 755 "$work"
	mkdir -p "$work/bin"
	cp "$SCRIPT_PATH" "$work/bin/run.sh"
	child_fb=$work/bin/fakebox
	if [ -x "$fb" ] && [ -f "$(dirname "$fb")/libfakebox.so" ]; then
		cp "$fb" "$(dirname "$fb")/libfakebox.so" "$work/bin/"
	else
		log "fakebox not found at $fb (or libfakebox.so not beside it): build it with 'cargo build --release --workspace'; fakebox is reported as missing"
		child_fb=$work/bin/fakebox-missing
	fi
	chmod -R a+rX "$work/bin"
	chown "$buid:$bgid" "$work"
	log "running as uid $buid gid $bgid in $work"
	cd "$work" || die "cannot enter $work"
	setpriv --reuid="$buid" --regid="$bgid" --clear-groups \
		env BENCH_CHILD=1 BENCH_WORK="$work" HOME="$work" FAKEBOX="$child_fb" FAKEBOX_REV="$FAKEBOX_REV" \
		REPS="$REPS" ONLY="$ONLY" TOOLS="$TOOLS" WARMUP="$WARMUP" KEEP=1 \
		bash "$work/bin/run.sh"
	rc=$?
	if [ "$KEEP" = 1 ]; then
		log "work dir kept: $work"
	else
		chmod -R u+rwX "$work" 2>/dev/null
		rm -rf "$work"
	fi
	exit "$rc"
fi

# ---------------------------------------------------------------------------------------
# Unprivileged part.
# ---------------------------------------------------------------------------------------
if [ -n "${BENCH_WORK:-}" ]; then
	W=$BENCH_WORK
else
	base=$(pick_base)
	W=$(mktemp -d "$base/fakebox-bench.XXXXXX") || die "cannot create a work dir under $base"
fi
FAKEBOX=${FAKEBOX:-$SCRIPT_DIR/../target/release/fakebox}
if [ -z "${FAKEBOX_REV:-}" ] && [ -x "$FAKEBOX" ]; then
	FAKEBOX_REV=$(git -C "$(dirname "$FAKEBOX")" describe --always --dirty 2>/dev/null || true)
	[ -n "$FAKEBOX_REV" ] && FAKEBOX_REV="built $(date -u -r "$FAKEBOX" '+%Y-%m-%d %H:%M UTC') from $FAKEBOX_REV"
fi
cd "$W" || die "cannot enter $W"
mkdir -p "$W/logs"

# shellcheck disable=SC2317 # called by the trap
cleanup_work() {
	if [ "$KEEP" != 1 ] && [ -z "${BENCH_WORK:-}" ]; then
		chmod -R u+rwX "$W" 2>/dev/null
		rm -rf "$W"
	fi
}
trap cleanup_work EXIT

# Remove a tree even when it holds directories without write or search permission.
rmtree() {
	[ -e "$1" ] || return 0
	chmod -R u+rwX "$1" 2>/dev/null
	rm -rf "$1"
}

# Which tools are present; a missing one gets "missing" in every cell.
declare -A MISSING=()
tool_version() {
	case $1 in
	native) printf 'sh (%s)' "$(readlink -f /bin/sh)" ;;
	fakebox)
		printf '%s%s' "$("$FAKEBOX" --version 2>/dev/null | head -n1)" "${FAKEBOX_REV:+ ($FAKEBOX_REV)}"
		;;
	fakeroot) fakeroot --version 2>/dev/null | head -n1 ;;
	pseudo) printf 'pseudo %s' "$(dpkg-query -W -f='${Version}' pseudo 2>/dev/null || echo '?')" ;;
	proot) printf 'proot %s' "$(dpkg-query -W -f='${Version}' proot 2>/dev/null || echo '?')" ;;
	esac
}
for t in $TOOLS; do
	case $t in
	fakebox) { [ -x "$FAKEBOX" ] && [ -f "$(dirname "$FAKEBOX")/libfakebox.so" ]; } || MISSING[$t]=1 ;;
	fakeroot) command -v fakeroot >/dev/null || MISSING[$t]=1 ;;
	pseudo) { command -v fakeroot-pseudo >/dev/null && command -v pseudo >/dev/null; } || MISSING[$t]=1 ;;
	proot) command -v proot >/dev/null || MISSING[$t]=1 ;;
	esac
	if [ -n "${MISSING[$t]:-}" ]; then log "$t: not installed, reported as missing"; fi
done

WORKLOADS=""
for w in $ALL_WORKLOADS; do
	if [ -z "$ONLY" ] || [[ $w =~ $ONLY ]]; then WORKLOADS="$WORKLOADS $w"; fi
done
[ -n "$WORKLOADS" ] || die "ONLY='$ONLY' matches no workload (workloads: $ALL_WORKLOADS)"

has_workload() { case " $WORKLOADS " in *" $1 "*) return 0 ;; esac; return 1; }

NOTES=()
note() { NOTES+=("$*"); }

# ---------------------------------------------------------------------------------------
# Preparation, once, outside any timing.
# ---------------------------------------------------------------------------------------
TREE_ENTRIES=""
if has_workload extract || has_workload package; then
	dirs=(usr/share/doc usr/share/man)
	n=$(cd / && find "${dirs[@]}" 2>/dev/null | wc -l)
	for extra in usr/share/locale usr/lib; do
		[ "$n" -ge 25000 ] && break
		dirs+=("$extra")
		n=$(cd / && find "${dirs[@]}" 2>/dev/null | wc -l)
	done
	log "preparing tree.tar from /${dirs[*]}"
	tar --numeric-owner -cf "$W/tree.tar" -C / "${dirs[@]}" 2>"$W/logs/tree-tar.err"
	trc=$?
	[ -s "$W/tree.tar" ] || die "could not make the tarball: $(head -n3 "$W/logs/tree-tar.err")"
	if [ "$trc" -ne 0 ]; then
		note "the tarball skipped unreadable entries: $(head -n1 "$W/logs/tree-tar.err")"
	fi
	TREE_ENTRIES=$(tar -tf "$W/tree.tar" | wc -l)
	TREE_DIRS="/${dirs[*]}"
	TREE_DIRS=${TREE_DIRS// / \/}
	log "tree.tar: $TREE_ENTRIES entries, $(du -h "$W/tree.tar" | cut -f1) (from $TREE_DIRS)"
fi

if has_workload build; then
	mkdir -p "$W/build"
	for i in $(seq -w 1 39); do
		n=$((10#$i)) # f08.c, but 8 (not the octal-looking 08) in C
		cat >"$W/build/f$i.c" <<EOF
unsigned long f$i(unsigned long x)
{
	unsigned long acc = $n;
	for (int k = 0; k < 16; k++) {
		acc = acc * 31u + (x ^ (unsigned long)k);
		acc ^= acc >> 7;
	}
	return acc + x * $n;
}
EOF
	done
	{
		echo '#include <stdio.h>'
		for i in $(seq -w 1 39); do echo "unsigned long f$i(unsigned long);"; done
		echo 'int main(void)'
		echo '{'
		echo '	unsigned long s = 0;'
		for i in $(seq -w 1 39); do echo "	s += f$i(s + $((10#$i)));"; done
		printf '\tprintf("%%lu\\n", s);\n'
		echo '	return 0;'
		echo '}'
	} >"$W/build/main.c"
	printf '%s\n' \
		'SRCS := $(sort $(wildcard *.c))' \
		'OBJS := $(SRCS:.c=.o)' \
		'CC ?= cc' \
		'CFLAGS ?= -O2' \
		'prog: $(OBJS)' \
		'	$(CC) -o $@ $(OBJS)' \
		'%.o: %.c' \
		'	$(CC) $(CFLAGS) -c -o $@ $<' \
		'clean:' \
		'	rm -f prog $(OBJS)' \
		'.PHONY: clean' >"$W/build/Makefile"
	if ! command -v make >/dev/null || ! command -v cc >/dev/null; then
		note "build: make or cc is not installed, so every tool fails it"
	fi
fi

GOWALK_MISSING=""
if has_workload gowalk; then
	if ! command -v go >/dev/null; then
		GOWALK_MISSING="go is not installed"
	else
		mkdir -p "$W/gowalk-src"
		cat >"$W/gowalk-src/main.go" <<'EOF'
// gowalk: lstat every entry under a tree (default /usr/share) and print the count; with a
// second argument, also the uid that lstat reports for that path (the bench passes its own
// work dir, which the unprivileged user owns: 0 means the fake reached this program).
// Built static (CGO_ENABLED=0): LD_PRELOAD cannot reach it, only ptrace can.
package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

func main() {
	root := "/usr/share"
	if len(os.Args) > 1 {
		root = os.Args[1]
	}
	n := 0
	var st syscall.Stat_t
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // an unreadable directory: skip it, as ls does
		}
		if syscall.Lstat(p, &st) == nil {
			n++
		}
		return nil
	})
	fmt.Printf("%d entries lstat'ed under %s", n, root)
	if len(os.Args) > 2 {
		if err := syscall.Lstat(os.Args[2], &st); err == nil {
			fmt.Printf("; %s is owned by uid %d", os.Args[2], st.Uid)
		}
	}
	fmt.Println()
}
EOF
		log "building gowalk (static Go)"
		if ! (cd "$W/gowalk-src" && CGO_ENABLED=0 GO111MODULE=off GOFLAGS='' \
			GOCACHE="$W/gocache" GOPATH="$W/gopath" go build -o "$W/gowalk" main.go) \
			>"$W/logs/gowalk-build.log" 2>&1; then
			GOWALK_MISSING="go build failed: $(tail -n1 "$W/logs/gowalk-build.log")"
		fi
		rmtree "$W/gocache"
	fi
	if [ -n "$GOWALK_MISSING" ]; then
		log "gowalk: $GOWALK_MISSING; reported as missing for every tool"
		note "gowalk: missing for every tool ($GOWALK_MISSING)"
	fi
fi

# ---------------------------------------------------------------------------------------
# Workloads: the script that one session of a tool runs (sh -c), plus untimed set-up and
# clean-up around it.
# ---------------------------------------------------------------------------------------
# Quote for sh -c (POSIX single quotes).
q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
MYIDS="$(id -u):$(id -g)"
LSCMD='ls -lnR /usr/share /usr/lib >/dev/null 2>&1'

# workload_script WORKLOAD TOOL -> the sh -c text
workload_script() {
	local w=$1 tool=$2 sameowner="--same-owner " owner="0:0" x
	x=$(q "$W/x")
	if [ "$tool" = native ]; then
		sameowner=""       # a user cannot chown: plain tar xpf is the baseline
		owner=$MYIDS       # chown to the user's own ids
	fi
	case $w in
	extract)
		printf 'mkdir %s && cd %s && tar %s-xpf %s' "$x" "$x" "$sameowner" "$(q "$W/tree.tar")"
		;;
	package)
		printf 'mkdir %s && cd %s && tar %s-xpf %s && chown -R %s usr/share/doc && chmod -R go-w . && ' \
			"$x" "$x" "$sameowner" "$(q "$W/tree.tar")" "$owner"
		printf "find . -printf '%%u:%%g %%m %%p\\\\n' >/dev/null && tar --numeric-owner -cf - . >/dev/null"
		;;
	statstorm)
		# ls exits 1 for a subdirectory it may not read (as an unprivileged user there are
		# a few, e.g. /usr/share/polkit-1/rules.d); 2 or more is a real failure.
		printf '%s; [ $? -le 1 ]' "$LSCMD"
		;;
	exec)
		printf 'i=0; while [ $i -lt 400 ]; do /bin/true || exit 1; i=$((i+1)); done'
		;;
	build)
		printf 'make -s -j2 -C %s' "$(q "$W/build")"
		;;
	gowalk)
		printf '%s /usr/share %s' "$(q "$W/gowalk")" "$(q "$W")"
		;;
	parallel)
		printf 'p=; for i in 1 2 3 4; do %s & p="$p $!"; done; rc=0; ' "$LSCMD"
		printf 'for j in $p; do wait $j; s=$?; [ $s -le 1 ] || rc=$s; done; exit $rc'
		;;
	esac
}

workload_setup() {
	case $1 in
	extract | package) rmtree "$W/x" ;;
	build) make -s -C "$W/build" clean >/dev/null 2>&1 ;;
	esac
}
workload_cleanup() {
	case $1 in
	extract | package) rmtree "$W/x" ;;
	build) make -s -C "$W/build" clean >/dev/null 2>&1 ;;
	esac
}

workload_desc() {
	case $1 in
	extract) echo "tar -xpf of a ${TREE_ENTRIES:-?}-entry tree (--same-owner under the fakes)" ;;
	package) echo "extract, chown -R, chmod -R go-w, find -printf owners, tar -c to /dev/null" ;;
	statstorm) echo "ls -lnR /usr/share /usr/lib" ;;
	exec) echo "400 x /bin/true from a shell loop" ;;
	build) echo "make -j2 of 40 small C files" ;;
	gowalk) echo "static Go program: WalkDir + Lstat of /usr/share" ;;
	parallel) echo "4 x statstorm at once" ;;
	esac
}

# Stop a pseudo server that a session left behind (it would idle for 30 s and then write
# its database) and wait for it, so that it cannot steal time from the next tool.
stop_pseudo() {
	local sd=$1 pid i st
	[ -f "$sd/pseudo.pid" ] || return 0
	pid=$(cat "$sd/pseudo.pid" 2>/dev/null)
	PSEUDO_PREFIX=/usr PSEUDO_LOCALSTATEDIR=$sd pseudo -S >/dev/null 2>&1
	for ((i = 0; i < 300; i++)); do
		if [ -z "$pid" ] || [ ! -r "/proc/$pid/stat" ]; then break; fi
		st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)
		[ "$st" = Z ] && break
		sleep 0.1
	done
}

SEQ=0
# run_session TOOL WORKLOAD -> sets R_TIME (seconds) and R_RC; logs in $W/logs
run_session() {
	local tool=$1 w=$2 script t0 t1 sd="" out err
	script=$(workload_script "$w" "$tool")
	SEQ=$((SEQ + 1))
	out="$W/logs/$w.$tool.$SEQ.out"
	err="$W/logs/$w.$tool.$SEQ.err"
	workload_setup "$w"
	local -a cmd
	case $tool in
	native) cmd=(sh -c "$script") ;;
	fakebox) cmd=("$FAKEBOX" run -- sh -c "$script") ;;
	fakeroot) cmd=(fakeroot -- sh -c "$script") ;;
	pseudo)
		sd="$W/pseudo-state.$SEQ"
		cmd=(fakeroot-pseudo -s "$sd" -- sh -c "$script")
		;;
	proot) cmd=(proot -0 sh -c "$script") ;;
	esac
	printf '%q ' "${cmd[@]}" >"$W/logs/$w.$tool.$SEQ.cmd"
	sync
	t0=$EPOCHREALTIME
	"${cmd[@]}" >"$out" 2>"$err" </dev/null
	R_RC=$?
	t1=$EPOCHREALTIME
	R_TIME=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
	if [ -n "$sd" ]; then
		stop_pseudo "$sd"
		rmtree "$sd"
	fi
	workload_cleanup "$w"
}

median() { # numbers on stdin -> median
	sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1;
		if (NR % 2) printf "%.6f", v[(NR + 1) / 2]; else printf "%.6f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ---------------------------------------------------------------------------------------
# The run: per workload, REPS rounds; in each round every tool once, always in the same
# order, so that drift of the machine hits all alike.
# ---------------------------------------------------------------------------------------
# Preflight, untimed: is each fake tool in effect at all? (id -u inside a session)
declare -A IDU=()
for t in $TOOLS; do
	[ -n "${MISSING[$t]:-}" ] && continue
	case $t in
	native) pf=(sh -c 'id -u') ;;
	fakebox) pf=("$FAKEBOX" run -- sh -c 'id -u') ;;
	fakeroot) pf=(fakeroot -- sh -c 'id -u') ;;
	pseudo) pf=(fakeroot-pseudo -s "$W/pseudo-state.preflight" -- sh -c 'id -u') ;;
	proot) pf=(proot -0 sh -c 'id -u') ;;
	esac
	IDU[$t]=$("${pf[@]}" 2>"$W/logs/preflight.$t.err" </dev/null | head -n1)
	[ "$t" = pseudo ] && { stop_pseudo "$W/pseudo-state.preflight"; rmtree "$W/pseudo-state.preflight"; }
	if [ "$t" != native ] && [ "${IDU[$t]}" != 0 ]; then
		note "$t: id -u inside a session printed '${IDU[$t]}', not 0: $(head -n1 "$W/logs/preflight.$t.err")"
	fi
done

declare -A CELL=() MED=() RAW=()
START=$EPOCHREALTIME
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for w in $WORKLOADS; do
	declare -A TIMES=() FAILED=()
	if [ "$w" = gowalk ] && [ -n "$GOWALK_MISSING" ]; then
		for t in $TOOLS; do CELL[$w.$t]=missing; done
		continue
	fi
	if [ "$WARMUP" = 1 ]; then
		log "$w: warm-up (native, untimed)"
		run_session native "$w"
	fi
	for ((r = 1; r <= REPS; r++)); do
		for t in $TOOLS; do
			[ -n "${MISSING[$t]:-}" ] && continue
			[ -n "${FAILED[$t]:-}" ] && continue # one failure decides the cell
			run_session "$t" "$w"
			err_path="$W/logs/$w.$t.$SEQ.err"
			if [ "$R_RC" -ne 0 ]; then
				FAILED[$t]=1
				log "$w / $t (round $r): FAILED, exit $R_RC after ${R_TIME%????} s; stderr: $(tail -n2 "$err_path" 2>/dev/null)"
			else
				TIMES[$t]="${TIMES[$t]:-} $R_TIME"
				log "$w / $t (round $r): ${R_TIME%????} s"
			fi
			# Anything a session printed on stderr is worth a note (dedup'd).
			if [ -s "$err_path" ]; then
				first=$(grep -m1 -v '^[[:space:]]*$' "$err_path" | cut -c1-240)
				[ "$R_RC" -ne 0 ] && first="exit $R_RC: $(tail -n1 "$err_path" | cut -c1-240)"
				key="$w / $t: $first"
				case " ${NOTES[*]} " in *"$key"*) ;; *) note "$key" ;; esac
			fi
			# What the static Go program saw tells whether the fake reached it at all.
			if [ "$w" = gowalk ] && [ "$R_RC" -eq 0 ]; then
				key="gowalk / $t saw: $(head -n1 "$W/logs/$w.$t.$SEQ.out" | cut -c1-240)"
				case " ${NOTES[*]} " in *"$key"*) ;; *) note "$key" ;; esac
			fi
		done
	done
	for t in $TOOLS; do
		if [ -n "${MISSING[$t]:-}" ]; then
			CELL[$w.$t]=missing
		elif [ -n "${FAILED[$t]:-}" ]; then
			CELL[$w.$t]=failed
		else
			read -ra tv <<<"${TIMES[$t]}"
			MED[$w.$t]=$(printf '%s\n' "${tv[@]}" | median)
		fi
	done
	# The ratio pairs each run with native's run of the same round (the tools of a round
	# run back to back, so a slow stretch of the machine hits both) and takes the median.
	for t in $TOOLS; do
		[ -n "${MED[$w.$t]:-}" ] || continue
		if [ -n "${MED[$w.native]:-}" ]; then
			ratio=$(paste -d' ' <(printf '%s\n' ${TIMES[$t]}) <(printf '%s\n' ${TIMES[native]}) |
				awk '$2 > 0 { printf "%.6f\n", $1 / $2 }' | median)
			CELL[$w.$t]=$(awk -v m="${MED[$w.$t]}" -v r="$ratio" 'BEGIN { printf "%.2f s (%.1fx)", m, r }')
		else
			CELL[$w.$t]=$(awk -v m="${MED[$w.$t]}" 'BEGIN { printf "%.2f s", m }')
		fi
	done
	for t in $TOOLS; do
		RAW[$w.$t]="${TIMES[$t]:-}${FAILED[$t]:+ failed}"
	done
	unset TIMES FAILED
done
ELAPSED=$(awk -v a="$START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')

# ---------------------------------------------------------------------------------------
# Report (stdout): paste-ready markdown.
# ---------------------------------------------------------------------------------------
echo "## fakebox benchmark"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- kernel: $(uname -r)"
echo "- nproc: $(nproc)"
echo "- cpu: $(grep -m1 '^model name' /proc/cpuinfo | sed 's/^model name[[:space:]]*:[[:space:]]*//')"
echo "- user: uid $(id -u) gid $(id -g); REPS=$REPS, median of REPS; ratio = median over the rounds of (time / native's time in the same round)"
for t in $TOOLS; do
	if [ -n "${MISSING[$t]:-}" ]; then echo "- $t: missing"; else echo "- $t: $(tool_version "$t"); id -u inside: ${IDU[$t]:-?}"; fi
done
[ -n "$TREE_ENTRIES" ] && echo "- extract/package tree: $TREE_ENTRIES entries from $TREE_DIRS"
echo "- work dir (extraction, build): $W ($(stat -f -c %T "$W"))"
echo "- wall time of the run (sessions, warm-ups, set-up): ${ELAPSED} s; load average before: $LOAD_START, after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
header="| workload |"
rule="| --- |"
for t in $TOOLS; do
	header="$header $t |"
	rule="$rule ---: |"
done
echo "$header"
echo "$rule"
for w in $WORKLOADS; do
	row="| $w |"
	for t in $TOOLS; do row="$row ${CELL[$w.$t]:-?} |"; done
	echo "$row"
done
echo
echo "Workloads:"
for w in $WORKLOADS; do echo "- $w: $(workload_desc "$w")"; done
echo
echo "Every timed run, in run order (s):"
for w in $WORKLOADS; do
	line="- $w:"
	for t in $TOOLS; do
		[ -n "${RAW[$w.$t]:-}" ] || continue
		line="$line $t$(printf '%s\n' "${RAW[$w.$t]}" | awk '{ for (i = 1; i <= NF; i++) printf " %s", ($i ~ /^[0-9.]+$/) ? sprintf("%.2f", $i) : $i }');"
	done
	echo "${line%;}"
done
if [ "${#NOTES[@]}" -gt 0 ]; then
	echo
	echo "Notes (failures, the first stderr line of any session that printed one, what gowalk saw):"
	for n in "${NOTES[@]}"; do echo "- $n"; done
fi
[ "$KEEP" = 1 ] && [ -z "${BENCH_WORK:-}" ] && log "work dir kept: $W"
exit 0
