/* Linked into libfakebox.so alone (not into the crate's unit-test binary, which has std).
 *
 * Rust's precompiled core names these two in its unwind tables and landing pads; std
 * would define them. Nothing in the library unwinds (a panic aborts), so no frame of it
 * has anything to clean up: an unwinder passing through one of core's frames (a C++
 * exception thrown from a program's nftw callback, say) is told to go on, as std tells it
 * for a panic=abort frame, and a landing pad is never entered. Hidden, like everything
 * here that is not a hook: a program's own unwinder stays the one it links. */
#include <stdlib.h>

int rust_eh_personality(int version, int actions, unsigned long cls, void *exc, void *ctx) {
    (void)version, (void)actions, (void)cls, (void)exc, (void)ctx;
    return 8; /* _URC_CONTINUE_UNWIND */
}

void _Unwind_Resume(void *exc) {
    (void)exc;
    abort();
}
