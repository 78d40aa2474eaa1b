/* The floor under every exec in a preload session: a library that does nothing. Compare
 * page faults and CPU time of the exec workload's loop with it preloaded, with fakebox and
 * with neither:
 *
 *   cc -shared -fPIC -O2 -o /tmp/empty.so bench/floor/empty.c
 *   L='i=0; while [ $i -lt 400 ]; do /bin/true; i=$((i+1)); done'
 *   perf stat -e page-faults,task-clock sh -c "$L"
 *   LD_PRELOAD=/tmp/empty.so perf stat -e page-faults,task-clock sh -c "$L"
 *   target/release/fakebox run -- perf stat -e page-faults,task-clock sh -c "$L"
 *
 * Built so, the library has the layout most libraries have (four segments and RELRO). The
 * cheapest a library can be loaded is with two segments, code and data, and no RELRO:
 *
 *   cc -shared -fPIC -O2 -Wl,-z,noseparate-code,-z,norelro -o /tmp/empty2.so bench/floor/empty.c
 */
int fakebox_floor_marker;
