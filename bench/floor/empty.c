/* The floor under every exec in a preload session: a library that does nothing. Compare
 * page faults and CPU time of the exec workload's loop with it preloaded, with fakebox and
 * with neither:
 *
 *   cc -shared -fPIC -O2 -o /tmp/empty.so bench/floor/empty.c
 *   L='i=0; while [ $i -lt 400 ]; do /bin/true; i=$((i+1)); done'
 *   perf stat -e page-faults,task-clock sh -c "$L"
 *   LD_PRELOAD=/tmp/empty.so perf stat -e page-faults,task-clock sh -c "$L"
 *   target/release/fakebox run -- perf stat -e page-faults,task-clock sh -c "$L"
 */
int fakebox_floor_marker;
