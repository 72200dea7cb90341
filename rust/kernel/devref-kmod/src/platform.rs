//! The FreeBSD platform: devref-core's protocol on real kernel services.
//!
//! Slots are zpcpu memory (one 64-byte item per CPU from pcpu_zone_64),
//! added to with one `%gs`-relative instruction like amd64's `zpcpu_add`
//! (no critical section); the barrier is `cpus_fence_seq_cst` (an IPI with a
//! fence on every CPU); the lock is an MTX_DEF mutex slept on with
//! msleep(PCATCH) and woken with wakeup(9).

use core::arch::asm;
use core::cell::UnsafeCell;
use core::ffi::{c_int, c_void, CStr};
use core::mem::offset_of;
use core::ptr::NonNull;
use core::sync::atomic::{compiler_fence, Ordering};

use devref_core::platform::{AddOrder, Field, Platform, Slot, WaitOutcome};
use devref_sys::shim;

const EWOULDBLOCK: c_int = 35;
const EINTR: c_int = 4;
/// sys/errno.h (_KERNEL): a signal whose handler has SA_RESTART.
const ERESTART: c_int = -1;

/// The kernel platform (a token: all state is in the kernel).
#[derive(Clone, Copy, Debug, Default)]
pub struct FreeBsd;

/// One gate's per-CPU slots: what `uma_zalloc_pcpu` returned.  On amd64
/// that is not an address but an offset from `__pcpu[0]`
/// (`zpcpu_base_to_offset`); `%gs` holds the running CPU's `struct pcpu`
/// (`&__pcpu[cpu]`, each a page, UMA_PCPU_ALLOC_SIZE), so `%gs:base` is the
/// running CPU's copy, `zpcpu_get_cpu(base, curcpu)`.  Only the shim's
/// zpcpu accessors and the `%gs`-relative asm below use it.
pub struct PcpuSlots(NonNull<c_void>);

// SAFETY: the zpcpu region is shared kernel memory; every access to a slot
// goes through atomics (Slot's fields) under the protocol's rules.
unsafe impl Send for PcpuSlots {}
// SAFETY: as above.
unsafe impl Sync for PcpuSlots {}

impl Drop for PcpuSlots {
    fn drop(&mut self) {
        // SAFETY: the base came from devref_shim_pcpu_alloc and nothing
        // references the gate (and so its slots) any more.
        unsafe { shim::devref_shim_pcpu_free(self.0.as_ptr()) }
    }
}

/// A sleep mutex and the value it protects.  Its address is the wait
/// channel.
pub struct KLock<T> {
    mtx: NonNull<shim::devref_lock>,
    val: UnsafeCell<T>,
}

// SAFETY: the value is only reached with the mutex held.
unsafe impl<T: Send> Send for KLock<T> {}
// SAFETY: as above: the mutex serialises every access.
unsafe impl<T: Send> Sync for KLock<T> {}

impl<T> Drop for KLock<T> {
    fn drop(&mut self) {
        // SAFETY: mtx came from devref_shim_lock_new; &mut self proves no
        // one holds or sleeps on it.
        unsafe { shim::devref_shim_lock_free(self.mtx.as_ptr()) }
    }
}

impl<T> KLock<T> {
    fn chan(&self) -> *const c_void {
        self.mtx.as_ptr().cast_const().cast()
    }
}

/// mtx_init(9) keeps the name pointer: give it a static C string.  WITNESS
/// orders locks by name, so each role gets its own.
fn lock_name(name: &str) -> &'static CStr {
    match name {
        "devref gate" => c"devref gate",
        "devref lifecycle" => c"devref lifecycle",
        "devref registry" => c"devref registry",
        "devref node" => c"devref node",
        "devref sleep" => c"devref sleep",
        _ => c"devref",
    }
}

const _: () = assert!(core::mem::size_of::<Slot>() <= 64);
/// Where the asm adds: `Slot::count` and `Slot::enters` in the item.
const COUNT_OFF: usize = offset_of!(Slot, count);
const ENTERS_OFF: usize = offset_of!(Slot, enters);

// SAFETY: slot_add is one non-locked `add`/`sub` to the running CPU's item
// (`%gs`-relative, exactly zpcpu_add's instruction): an interrupt or a
// preemption cannot split it, and only the CPU itself writes its item
// (gates are never entered from interrupt filters); it is an asm compiler
// barrier, so the loads of the closing flag stay in program order.  The
// barrier is cpus_fence_seq_cst: an IPI that runs a fence on every CPU at an
// instruction boundary, which is that CPU's point P (docs/design.md,
// section 6).  The lock is a real mutex and msleep drops it atomically.
unsafe impl Platform for FreeBsd {
    type Slots = PcpuSlots;
    type Lock<T: Send> = KLock<T>;

    fn slots_new(&self) -> Option<PcpuSlots> {
        // SAFETY: plain allocation call.
        let base = NonNull::new(unsafe { shim::devref_shim_pcpu_alloc() })?;
        let slots = PcpuSlots(base);
        // pcpu_zone_64 promises only pointer alignment (UMA_ALIGN_PTR);
        // its 64-byte items laid out from the start of each page happen to
        // be 64-aligned.  Correctness needs the two 8-byte counters not to
        // straddle a line; refuse rather than misuse if a kernel differs.
        if !(base.as_ptr() as usize).is_multiple_of(64) {
            return None;
        }
        Some(slots)
    }

    #[inline(always)]
    fn slot_add(&self, slots: &PcpuSlots, field: Field, delta: i64, _order: AddOrder) {
        // On x86 every store is a release: the order needs no instruction.
        let base = slots.0.as_ptr();
        // SAFETY: `base` came from uma_zalloc_pcpu(pcpu_zone_64) and lives
        // as long as `slots`; `%gs:base + off` is a field of the running
        // CPU's 64-byte item (see PcpuSlots).  One instruction, no lock
        // prefix: atomic against this CPU's interrupts and preemption,
        // which is all the protocol needs.  No `nomem`: the asm is a
        // compiler barrier.
        unsafe {
            match (field, delta) {
                (Field::Count, 1) => asm!(
                    "add qword ptr gs:[{b} + {o}], 1",
                    b = in(reg) base, o = const COUNT_OFF, options(nostack)
                ),
                (Field::Count, -1) => asm!(
                    "sub qword ptr gs:[{b} + {o}], 1",
                    b = in(reg) base, o = const COUNT_OFF, options(nostack)
                ),
                (Field::Enters, 1) => asm!(
                    "add qword ptr gs:[{b} + {o}], 1",
                    b = in(reg) base, o = const ENTERS_OFF, options(nostack)
                ),
                (Field::Enters, -1) => asm!(
                    "sub qword ptr gs:[{b} + {o}], 1",
                    b = in(reg) base, o = const ENTERS_OFF, options(nostack)
                ),
                (Field::Count, d) => asm!(
                    "add qword ptr gs:[{b} + {o}], {d}",
                    b = in(reg) base, o = const COUNT_OFF, d = in(reg) d, options(nostack)
                ),
                (Field::Enters, d) => asm!(
                    "add qword ptr gs:[{b} + {o}], {d}",
                    b = in(reg) base, o = const ENTERS_OFF, d = in(reg) d, options(nostack)
                ),
            }
        }
    }

    /// A compiler fence: the asm already acts as one in practice (no
    /// `nomem`), but the gate is not one of its operands, so only this
    /// makes it Rust's own guarantee that the load of the closing flag
    /// stays after the add, in program order — all an interrupt on the
    /// same CPU (the barrier's IPI) needs.  No instruction.
    #[inline(always)]
    fn after_add(&self) {
        compiler_fence(Ordering::SeqCst);
    }

    fn barrier(&self, _slots: &PcpuSlots) {
        // SAFETY: plain call; it sleeps, which the gate's lock (a sleep
        // mutex) allows.
        unsafe { shim::devref_shim_barrier() }
    }

    fn for_each_slot(&self, slots: &PcpuSlots, f: &mut dyn FnMut(i64, u64)) {
        // SAFETY: plain query.
        let n = unsafe { shim::devref_shim_cpu_count() };
        for cpu in 0..n {
            // SAFETY: cpu <= mp_maxid; NULL never returned for those, but
            // checked anyway.
            let p = unsafe { shim::devref_shim_pcpu_slot(slots.0.as_ptr(), cpu) };
            if !p.is_null() {
                // SAFETY: zpcpu_get_cpu of the live region: a zeroed,
                // 64-aligned item, read through Slot's atomics.
                let s = unsafe { &*p.cast::<Slot>() };
                // Acquire: pairs with the leave's −1 (a plain load on x86).
                f(
                    s.count.load(Ordering::Acquire),
                    s.enters.load(Ordering::Relaxed),
                );
            }
        }
    }

    fn lock_new<T: Send>(&self, name: &'static str, v: T) -> Option<KLock<T>> {
        // SAFETY: the name is a static C string (mtx_init keeps it).
        let mtx = NonNull::new(unsafe { shim::devref_shim_lock_new(lock_name(name).as_ptr()) })?;
        Some(KLock {
            mtx,
            val: UnsafeCell::new(v),
        })
    }

    fn with_lock<T: Send, R>(&self, l: &KLock<T>, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: a live mutex.
        unsafe { shim::devref_shim_lock(l.mtx.as_ptr()) };
        // SAFETY: the mutex is held: we are the only one touching val.
        let r = f(unsafe { &mut *l.val.get() });
        // SAFETY: we hold it.
        unsafe { shim::devref_shim_unlock(l.mtx.as_ptr()) };
        r
    }

    fn wait_until<T: Send>(
        &self,
        l: &KLock<T>,
        deadline_ns: Option<u64>,
        done: &mut dyn FnMut(&mut T) -> bool,
    ) -> WaitOutcome {
        // SAFETY: a live mutex.
        unsafe { shim::devref_shim_lock(l.mtx.as_ptr()) };
        let outcome = loop {
            // SAFETY: the mutex is held (msleep re-acquires it on return).
            if done(unsafe { &mut *l.val.get() }) {
                break WaitOutcome::Done;
            }
            let timeout = match deadline_ns {
                None => 0,
                Some(d) => {
                    // SAFETY: plain query.
                    let now = unsafe { shim::devref_shim_uptime_ns() };
                    if now >= d {
                        break WaitOutcome::TimedOut;
                    }
                    d - now
                }
            };
            // SAFETY: the mutex is held; msleep drops and retakes it.
            let e = unsafe { shim::devref_shim_sleep(l.mtx.as_ptr(), l.chan(), timeout) };
            if e == EINTR || e == ERESTART {
                // SAFETY: held again.
                break if done(unsafe { &mut *l.val.get() }) {
                    WaitOutcome::Done
                } else if e == ERESTART {
                    WaitOutcome::Restart
                } else {
                    WaitOutcome::Interrupted
                };
            }
            debug_assert!(e == 0 || e == EWOULDBLOCK);
        };
        // SAFETY: we hold it.
        unsafe { shim::devref_shim_unlock(l.mtx.as_ptr()) };
        outcome
    }

    fn notify_all<T: Send>(&self, l: &KLock<T>) {
        // SAFETY: any address is a valid wait channel.
        unsafe { shim::devref_shim_wakeup(l.chan()) }
    }

    fn now_ns(&self) -> u64 {
        // SAFETY: plain query.
        unsafe { shim::devref_shim_uptime_ns() }
    }
}
