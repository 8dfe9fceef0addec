# busybox-applets.sh: run as `busybox sh busybox-applets.sh` in an empty
# copy of tests/debian/data.  Exercises busybox applets, pipes, subshells,
# redirections, background jobs and files, printing only what is the same on
# every run and machine: no times, pids, owners, sizes of directories or
# paths outside the work directory.
# Applets are found inside busybox itself; no host program may be run.
export PATH=/nonexistent TZ=UTC0 LC_ALL=C
umask 022
n=0
section() { n=$((n + 1)); echo; echo "== $n $*"; }

section builtins and arithmetic
i=0 sum=0
while [ $i -lt 10 ]; do i=$((i + 1)); sum=$((sum + i * i)); done
echo "sum of squares 1..10 = $sum"
for w in alpha beta gamma; do printf '%-6s|%3d|%x\n' "$w" "${#w}" "${#w}"; done
case "file.tar.gz" in *.tar.gz) echo "case: tarball" ;; *) echo "case: other" ;; esac
s="Hello, World"
echo "${s#Hello, } ${s%, *} ${s/World/There} ${#s}"
set -- one two three
echo "args: $# first=$1 rest=${*#o}"
shift; echo "after shift: $*"
true && echo "true ok"; false || echo "false ok"
echo "expr: $(expr 7 \* 6) $(expr length abcdef) $(expr substr abcdef 2 3) $(expr 17 % 5)"
test 3 -lt 4 && [ abc = abc ] && [ -n x ] && echo "test ok"
[[ "abc" == a* ]] && echo "[[ ok"

printf 'GIF89a\001\000\377\376hello world\000\000binary\tdata\n\200end' >data.bin

section seq sort uniq head tail wc
seq 1 20 >nums
seq 5 -1 1 | tr '\n' ' '; echo
sort -n -r nums | head -n 3
tail -n 2 nums
wc -l <nums
printf 'b\na\nc\na\nb\na\n' | sort | uniq -c
printf 'b\na\nc\na\nb\na\n' | sort -u | tr '\n' ','; echo
printf '10 x\n9 y\n100 z\n' | sort -k1,1n
printf 'k2 3\nk1 5\nk3 1\n' | sort -k2 -n -r
yes vmx | head -n 3
seq -s : 1 5
seq -w 8 11 | tr '\n' ' '; echo

section text tools
cat words.txt | tr 'a-z' 'A-Z' | head -n 2
cut -d: -f1,3 table.txt
cut -c1-4 words.txt | head -n 3
tr -d 'aeiou' <words.txt | head -n 2
tr -s ' ' <spaced.txt
rev words.txt | head -n 2
tac nums | head -n 3
fold -w 10 long.txt
paste -d, nums nums | head -n 2
nl -ba words.txt | head -n 3
expand -t 4 tabs.txt | od -c | head -n 2
printf 'a    b\n' | unexpand -a -t 4 | od -c | head -n 1
grep -n 'an' words.txt
grep -c -i 'A' words.txt
grep -v -E '^(apple|banana)$' words.txt | head -n 2
grep -o '[0-9][0-9]*' table.txt | tr '\n' ' '; echo
egrep 'rr|ch' words.txt
fgrep -x cherry words.txt
head -c 12 long.txt; echo
tail -c 10 long.txt
wc -w long.txt
wc -c <long.txt
strings -n 4 data.bin
unix2dos <words.txt | od -c | head -n 1
unix2dos <words.txt | dos2unix | cmp - words.txt && echo "dos2unix round trip ok"

section sed and awk
sed -n '2,4p' words.txt
sed 's/an/AN/g; /cherry/d' words.txt | head -n 3
sed -e '1!G;h;$!d' nums | head -n 3
sed = words.txt | sed 'N;s/\n/ /' | tail -n 2
awk -F: '{ total += $3; names = names $1 " " } END { print names "total=" total }' table.txt
awk 'BEGIN { for (i = 1; i <= 5; i++) a[i] = i * i; s = ""; for (i = 5; i >= 1; i--) s = s a[i] " "; print s }'
awk '{ n[length($0)]++ } END { for (k = 1; k <= 10; k++) if (k in n) printf "%d:%d ", k, n[k]; print "" }' words.txt
awk 'function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2) } BEGIN { print "fib(20)=" fib(20) }'
awk 'BEGIN { printf "%.3f %e %5s|%-5s| %c %o\n", 3.14159, 12345.678, "ab", "cd", 65, 8 }'
awk 'BEGIN { x = sprintf("%d", 65536 * 32768); print x, int(-7 / 2), -7 % 3, substr("abcdef", 2, 3), index("hello", "ll"), toupper("mixed Case") }'
awk '{ gsub(/a/, "@"); print }' words.txt | head -n 3
awk 'BEGIN { n = split("a,b,,c", p, ","); print n, p[1] p[4]; s = "foo bar"; sub(/o+/, "0", s); print s; print match("xxabcxx", /abc/), RSTART, RLENGTH }'
awk 'NR % 2 == 0 { print NR": "$0 }' words.txt

section files and directories
mkdir -p tree/a/b tree/c
echo one >tree/a/one.txt
echo two >tree/a/b/two.txt
echo three >tree/c/three.log
cp tree/a/one.txt tree/c/copy.txt
mv tree/c/copy.txt tree/c/moved.txt
ln -s ../a/one.txt tree/c/link.txt
ln tree/a/b/two.txt tree/hard.txt
echo "readlink: $(readlink tree/c/link.txt) -> $(cat tree/c/link.txt)"
stat -c '%n %s %h %F %a' tree/a/one.txt tree/hard.txt tree/c/link.txt
ls -1 tree
ls -1 -R tree
ls -1 -F tree/c
ls -a -1 tree/a
find tree -type f | sort
find tree -name '*.txt' -type f -exec cat {} + | sort
find tree -type d | sort | xargs -n 2 echo dirs:
find tree -newer words.txt -type l | sort
basename tree/a/b/two.txt .txt
dirname tree/a/b/two.txt
realpath tree/c/link.txt | sed "s|^$(pwd)/||"
chmod 751 tree/a/one.txt; stat -c '%a %A' tree/a/one.txt
test -x tree/a/one.txt && echo "executable"
test -L tree/c/link.txt && test -f tree/c/link.txt && echo "symlink to file"
test -d tree/a && ! test -e tree/missing && echo "dir tests ok"
touch -d '2001-02-03 04:05:06' tree/a/one.txt
stat -c '%Y %y' tree/a/one.txt
date -u -r tree/a/one.txt '+%Y-%m-%d %H:%M:%S'
touch tree/empty; stat -c '%s %F' tree/empty
truncate -s 1000 tree/empty; stat -c '%s' tree/empty; od -A d -t x1 tree/empty | tail -n 2
rm tree/c/moved.txt
rm -r tree/c
rmdir tree/a/b 2>/dev/null || echo "rmdir refused a non-empty directory"
ls -1 tree/a/b
t=$(mktemp -p .) && test -f "$t" && rm "$t" && echo "mktemp ok"
mkfifo fifo; stat -c '%F' fifo; rm fifo

section redirections and pipes
{ echo out; echo err >&2; } 2>err.txt >out.txt
echo "out=$(cat out.txt) err=$(cat err.txt)"
echo first >log; echo second >>log; cat <log | wc -l
exec 3>fd3.txt; echo "via fd 3" >&3; exec 3>&-; cat fd3.txt
cat <<EOF | sed 's/^/  /'
heredoc line, sum=$((2 + 3))
second line
EOF
cat <<'EOF'
quoted $HOME stays
EOF
echo "a b c" | { read x y z; echo "$z $y $x"; }
printf 'l1\nl2\nl3\n' | while read l; do echo "[$l]"; done
echo pipeline | tee tee.txt | tr a-z A-Z; cat tee.txt
ls nosuchfile 2>/dev/null || echo "ls failed with $?"
( exit 3 ); echo "subshell status $?"
v=outer; ( v=inner; echo "in subshell: $v" ); echo "after: $v"
echo "$(echo nested $(echo command substitution))"
x=$(printf 'a\nb\n' | wc -l); echo "lines: $x"
sh -c 'echo "child sh: $1 $2"' sh arg1 arg2
sh -c 'exit 42'; echo "child exit: $?"

section background jobs and signals
(echo job1 >job1.txt) & (sleep 0; echo job2 >job2.txt) &
wait
cat job1.txt job2.txt
sleep 0.01 & wait $!; echo "wait status $?"
sh -c 'kill -TERM $$'; echo "killed: $?"
trap 'echo trapped USR1' USR1; kill -USR1 $$; trap - USR1
timeout 5 sh -c 'echo in timeout'; echo "timeout status $?"
timeout -s KILL 0.1 sleep 5; echo "timed out: $?"
env VMXT_B=2 VMXT_A=1 env | grep '^VMXT_' | sort
nice -n 5 echo niced 2>/dev/null || echo niced

section checksums and encodings
printf 'The quick brown fox jumps over the lazy dog' >fox
md5sum fox
sha1sum fox
sha256sum fox
sha512sum fox | cut -c1-64
sha3sum fox 2>/dev/null | cut -c1-64
crc32 fox 2>/dev/null
sha256sum nums words.txt >sums; sha256sum -c sums
base64 fox
base64 fox | base64 -d; echo
uuencode -m fox fox.txt | head -n 2
od -A x -t x1 -N 16 fox
od -c -N 8 data.bin
hexdump -C data.bin | head -n 3
xxd -l 16 fox
xxd -p fox | xxd -r -p | cmp - fox && echo "xxd round trip ok"
printf '\101\102\x43\n'
printf '%s=%d %05.1f %%\n' pi 3 3.14159

section compression and archives
seq 1 2000 >big.txt
gzip -9 -c <big.txt >big.gz
gunzip -c big.gz | cmp - big.txt && echo "gzip round trip ok"
zcat big.gz | tail -n 1
gzip -t big.gz && echo "gzip -t ok"
bzip2 -c big.txt >big.bz2
bzip2 -c big.txt | sha256sum
bunzip2 -c big.bz2 | md5sum
bzcat big.bz2 | wc -l
mkdir -p arch/sub; echo alpha >arch/a.txt; echo beta >arch/sub/b.txt
tar -cf arch.tar arch
tar -tf arch.tar | sort
tar -cf - arch/sub | gzip >arch.tgz
mkdir out && tar -xzf arch.tgz -C out && cat out/arch/sub/b.txt
rm -r out arch && tar -xf arch.tar && find arch -type f | sort | xargs cat
printf 'x\n' | gzip | gunzip
(cd arch && find . -type f | sort | cpio -o -H newc 2>/dev/null >../arch.cpio)
cpio -t <arch.cpio 2>/dev/null
unzip -l nonexistent.zip >/dev/null 2>&1 || echo "unzip: no archive"

section diff cmp patch
printf 'a\nb\nc\nd\n' >v1
printf 'a\nB\nc\nd\ne\n' >v2
diff v1 v2; echo "diff status $?"
diff -u v1 v2 | tail -n +3 >v.patch; cat v.patch
cmp v1 v2; echo "cmp status $?"
cmp -s v1 v1 && echo "identical"
cp v1 v3; { echo '--- v3'; echo '+++ v3'; cat v.patch; } | patch -p0 && cmp v3 v2 && echo "patched"

section numbers and dates
factor 360 97 1001
echo '2^20 + 7*6' | bc 2>/dev/null
echo '3 4 * p' | dc
date -u -d @0 '+%Y-%m-%d %H:%M:%S %A'
date -u -d @1700000000
date -u -d '2024-02-29 12:34:56' '+%s %j %a %b %U'
date -u -d '2000-01-01' '+%F %T'
cal 2 2024 | sed 's/ *$//'
printf '%d %d\n' 0x1f 017
echo $((0x10 + 010 + 2#101)) $((7 / 2)) $((-7 % 3)) $((1 << 40))
uname -s -m

section getopt ed misc
getopt -o ab:c -- -a -b val -c rest
printf '3\n1\n2\n' >ed.txt
printf '1d\nw\nq\n' | ed -s ed.txt 2>/dev/null; cat ed.txt
shuf -i 1-5 | sort -n | tr '\n' ' '; echo
usleep 1000 && echo "usleep ok"
echo abc | dd bs=1 skip=1 count=2 2>/dev/null; echo
dd if=/dev/zero bs=512 count=3 2>/dev/null | wc -c
dd if=fox of=fox.part bs=4 count=2 2>/dev/null; cat fox.part; echo
head -c 100 /dev/zero | tr '\0' 'z' | wc -c
echo "done: $n sections"
exit 0
