//! The protection schemes under test.  Each one protects a "call" (enter,
//! the caller's work, leave) the way one kernel scheme protects a
//! character-device entry point.  All of them run through the same harness
//! loop ([`crate::harness`]); nothing here knows it is being timed.

use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use devref_core::gate::Gate;
use devref_host::HostPlatform;

/// Keeps a value on its own pair of cache lines (x86's adjacent-line
/// prefetcher pulls lines in pairs), as separately allocated kernel objects
/// (a vnode, a cdev_priv, a global mutex) are.
#[repr(align(128))]
#[derive(Default)]
pub struct Padded<T>(pub T);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One protected call.
pub trait Scheme: Sync {
    /// Enter, run `work`, leave.  `false` if the scheme refused entry (the
    /// device is gone): in this benchmark that is a harness error.
    fn call<F: FnOnce()>(&self, work: F) -> bool;

    /// Calls inside now (must be 0 whenever no call is running).
    fn inside(&self) -> isize;

    /// Calls that entered so far, when the scheme counts them itself (the
    /// gate does); the harness cross-checks it with its own count.
    fn entered(&self) -> Option<u64> {
        None
    }
}

/// The schemes, in table order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// No protection: the limit.
    None,
    /// devref's per-CPU gate on the Linux host platform.
    Pcpu,
    /// FreeBSD since r355228 (2019): vnode interlock + per-cdev
    /// cdp_threadlock around an atomic add; leave is an atomic subtract.
    Percdev,
    /// The 2015 scheme: one global mutex (devmtx) around the count, taken
    /// by enter and by leave.
    Devmtx,
    /// One shared atomic refcount (refcount(9) / blockcount(9) style).
    Atomic,
}

impl Kind {
    /// Every scheme, in table order.
    pub const ALL: [Kind; 5] = [
        Kind::None,
        Kind::Pcpu,
        Kind::Percdev,
        Kind::Devmtx,
        Kind::Atomic,
    ];

    /// The name used in tables, JSON and the plot.
    pub fn name(self) -> &'static str {
        match self {
            Kind::None => "none",
            Kind::Pcpu => "pcpu",
            Kind::Percdev => "percdev",
            Kind::Devmtx => "devmtx",
            Kind::Atomic => "atomic",
        }
    }

    /// One line on what the scheme models.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::None => "no protection at all (the limit)",
            Kind::Pcpu => {
                "devref's gate, Gate<devref_host::HostPlatform>: enter() -> guard -> drop \
                 (per-thread slot, no lock, no shared atomic RMW)"
            }
            Kind::Percdev => {
                "FreeBSD since r355228: vnode interlock (mutex) + per-cdev cdp_threadlock \
                 (mutex) around an atomic add on the shared si_threadcount \
                 (devvn_refthread); leave = one atomic subtract (dev_relthread)"
            }
            Kind::Devmtx => {
                "the 2015 scheme: one global mutex (devmtx) around the shared count, \
                 taken by enter and by leave"
            }
            Kind::Atomic => {
                "one shared atomic refcount (refcount(9)/blockcount(9) style): \
                 fetch_add to enter, fetch_sub to leave"
            }
        }
    }
}

/// No protection.
#[derive(Default)]
pub struct NoneScheme;

impl Scheme for NoneScheme {
    #[inline]
    fn call<F: FnOnce()>(&self, work: F) -> bool {
        work();
        true
    }

    fn inside(&self) -> isize {
        0
    }
}

/// devref's gate.
pub struct PcpuScheme {
    /// The gate (public for the drain benchmark).
    pub gate: Gate<HostPlatform>,
}

impl PcpuScheme {
    /// A new open gate on the host platform the kernel's protocol maps to
    /// (membarrier; an error where the kernel lacks it).
    pub fn new() -> Result<Self, String> {
        if !devref_host::membarrier_available() {
            return Err("membarrier(PRIVATE_EXPEDITED) unavailable".into());
        }
        let gate = Gate::new(HostPlatform::new()).ok_or("Gate::new failed")?;
        Ok(PcpuScheme { gate })
    }
}

impl Scheme for PcpuScheme {
    #[inline]
    fn call<F: FnOnce()>(&self, work: F) -> bool {
        match self.gate.enter() {
            Ok(guard) => {
                work();
                drop(guard);
                true
            }
            Err(_) => false,
        }
    }

    fn inside(&self) -> isize {
        isize::try_from(self.gate.inside()).unwrap_or(isize::MAX)
    }

    fn entered(&self) -> Option<u64> {
        Some(self.gate.calls())
    }
}

/// The fields of `struct cdev` that dev_refthread reads and writes:
/// si_devsw (is the device alive) and si_threadcount, near each other in
/// the cdev.
#[derive(Default)]
pub struct CdevCounts {
    /// si_devsw != NULL and CDP_SCHED_DTR clear.
    pub alive: AtomicBool,
    /// si_threadcount.
    pub threadcount: AtomicIsize,
}

/// FreeBSD's devfs protection since r355228, as devvn_refthread (the path
/// of every call made through a file descriptor: devfs_fp_check) does it:
/// VI_LOCK(vp); mtx_lock(&cdp->cdp_threadlock); check; atomic_add_long;
/// unlock both.  dev_relthread: atomic_subtract_rel_long.
pub struct PercdevScheme {
    /// The vnode interlock (VI_LOCK), a sleep mutex in its own object.
    pub vi_interlock: Padded<Mutex<()>>,
    /// The per-cdev cdp_threadlock (in struct cdev_priv, far from the
    /// counters of the embedded struct cdev).
    pub threadlock: Padded<Mutex<()>>,
    /// si_devsw / flags and si_threadcount.
    pub cdev: Padded<CdevCounts>,
}

impl Default for PercdevScheme {
    fn default() -> Self {
        PercdevScheme {
            vi_interlock: Padded(Mutex::new(())),
            threadlock: Padded(Mutex::new(())),
            cdev: Padded(CdevCounts {
                alive: AtomicBool::new(true),
                threadcount: AtomicIsize::new(0),
            }),
        }
    }
}

impl PercdevScheme {
    /// devvn_refthread: `true` if the call may go in (and is counted).
    #[inline]
    pub fn enter(&self) -> bool {
        let vi = lock(&self.vi_interlock.0);
        let tl = lock(&self.threadlock.0);
        let ok = self.cdev.0.alive.load(Ordering::Relaxed);
        if ok {
            self.cdev.0.threadcount.fetch_add(1, Ordering::Relaxed);
        }
        drop(tl);
        drop(vi);
        ok
    }

    /// dev_relthread.
    #[inline]
    pub fn leave(&self) {
        self.cdev.0.threadcount.fetch_sub(1, Ordering::Release);
    }

    /// destroy_devl's first half: mark the device dead under the locks.
    pub fn kill(&self) {
        let tl = lock(&self.threadlock.0);
        self.cdev.0.alive.store(false, Ordering::Relaxed);
        drop(tl);
    }

    /// destroy_devl's wait: poll si_threadcount, sleeping `poll` between
    /// looks (msleep(hz / 10) in the kernel: nobody wakes it).
    pub fn drain_polling(&self, poll: std::time::Duration) {
        while self.cdev.0.threadcount.load(Ordering::Acquire) != 0 {
            std::thread::sleep(poll);
        }
    }
}

impl Scheme for PercdevScheme {
    #[inline]
    fn call<F: FnOnce()>(&self, work: F) -> bool {
        if !self.enter() {
            return false;
        }
        work();
        self.leave();
        true
    }

    fn inside(&self) -> isize {
        self.cdev.0.threadcount.load(Ordering::Acquire)
    }
}

/// The 2015 scheme: the global devmtx around the count, enter and leave.
pub struct DevmtxScheme {
    /// devmtx and the count it protects.
    pub devmtx: Padded<Mutex<isize>>,
}

impl Default for DevmtxScheme {
    fn default() -> Self {
        DevmtxScheme {
            devmtx: Padded(Mutex::new(0)),
        }
    }
}

impl Scheme for DevmtxScheme {
    #[inline]
    fn call<F: FnOnce()>(&self, work: F) -> bool {
        *lock(&self.devmtx.0) += 1;
        work();
        *lock(&self.devmtx.0) -= 1;
        true
    }

    fn inside(&self) -> isize {
        *lock(&self.devmtx.0)
    }
}

/// One shared atomic count.
#[derive(Default)]
pub struct AtomicScheme {
    /// The count.
    pub count: Padded<AtomicIsize>,
}

impl Scheme for AtomicScheme {
    #[inline]
    fn call<F: FnOnce()>(&self, work: F) -> bool {
        self.count.0.fetch_add(1, Ordering::Acquire);
        work();
        self.count.0.fetch_sub(1, Ordering::Release);
        true
    }

    fn inside(&self) -> isize {
        self.count.0.load(Ordering::Acquire)
    }
}
