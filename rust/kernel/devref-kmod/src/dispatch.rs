//! The cdevsw entry points (called by shim/devref_cdev.c): enter the node's
//! gate, check the file's incarnation, call the client, or answer as devfs
//! does for a destroyed device.

use core::ffi::{c_char, c_int, c_ulong, c_void};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use devref_core::dev::{dead, missing, Handle, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM};
use devref_sys::kpi::{thread, uio};
use devref_sys::shim;

use crate::state::NodeK;

/// # Safety
/// `node` is a cdev's si_drv1: a node devref created, never freed while
/// devfs can call the cdev.
unsafe fn node<'a>(node: *mut c_void) -> Option<&'a NodeK> {
    // SAFETY: per the contract.
    unsafe { node.cast::<NodeK>().as_ref() }
}

type H = Handle<NodeK>;

/// A knote was attached to a devref device since load (see module.rs).
pub static KQUEUE_USED: AtomicBool = AtomicBool::new(false);

/// Handles published as a file's cdevpriv whose destructor has not finished.
/// destroy_dev runs the destructors of the files still open, but a close(2)
/// racing it may have taken its cdevpriv off the list and not yet called
/// (or not yet left) the destructor when destroy_dev returns, and devfs
/// holds nothing that destroy_dev_drain would wait for: devref must not
/// unload while this is nonzero.  Counted from before the cdevpriv is set
/// to the destructor's last store, so the only devref code that can run
/// after it reads zero is the destructor's return path.
pub static LIVE_HANDLES: AtomicUsize = AtomicUsize::new(0);

#[no_mangle]
pub extern "C" fn devref_rs_open(n: *mut c_void, oflags: c_int, td: *mut thread) -> c_int {
    // SAFETY: called by devfs with si_drv1.
    let Some(n) = (unsafe { node(n) }) else {
        return dead::OPEN;
    };
    let publish = |h: *mut H| {
        LIVE_HANDLES.fetch_add(1, Ordering::AcqRel);
        // SAFETY: recording the handle as this file's cdevpriv.
        match unsafe { shim::devref_shim_set_cdevpriv(h.cast()) } {
            0 => Ok(()),
            e => {
                // Not published: devfs will never run its destructor.
                LIVE_HANDLES.fetch_sub(1, Ordering::AcqRel);
                Err(e)
            }
        }
    };
    match n.open(oflags, td as usize, publish) {
        Ok(()) => 0,
        Err(e) => e,
    }
}

#[no_mangle]
pub extern "C" fn devref_rs_read(
    n: *mut c_void,
    h: *mut c_void,
    uio: *mut uio,
    ioflag: c_int,
) -> c_int {
    // SAFETY: si_drv1 and this file's cdevpriv (or NULL).
    let Some(call) = (unsafe { node(n) }).and_then(|n| unsafe { n.call(h.cast::<H>()) }) else {
        return dead::READ;
    };
    match call.ops.table().dro_read {
        // SAFETY: the client's op, inside the gate.
        Some(f) => unsafe {
            f(
                call.softc as *mut c_void,
                call.priv_ as *mut c_void,
                uio,
                ioflag,
            )
        },
        None => missing::READ,
    }
}

#[no_mangle]
pub extern "C" fn devref_rs_write(
    n: *mut c_void,
    h: *mut c_void,
    uio: *mut uio,
    ioflag: c_int,
) -> c_int {
    // SAFETY: as in devref_rs_read.
    let Some(call) = (unsafe { node(n) }).and_then(|n| unsafe { n.call(h.cast::<H>()) }) else {
        return dead::WRITE;
    };
    match call.ops.table().dro_write {
        // SAFETY: the client's op, inside the gate.
        Some(f) => unsafe {
            f(
                call.softc as *mut c_void,
                call.priv_ as *mut c_void,
                uio,
                ioflag,
            )
        },
        None => missing::WRITE,
    }
}

#[no_mangle]
pub extern "C" fn devref_rs_ioctl(
    n: *mut c_void,
    h: *mut c_void,
    cmd: c_ulong,
    data: *mut c_char,
    fflag: c_int,
    td: *mut thread,
) -> c_int {
    // SAFETY: as in devref_rs_read.
    let Some(call) = (unsafe { node(n) }).and_then(|n| unsafe { n.call(h.cast::<H>()) }) else {
        return dead::IOCTL;
    };
    match call.ops.table().dro_ioctl {
        // SAFETY: the client's op, inside the gate; data is devfs's copy.
        Some(f) => unsafe {
            f(
                call.softc as *mut c_void,
                call.priv_ as *mut c_void,
                cmd,
                data,
                fflag,
                td,
            )
        },
        None => missing::IOCTL,
    }
}

#[no_mangle]
pub extern "C" fn devref_rs_poll(
    n: *mut c_void,
    h: *mut c_void,
    events: c_int,
    td: *mut thread,
) -> c_int {
    // SAFETY: as in devref_rs_read.
    let Some(node) = (unsafe { node(n) }) else {
        return dead::POLL;
    };
    // SAFETY: this file's cdevpriv (or NULL).
    let Some(call) = (unsafe { node.call(h.cast::<H>()) }) else {
        return dead::POLL;
    };
    let Some(f) = call.ops.table().dro_poll else {
        return missing::poll(events);
    };
    // SAFETY: the client's op, inside the gate.
    let ask = || unsafe { f(call.softc as *mut c_void, call.priv_ as *mut c_void, events) };
    let ready = ask();
    if ready != 0 {
        return ready;
    }
    // Record, then ask again: a notify between the two is not lost
    // (selwakeup after our selrecord wakes us; before it, we see it).
    if let Some(ev) = node.events(&call) {
        // SAFETY: a live set of this incarnation; td is the caller.
        unsafe { shim::devref_shim_events_record(ev.raw(), td.cast()) }
    }
    ask()
}

#[no_mangle]
pub extern "C" fn devref_rs_handle_node(h: *mut c_void) -> *mut c_void {
    if h.is_null() {
        return core::ptr::null_mut();
    }
    // SAFETY: a live cdevpriv handle.
    unsafe { (*h.cast::<H>()).node_ptr().cast_mut().cast() }
}

#[no_mangle]
pub extern "C" fn devref_rs_handle_dtor(h: *mut c_void) {
    if !h.is_null() {
        // SAFETY: devfs runs each file's destructor once.
        unsafe { NodeK::release_handle(h.cast::<H>()) }
        // The file's regions went with it.
        crate::vm::arm_graveyard_if_needed();
        // Last: after this only the return path runs in devref's text.
        LIVE_HANDLES.fetch_sub(1, Ordering::AcqRel);
    }
}

#[no_mangle]
pub extern "C" fn devref_rs_kqfilter(
    n: *mut c_void,
    h: *mut c_void,
    kn: *mut shim::knote,
) -> c_int {
    // SAFETY: as in devref_rs_read.
    let Some(node) = (unsafe { node(n) }) else {
        return dead::KQFILTER;
    };
    // SAFETY: this file's cdevpriv (or NULL).
    let Some(call) = (unsafe { node.call(h.cast::<H>()) }) else {
        return dead::KQFILTER;
    };
    // Attach to this incarnation's list while inside the gate: destroy
    // clears the list only after the gate has drained.
    let Some(ev) = node.events(&call) else {
        return dead::KQFILTER;
    };
    // SAFETY: a live list; kn is the knote devfs is attaching.
    let e = unsafe { shim::devref_shim_kn_attach(ev.raw(), kn, h) };
    if e == 0 {
        // Knotes keep devref's filterops after their device is gone: from
        // now on devref.ko must stay loaded.
        KQUEUE_USED.store(true, Ordering::Relaxed);
    }
    e
}

#[no_mangle]
pub extern "C" fn devref_rs_kn_event(h: *mut c_void, filter: c_int) -> c_int {
    if h.is_null() {
        return -1;
    }
    // SAFETY: the knote is on its list, so the file and its handle live.
    let node = unsafe { &*(*h.cast::<H>()).node_ptr() };
    // SAFETY: as above.
    let Some(call) = (unsafe { node.call(h.cast::<H>()) }) else {
        return -1;
    };
    let want = if filter == shim::DEVREF_EVFILT_WRITE {
        POLLOUT | POLLWRNORM
    } else {
        POLLIN | POLLRDNORM
    };
    let ready = match call.ops.table().dro_poll {
        // SAFETY: the client's op, inside the gate; must not sleep (KPI).
        Some(f) => unsafe { f(call.softc as *mut c_void, call.priv_ as *mut c_void, want) },
        None => missing::poll(want),
    };
    c_int::from(ready != 0)
}

/// d_mmap_single: a referenced pager object of one of the device's regions
/// and the offset inside it.  Never ENODEV (the kernel would fall back to
/// an unmanaged d_mmap object): EINVAL, EACCES or ENXIO instead.
#[no_mangle]
pub extern "C" fn devref_rs_mmap_single(
    n: *mut c_void,
    h: *mut c_void,
    offset: *mut u64,
    size: u64,
    nprot: c_int,
    file_writable: c_int,
    objp: *mut *mut c_void,
) -> c_int {
    // SAFETY: si_drv1.
    let Some(node) = (unsafe { node(n) }) else {
        return devref_core::dev::dead::MMAP;
    };
    if offset.is_null() || objp.is_null() {
        return devref_core::dev::EINVAL;
    }
    // SAFETY: the kernel's in/out offset.
    let off = unsafe { *offset } as i64;
    // SAFETY: this file's cdevpriv (or NULL).
    match unsafe { node.mmap(h.cast::<H>(), off, size, nprot, file_writable != 0) } {
        Ok((obj, inner)) => {
            // SAFETY: the kernel's out pointers, checked non-null.
            unsafe {
                *objp = obj as *mut c_void;
                *offset = inner;
            }
            0
        }
        Err(e) => e,
    }
}
