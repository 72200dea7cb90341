//! The device layer's kernel services on FreeBSD: make_dev_s/destroy_dev,
//! selinfo + knlist, taskqueue_thread, the stack call marks, the console.

use alloc::boxed::Box;
use core::ffi::{c_char, c_void};
use core::fmt;
use core::ptr::NonNull;

use devref_core::dev::{DevName, Errno, Kernel, Mode, Perms, ENOMEM};
use devref_sys::shim;

use crate::log;
use crate::platform::FreeBsd;

/// A node's `struct cdev *`, and its sysctl counters (published with the
/// node, removed before a counted node is destroyed).
pub struct Cdev {
    cdev: NonNull<shim::cdev>,
    stats: Option<NonNull<shim::devref_stats>>,
}

// SAFETY: a cdev pointer may be used from any thread.
unsafe impl Send for Cdev {}
// SAFETY: as above.
unsafe impl Sync for Cdev {}

/// An incarnation's selinfo + knlist.
pub struct Events(NonNull<shim::devref_events>);

// SAFETY: the shim's functions lock what they touch.
unsafe impl Send for Events {}
// SAFETY: as above.
unsafe impl Sync for Events {}

impl Events {
    pub fn raw(&self) -> *mut shim::devref_events {
        self.0.as_ptr()
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        // Never used again after this (events_drain consumes it, and a
        // set that was never published has no waiters).
        // SAFETY: a live set from devref_shim_events_new.
        unsafe { shim::devref_shim_events_drain(self.0.as_ptr()) }
    }
}

/// See `Kernel::CallMark` below.  The core keeps it in its frame while the
/// client runs; the shim sets it where it lies (keyed by its address), and
/// handing the shim its address is what keeps it whole and in memory.
#[repr(C)]
#[derive(Default)]
pub struct CallMark([u64; 2]);

// The shim marks kqueue filter calls with the core's tag values.
const _: () = assert!(devref_core::dev::MARK_PURGE == shim::DEVREF_MARK_PURGE as usize);
const _: () = assert!(devref_core::dev::MARK_FILTER == shim::DEVREF_MARK_FILTER as usize);

extern "C" fn run_deferred(arg: *mut c_void) {
    // SAFETY: arg is the Box<Box<dyn FnOnce>> leaked by `defer`, run once.
    let job = unsafe { Box::from_raw(arg.cast::<Box<dyn FnOnce() + Send>>()) };
    job();
}

impl Kernel for FreeBsd {
    type Cdev = Cdev;
    type Events = Events;
    /// A (magic, node) pair in the caller's frame, found by the stack scan
    /// of devref_shim_in_call (the cdevsw entries keep the same pair in
    /// their C frames).
    type CallMark = CallMark;
    /// The cdevsw entry's C frame carries the mark (devref_cdev.c).
    type EntryMark = ();

    fn make_node(
        &self,
        name: &DevName,
        mode: Mode,
        perms: Perms,
        cookie: usize,
    ) -> Result<Cdev, Errno> {
        let mut buf = [0u8; 64];
        let n = name.as_bytes();
        buf.get_mut(..n.len()).ok_or(ENOMEM)?.copy_from_slice(n);
        let m = match mode {
            Mode::Pcpu => devref_sys::kpi::DEVREF_MODE_PCPU,
            Mode::Counted => devref_sys::kpi::DEVREF_MODE_COUNTED,
        };
        let mut cdev = core::ptr::null_mut();
        // SAFETY: buf is NUL-terminated (DevName is at most 63 bytes);
        // cookie is the node, which outlives the cdev.
        let e = unsafe {
            shim::devref_shim_make_dev(
                buf.as_ptr().cast::<c_char>(),
                m as i32,
                perms.uid,
                perms.gid,
                perms.mode as i32,
                cookie as *mut c_void,
                &mut cdev,
            )
        };
        if e != 0 {
            return Err(e);
        }
        let cdev = NonNull::new(cdev).ok_or(ENOMEM)?;
        // The name as it is: sysctl_add_oid escapes '.' itself and '/' is
        // a legal oid name character, so distinct devices stay distinct.
        // SAFETY: buf is NUL-terminated; the node outlives the oids (they
        // are removed before a counted node is freed; pcpu nodes never are).
        let stats = NonNull::new(unsafe {
            shim::devref_shim_stats_publish(buf.as_ptr().cast::<c_char>(), cookie as *mut c_void)
        });
        Ok(Cdev { cdev, stats })
    }

    fn destroy_node(&self, cdev: Cdev) {
        if let Some(s) = cdev.stats {
            // SAFETY: published by make_node, removed once.
            unsafe { shim::devref_shim_stats_unpublish(s.as_ptr()) }
        }
        // SAFETY: a counted node's cdev, destroyed once.
        unsafe { shim::devref_shim_destroy_dev(cdev.cdev.as_ptr()) }
    }

    fn events_new(&self) -> Option<Events> {
        // SAFETY: plain allocation.
        NonNull::new(unsafe { shim::devref_shim_events_new() }).map(Events)
    }

    fn events_wake(&self, ev: &Events) {
        // SAFETY: a live set.
        unsafe { shim::devref_shim_events_wake(ev.raw()) }
    }

    fn events_drain(&self, ev: Events) {
        drop(ev);
    }

    fn defer(&self, job: Box<dyn FnOnce() + Send>) {
        crate::module::DEFERRED.fetch_add(1, core::sync::atomic::Ordering::AcqRel);
        let job: Box<dyn FnOnce() + Send> = Box::new(move || {
            job();
            // A deferred destroy may have left pages in the graveyard.
            crate::vm::arm_graveyard_if_needed();
            crate::module::DEFERRED.fetch_sub(1, core::sync::atomic::Ordering::AcqRel);
        });
        let arg = Box::into_raw(Box::new(job)).cast::<c_void>();
        // SAFETY: run_deferred takes ownership of arg exactly once.
        unsafe { shim::devref_shim_defer(Some(run_deferred), arg) }
    }

    #[inline(always)]
    fn mark_entry(&self, _node: usize) {}

    #[inline(always)]
    fn unmark_entry(&self, _m: &mut ()) {}

    #[inline(always)]
    fn mark_call(&self, m: &mut CallMark, node: usize) {
        // SAFETY: m is a live two-word array in the caller's frame; the
        // shim only stores to it.
        unsafe { shim::devref_shim_call_mark(m.0.as_mut_ptr(), node as u64) }
    }

    #[inline(always)]
    fn unmark_call(&self, m: &mut CallMark) {
        // SAFETY: a plain store to the mark where it lies; volatile so that
        // it is not elided as a dead store.
        unsafe { core::ptr::write_volatile(&mut m.0[0], 0) };
    }

    fn in_call(&self, node: usize) -> bool {
        // SAFETY: scans the current thread's own kernel stack.
        unsafe { shim::devref_shim_in_call(node as *const c_void) != 0 }
    }

    fn log(&self, args: fmt::Arguments<'_>) {
        log::line(args);
    }

    type Vm = crate::vm::FreeBsdVm;
    fn vm(&self) -> crate::vm::FreeBsdVm {
        crate::vm::FreeBsdVm
    }
}
