//! The FreeBSD platform: devref-core's protocol on real kernel services.
//!
//! Slots are zpcpu memory (one 64-byte item per CPU from pcpu_zone_64), the
//! no-migration section is critical_enter/exit, the barrier is
//! smp_rendezvous_cpus_retry with an action that checks the slot of the CPU
//! it runs on (as vfs_op_barrier_wait does), the lock is an MTX_DEF mutex
//! slept on with msleep(PCATCH) and woken with wakeup(9).

use core::cell::UnsafeCell;
use core::ffi::{c_int, c_void, CStr};
use core::ptr::NonNull;
use core::sync::atomic::{compiler_fence, Ordering};

use devref_core::platform::{Platform, Slot, WaitOutcome};
use devref_sys::shim;

const EWOULDBLOCK: c_int = 35;
const EINTR: c_int = 4;
/// sys/errno.h (_KERNEL): a signal whose handler has SA_RESTART.
const ERESTART: c_int = -1;

/// The kernel platform (a token: all state is in the kernel).
#[derive(Clone, Copy, Debug, Default)]
pub struct FreeBsd;

/// One gate's per-CPU slots (zpcpu base pointer).
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

/// Barrier check, run in the rendezvous IPI on the slot's own CPU (and by
/// the waiter while it spins): nonzero while a fast-path section is open.
extern "C" fn slot_in_entry(slot: *mut c_void) -> c_int {
    // SAFETY: the shim passes a slot of the zpcpu region given to it.
    let s = unsafe { &*slot.cast::<Slot>() };
    s.in_entry.load(Ordering::Acquire) as c_int
}

const _: () = assert!(core::mem::size_of::<Slot>() == 64);
const _: () = assert!(core::mem::align_of::<Slot>() == 64);

// SAFETY: pin excludes other writers (critical section: no preemption, no
// migration; gates are never entered from interrupt filters); the barrier
// runs an IPI on every CPU that checks that CPU's own in_entry, so every
// section either saw the closing flag or finished before it returned
// (docs/design.md); the lock is a real mutex and msleep drops it
// atomically.
unsafe impl Platform for FreeBsd {
    type Slots = PcpuSlots;
    type Lock<T: Send> = KLock<T>;

    fn slots_new(&self) -> Option<PcpuSlots> {
        // SAFETY: plain allocation call.
        let base = NonNull::new(unsafe { shim::devref_shim_pcpu_alloc() })?;
        let slots = PcpuSlots(base);
        // pcpu_zone_64 items are 64 bytes; they must also be 64-aligned for
        // Slot.  Refuse rather than misuse if a kernel ever differs.
        if !(base.as_ptr() as usize).is_multiple_of(core::mem::align_of::<Slot>()) {
            return None;
        }
        Some(slots)
    }

    #[inline]
    fn pin<'a>(&self, slots: &'a PcpuSlots) -> &'a Slot {
        // SAFETY: critical_enter, then this CPU's item of the region: a
        // zeroed, 64-aligned 64-byte Slot that lives as long as `slots`.
        unsafe { &*shim::devref_shim_pcpu_enter(slots.0.as_ptr()).cast::<Slot>() }
    }

    #[inline]
    fn unpin(&self) {
        // SAFETY: pairs with the critical_enter in pin.
        unsafe { shim::devref_shim_pcpu_exit() }
    }

    #[inline]
    fn entry_fence(&self) {
        // atomic_interrupt_fence(): the rendezvous IPI supplies the rest.
        compiler_fence(Ordering::SeqCst);
    }

    fn barrier(&self, slots: &PcpuSlots) {
        // SAFETY: the region is live; the check only reads a Slot.
        unsafe { shim::devref_shim_barrier(slots.0.as_ptr(), Some(slot_in_entry)) }
    }

    fn for_each_slot(&self, slots: &PcpuSlots, f: &mut dyn FnMut(&Slot)) {
        // SAFETY: plain query.
        let n = unsafe { shim::devref_shim_cpu_count() };
        for cpu in 0..n {
            // SAFETY: cpu <= mp_maxid; NULL never returned for those, but
            // checked anyway.
            let p = unsafe { shim::devref_shim_pcpu_slot(slots.0.as_ptr(), cpu) };
            if !p.is_null() {
                // SAFETY: a Slot of the live region.
                f(unsafe { &*p.cast::<Slot>() });
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
