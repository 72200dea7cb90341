//! devref's Linux host platform: the same gate that runs in the FreeBSD
//! kernel, on Linux threads (tests, stress, benchmarks).
//!
//! * **Slots are per thread** (userland cannot add to "this CPU's" memory
//!   in one instruction without rseq): every thread has a static TLS block
//!   with one cell per gate index, and a gate is an index into it, so the
//!   fast path's add is one thread-pointer-relative instruction.  At most
//!   [`MAX_GATES`] gates exist at a time.  See [`slots`] for registration,
//!   thread exit and index reuse.
//! * **Barrier** = `fence(SeqCst)` + `membarrier(MEMBARRIER_CMD_PRIVATE_
//!   EXPEDITED)` (registered at the first [`HostPlatform::new`]); the fast
//!   path has only compiler fences, as in the kernel.  **Fallback**
//!   [`HostPlatform<SeqCstFences>`] (where membarrier is missing, e.g.
//!   under seccomp): a real `fence(SeqCst)` after each add and in the
//!   barrier, correct by the C11 model alone.  The mode is a type
//!   parameter, so the fast path never branches on it.
//! * **Lock** = `std::sync::Mutex` + `Condvar`; [`HostPlatform::interrupt`]
//!   simulates a signal (PCATCH) so that interrupted drains are testable.
//! * **Clock** = `Instant` (monotonic), ns since the first use.

use std::marker::PhantomData;
use std::sync::atomic::{compiler_fence, fence, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use devref_core::platform::{AddOrder, Field, Platform, WaitOutcome};

mod lock;
mod membarrier;
pub mod slots;

pub use lock::HostLock;
pub use slots::MAX_GATES;

/// How the fast path and the barrier are ordered (a type parameter of
/// [`HostPlatform`]).
pub trait Mode: Send + Sync + 'static {
    /// Real fences on both sides instead of membarrier.
    const SEQCST: bool;
}

/// membarrier: compiler fences on the fast path, an IPI in the barrier.
#[derive(Clone, Copy, Debug, Default)]
pub struct Membarrier;

impl Mode for Membarrier {
    const SEQCST: bool = false;
}

/// The fallback: `fence(SeqCst)` on the fast path and in the barrier.
#[derive(Clone, Copy, Debug, Default)]
pub struct SeqCstFences;

impl Mode for SeqCstFences {
    const SEQCST: bool = true;
}

/// One gate's slots on the host: its index in every thread's block, and
/// the index's sums when the gate was made (cells are never reset).
pub struct HostSlots {
    index: usize,
    /// `index`'s byte offset in a thread block (precomputed for the add).
    offset: usize,
    base_count: i64,
    base_enters: u64,
}

impl Drop for HostSlots {
    fn drop(&mut self) {
        slots::free_index(self.index);
    }
}

/// The Linux host platform.  Cheap to clone (clones share the simulated
/// signal state, so a test can keep a clone to [`interrupt`] a drain).
///
/// [`interrupt`]: HostPlatform::interrupt
pub struct HostPlatform<M: Mode = Membarrier> {
    sig: Arc<lock::Signals>,
    _mode: PhantomData<M>,
}

impl<M: Mode> Clone for HostPlatform<M> {
    fn clone(&self) -> Self {
        HostPlatform {
            sig: Arc::clone(&self.sig),
            _mode: PhantomData,
        }
    }
}

impl Default for HostPlatform<Membarrier> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Mode> std::fmt::Debug for HostPlatform<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostPlatform")
            .field("membarrier", &!M::SEQCST)
            .finish()
    }
}

fn clock_base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Whether this machine has private expedited membarrier (else use
/// [`HostPlatform<SeqCstFences>`]).
pub fn membarrier_available() -> bool {
    membarrier::available()
}

impl HostPlatform<Membarrier> {
    /// The membarrier platform.
    ///
    /// # Panics
    ///
    /// If the kernel lacks private expedited membarrier (or seccomp refuses
    /// it): use [`HostPlatform::with_seqcst_fences`] there.
    pub fn new() -> Self {
        assert!(
            membarrier::available(),
            "devref-host: membarrier(PRIVATE_EXPEDITED) is unavailable; \
             use HostPlatform::with_seqcst_fences()"
        );
        Self::make()
    }
}

impl HostPlatform<SeqCstFences> {
    /// The fallback platform (a `fence(SeqCst)` on both sides).
    pub fn with_seqcst_fences() -> Self {
        Self::make()
    }
}

impl<M: Mode> HostPlatform<M> {
    fn make() -> Self {
        let _ = clock_base();
        HostPlatform {
            sig: Arc::new(lock::Signals::new()),
            _mode: PhantomData,
        }
    }

    /// Whether this platform's barrier is membarrier (else the fallback).
    pub fn uses_membarrier(&self) -> bool {
        !M::SEQCST
    }

    /// Simulate a signal to the threads waiting (or about to wait) on this
    /// platform's locks: like a pending signal with PCATCH, the next
    /// [`Platform::wait_until`] whose condition is false returns
    /// `Interrupted` (one waiter consumes it).  Must not be called with one
    /// of this platform's locks held.
    pub fn interrupt(&self) {
        self.sig.signal(WaitOutcome::Interrupted)
    }

    /// As [`HostPlatform::interrupt`], for a signal whose handler has
    /// SA_RESTART: the wait returns `Restart`.
    pub fn interrupt_restart(&self) {
        self.sig.signal(WaitOutcome::Restart)
    }

    /// Drop a simulated signal that no wait consumed.
    pub fn clear_interrupt(&self) {
        self.sig.clear();
    }
}

// SAFETY: slot_add is one read-modify-write of the calling thread's own
// cell (no other thread writes it while the thread lives; after its exit
// fold, adds go to CENTRAL atomically); the barrier is membarrier, which
// runs a full barrier on every thread of the process at an instruction
// boundary (the fast path's compiler fence keeps each add before the next
// load of the closing flag in program order), or, in the fallback, SeqCst
// fences on both sides.  The lock is a mutex + condvar whose wait releases
// the mutex atomically and re-checks the condition after every wakeup.
unsafe impl<M: Mode> Platform for HostPlatform<M> {
    type Slots = HostSlots;
    type Lock<T: Send> = HostLock<T>;

    fn slots_new(&self) -> Option<HostSlots> {
        let (index, base_count, base_enters) = slots::alloc_index()?;
        Some(HostSlots {
            index,
            offset: slots::offset_of_index(index),
            base_count,
            base_enters,
        })
    }

    #[inline(always)]
    fn slot_add(&self, s: &HostSlots, field: Field, delta: i64, order: AddOrder) {
        let order = match order {
            AddOrder::Relaxed => Ordering::Relaxed,
            AddOrder::Release => Ordering::Release,
        };
        slots::add(s.offset, field, delta, order);
    }

    #[inline(always)]
    fn after_add(&self) {
        if M::SEQCST {
            fence(Ordering::SeqCst);
        } else {
            // Keep the add before the following load of the closing flag
            // (a release store may otherwise sink below a later load):
            // membarrier needs program order, like the kernel's IPI.
            compiler_fence(Ordering::SeqCst);
        }
    }

    fn barrier(&self, _slots: &HostSlots) {
        // Orders the drainer's relaxed store of the closing flag before the
        // membarrier (or stands in for it in the fallback).
        fence(Ordering::SeqCst);
        if !M::SEQCST {
            membarrier::run();
        }
    }

    fn for_each_slot(&self, s: &HostSlots, f: &mut dyn FnMut(i64, u64)) {
        slots::visit(s.index, f);
        // The index's sums before this gate existed.
        f(s.base_count.wrapping_neg(), s.base_enters.wrapping_neg());
    }

    fn lock_new<T: Send>(&self, _name: &'static str, v: T) -> Option<HostLock<T>> {
        Some(HostLock::new(v))
    }

    fn with_lock<T: Send, R>(&self, l: &HostLock<T>, f: impl FnOnce(&mut T) -> R) -> R {
        l.with(f)
    }

    fn wait_until<T: Send>(
        &self,
        l: &HostLock<T>,
        deadline_ns: Option<u64>,
        done: &mut dyn FnMut(&mut T) -> bool,
    ) -> WaitOutcome {
        l.wait_until(&self.sig, deadline_ns, || self.now_ns(), done)
    }

    fn notify_all<T: Send>(&self, l: &HostLock<T>) {
        l.notify_all();
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(clock_base().elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}
