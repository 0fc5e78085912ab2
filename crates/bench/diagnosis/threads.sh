#!/bin/sh
# CPU use of each thread of a process over a window (default 10 s), busiest first.
# Diagnosis aid: run it against `enlace serve` during a benchmark run, e.g.
#   crates/bench/diagnosis/threads.sh $(pgrep -f 'enlace.* serve') 10
pid=$1; secs=${2:-10}
snap() { for t in /proc/$pid/task/*; do
  printf '%s %s ' "${t##*/}" "$(tr ' ' '_' < $t/comm)"; awk '{print $14+$15}' $t/stat; done; }
snap > /tmp/threads.$$.a; sleep "$secs"; snap > /tmp/threads.$$.b
tck=$(getconf CLK_TCK)
join /tmp/threads.$$.a /tmp/threads.$$.b | awk -v s="$secs" -v t="$tck" \
  '{printf "%6.1f %%  %s (tid %s)\n", ($5-$3)/t/s*100, $2, $1}' | sort -rn | head -20
rm -f /tmp/threads.$$.a /tmp/threads.$$.b
