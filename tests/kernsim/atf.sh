# kernsim: atf-sh, as much of it as tests/sys/devref's test programs use,
# for running their case bodies as written against a `kernsim serve`
# (cases/kyua-as-written.sh, cases/devecho-as-written.sh; sourced after
# lib.sh).  atf_check's `test -c` / `test -e` on /dev is answered by
# kernsim's devfs.
atf_test_case() { :; }
atf_set() { :; }
atf_add_test_case() { :; }
atf_get_srcdir() { echo "$KS_TOP/tests/sys/devref"; }
atf_fail() { fail "atf_fail: $*"; }
atf_skip() { echo "SKIP $*"; ks_stop; exit 77; }
atf_check_equal()
{
	[ "$1" = "$2" ] || fail "atf_check_equal: '$1' != '$2'"
}

# atf_check_out FILE SPEC: one -o/-e expectation on FILE.
atf_check_out()
{
	case $2 in
	ignore)		;;
	empty)		[ ! -s "$1" ] || { cat "$1"; return 1; } ;;
	match:*)	grep -Eq -- "${2#match:}" "$1" || { cat "$1"; return 1; } ;;
	not-match:*)	! grep -Eq -- "${2#not-match:}" "$1" || { cat "$1"; return 1; } ;;
	inline:*)	printf '%b' "${2#inline:}" | cmp -s - "$1" ||
			    { cat "$1"; return 1; } ;;
	*)		echo "atf_check: -o/-e $2 not emulated"; return 1 ;;
	esac
}

atf_check()
{
	local st=exit:0 outs="" errs="" rc i
	while [ $# -gt 0 ]; do
		case $1 in
		-s)	st=$2; shift 2 ;;
		-o)	outs="$outs$2
"; shift 2 ;;
		-e)	errs="$errs$2
"; shift 2 ;;
		*)	break ;;
		esac
	done
	rc=0
	if [ "$1" = test ] && [ $# -eq 3 ] && [ "${3#/dev/}" != "$3" ]; then
		# test -c/-e on /dev: kernsim's devfs.
		ks dev-exists "$3" > atf.out 2> atf.err || rc=1
	else
		"$@" > atf.out 2> atf.err || rc=$?
	fi
	case $st in
	exit:*)		[ "$rc" -eq "${st#exit:}" ] ||
			    { cat atf.out atf.err; fail "atf_check: $* exited $rc, not ${st#exit:}"; } ;;
	not-exit:*)	[ "$rc" -ne "${st#not-exit:}" ] ||
			    { cat atf.out atf.err; fail "atf_check: $* exited $rc"; } ;;
	*)		fail "atf_check: -s $st not emulated" ;;
	esac
	# Each expectation on its own line (a pattern may hold spaces).
	printf '%s' "$outs" > atf.specs
	while IFS= read -r i; do
		atf_check_out atf.out "$i" || fail "atf_check: $*: stdout not $i"
	done < atf.specs
	printf '%s' "$errs" > atf.specs
	while IFS= read -r i; do
		atf_check_out atf.err "$i" || fail "atf_check: $*: stderr not $i"
	done < atf.specs
	return 0
}

