//! membarrier(2): the host's asymmetric barrier.  One call makes every
//! running thread of the process execute a full barrier at an instruction
//! boundary (an IPI), and a thread that is not running passes a context
//! switch: the point P(thread) of docs/design.md section 3.

const MEMBARRIER_CMD_QUERY: libc::c_int = 0;
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

fn membarrier(cmd: libc::c_int) -> libc::c_long {
    // SAFETY: membarrier(2) takes (cmd, flags, cpu_id) by value and touches
    // no user memory; any failure is reported through the return value.
    unsafe {
        libc::syscall(
            libc::SYS_membarrier,
            cmd,
            0 as libc::c_uint,
            0 as libc::c_int,
        )
    }
}

/// Register this process for private expedited membarrier, once.  True if
/// the barrier is usable.
pub(crate) fn available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let mask = membarrier(MEMBARRIER_CMD_QUERY);
        let want = libc::c_long::from(
            MEMBARRIER_CMD_PRIVATE_EXPEDITED | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
        );
        if mask < 0 || mask & want != want {
            return false;
        }
        membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0
    })
}

/// The barrier.  Panics if it fails after registration: the fast path has
/// no fence of its own, so without it the protocol is unsound (host only).
pub(crate) fn run() {
    if membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 {
        panic!(
            "devref-host: membarrier(PRIVATE_EXPEDITED) failed after registration: {}",
            std::io::Error::last_os_error()
        );
    }
}
