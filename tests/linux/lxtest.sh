# SPDX-License-Identifier: MIT
# /lib/lxtest.sh: helpers for the test scripts of the sidecar test
# initramfs (tests/linux/tests/NAME.sh, run by /init for lxtest=NAME).
# A test script starts with `. /lib/lxtest.sh`, adds keys to the
# LINUX-REPORT line with the functions below and exits 0 when it passed
# (any other status makes the report's "ok" false).
#
#   rep_str KEY TEXT     "KEY": "TEXT" (JSON-escaped)
#   rep_num KEY NUMBER   "KEY": NUMBER (null when not a number)
#   rep_bool KEY VALUE   "KEY": true for 1/true/yes, else false
#   rep_raw KEY JSON     "KEY": JSON as given (lists, objects)
#   lx_fail TEXT         records a failure (the "failures" list); the
#                        script should then exit non-zero
#   lx_arg NAME          prints the value of NAME=... on the kernel
#                        command line (status 1 when absent)
#   cpulist_expand LIST  "0-2,5" -> "0 1 2 5"
#   json_list WORD...    ["WORD", ...]
#   json_nums WORD...    [1, 2, ...]
#
# Keys are written to $LXTEST_REPORT (one "key":value per line); /init
# joins them with its own keys. A later key of the same name wins.

LXTEST_REPORT=${LXTEST_REPORT:-/tmp/lxtest.report}
LXTEST_FAILURES=${LXTEST_FAILURES:-/tmp/lxtest.failures}

json_escape() {
    # backslash, quote, control characters
    printf '%s' "$1" | tr -d '\000-\010\013-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' |
        awk 'NR > 1 { printf "\\n" } { printf "%s", $0 }'
}

rep_raw() { printf '"%s":%s\n' "$1" "$2" >> "$LXTEST_REPORT"; }
rep_str() { rep_raw "$1" "\"$(json_escape "$2")\""; }
rep_num() {
    case "$2" in
    ''|-|*[!0-9-]*|*?-*) rep_raw "$1" null ;;
    *) rep_raw "$1" "$2" ;;
    esac
}
rep_bool() {
    case "$2" in
    1|true|yes) rep_raw "$1" true ;;
    *) rep_raw "$1" false ;;
    esac
}
lx_fail() {
    echo "lxtest: FAIL: $*" > /dev/console
    printf '%s\n' "$*" >> "$LXTEST_FAILURES"
}

lx_arg() {
    for w in $(cat /proc/cmdline); do
        case "$w" in
        "$1"=*) printf '%s\n' "${w#*=}"; return 0 ;;
        esac
    done
    return 1
}

cpulist_expand() {
    printf '%s\n' "$1" | tr ',' '\n' | awk -F- 'NF == 1 && $1 != "" { print $1 } NF == 2 { for (i = $1; i <= $2; i++) print i }' |
        tr '\n' ' ' | sed 's/ $//'
}

json_list() {
    out=
    for w in "$@"; do out="$out${out:+,}\"$(json_escape "$w")\""; done
    printf '[%s]' "$out"
}

json_nums() {
    out=
    for w in "$@"; do out="$out${out:+,}$w"; done
    printf '[%s]' "$out"
}
