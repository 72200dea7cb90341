//! The exported client KPI (shim/devref_kpi.h): C calling conventions and
//! argument checks around the core's registry.

use alloc::sync::Arc;
use core::ffi::{c_char, c_int, c_uint, c_ulong, c_void, CStr};

use devref_core::dev::{ClientRec, Mode, Perms, EDEADLK, EINVAL, ENXIO};
use devref_sys::kpi::{devref_client, devref_dev, devref_ops, DEVREF_KPI_VERSION};
use devref_sys::shim;

use crate::ops::RawOps;
use crate::state::{self, NodeK};

/// The KPI's calling-context rules, checked at run time at every entry: a
/// module build has no KASSERT, MPASS or WITNESS_WARN, even on a debug
/// kernel, so without this a misplaced call would hang or panic somewhere
/// else, later.  Entries that may sleep (M_WAITOK, msleep, an IPI
/// rendezvous) refuse every context that may not; entries that only take
/// sleep mutexes (wakeup, notify, free) refuse only critical sections
/// (spin locks, interrupt filters): they are legal, and needed, in
/// interrupt threads, callouts and epoch sections.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// The entry may sleep.
    Sleep,
    /// The entry takes sleep mutexes only.
    Mutex,
}

fn context_ok(what: &str, needs: Needs) -> Result<(), c_int> {
    // SAFETY: reads three fields of the current thread.
    let why = match unsafe { shim::devref_shim_context() } as u32 {
        shim::DEVREF_CTX_OK => return Ok(()),
        shim::DEVREF_CTX_CRITICAL => "a critical section, spin lock or interrupt filter",
        _ if needs == Needs::Mutex => return Ok(()),
        shim::DEVREF_CTX_RW_RLOCKED => "a thread holding an rwlock for read",
        _ => "an interrupt thread, callout, epoch section or kqueue filter",
    };
    if log_allowed() {
        crate::log::line(format_args!(
            "{}: called from {}, where it may not {}: refused",
            what,
            why,
            if needs == Needs::Sleep {
                "sleep"
            } else {
                "take a sleep mutex"
            }
        ));
    }
    Err(EDEADLK)
}

fn may_sleep(what: &str) -> Result<(), c_int> {
    context_ok(what, Needs::Sleep)
}

fn may_lock(what: &str) -> Result<(), c_int> {
    context_ok(what, Needs::Mutex)
}

/// At most one refusal line a second (a misplaced call may sit in a hot
/// path): ppsratecheck's idea, on the uptime clock.
fn log_allowed() -> bool {
    use core::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // SAFETY: plain query.
    let now = unsafe { shim::devref_shim_uptime_ns() };
    let next = NEXT.load(Ordering::Relaxed);
    now >= next
        && NEXT
            .compare_exchange(
                next,
                now.saturating_add(1_000_000_000),
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok()
}

/// KPI timeouts: < 0 none, else milliseconds.
fn timeout_ns(ms: c_int) -> Option<u64> {
    u64::try_from(ms)
        .ok()
        .map(|ms| ms.saturating_mul(1_000_000))
}

/// The client at `c`, with a reference of our own, if it is registered:
/// found by address in devref's table, never by dereferencing `c` (a call
/// racing the client's own successful unregister may pass a stale one).
fn client(d: &crate::state::DevrefK, c: *mut devref_client) -> Option<Arc<ClientRec<RawOps>>> {
    d.client_arc(c as usize)
}

/// # Safety
/// `d` is a device pointer from devref_dev_create, not yet freed.
unsafe fn node<'a>(d: *mut devref_dev) -> Option<&'a NodeK> {
    // SAFETY: per the contract.
    unsafe { d.cast::<NodeK>().as_ref() }
}

#[no_mangle]
pub extern "C" fn devref_malloc(size: c_ulong, align: c_ulong) -> *mut c_void {
    if may_sleep("devref_malloc").is_err() {
        return core::ptr::null_mut();
    }
    // SAFETY: plain call into malloc(9).
    unsafe { shim::devref_shim_alloc(size, align) }
}

/// # Safety
/// `p` came from devref_malloc (or is NULL).
#[no_mangle]
pub unsafe extern "C" fn devref_free(p: *mut c_void) {
    // free(9) may take a zone's sleep mutex: a misplaced free leaks (and
    // says so) rather than risk the machine.
    if !p.is_null() && may_lock("devref_free").is_ok() {
        // SAFETY: per the contract.
        unsafe { shim::devref_shim_free(p) }
    }
}

/// # Safety
/// `ops` is NULL or a table that outlives the registration.
#[no_mangle]
pub unsafe extern "C" fn devref_client_register(
    ops: *const devref_ops,
    clientp: *mut *mut devref_client,
) -> c_int {
    if let Err(e) = may_sleep("devref_client_register") {
        return e;
    }
    if ops.is_null() || clientp.is_null() {
        return EINVAL;
    }
    // SAFETY: non-null, per the contract.
    let t = unsafe { &*ops };
    if t.dro_version != DEVREF_KPI_VERSION
        || (t.dro_size as usize) < core::mem::size_of::<devref_ops>()
    {
        crate::log::line(format_args!(
            "client registration refused: KPI version {} (size {}), devref speaks {}",
            t.dro_version, t.dro_size, DEVREF_KPI_VERSION
        ));
        return EINVAL;
    }
    let Some(d) = state::get() else { return ENXIO };
    // SAFETY: per the contract.
    match d.register(unsafe { RawOps::new(ops) }) {
        Ok(rec) => {
            // SAFETY: valid out pointer (checked non-null).
            unsafe { *clientp = Arc::into_raw(rec).cast_mut().cast() };
            0
        }
        Err(e) => e,
    }
}

/// # Safety
/// `c` came from devref_client_register and was not unregistered.
#[no_mangle]
pub unsafe extern "C" fn devref_client_unregister(
    c: *mut devref_client,
    timeout_ms: c_int,
) -> c_int {
    if let Err(e) = may_sleep("devref_client_unregister") {
        return e;
    }
    let Some(d) = state::get() else { return ENXIO };
    let Some(rec) = client(&d, c) else {
        return EINVAL;
    };
    let r = d.unregister(&rec, timeout_ns(timeout_ms));
    crate::vm::arm_graveyard_if_needed();
    match r {
        Ok(()) => {
            // The client's own reference (from register) goes with its
            // registration; only the unregister that succeeded gets here.
            // SAFETY: c came from Arc::into_raw in register and was in the
            // table until now, so that reference is still there.
            drop(unsafe { Arc::from_raw(c.cast_const().cast::<ClientRec<RawOps>>()) });
            0
        }
        Err(e) => e,
    }
}

/// # Safety
/// `c` is a registered client; `name` is NULL or a C string; `devp` valid.
#[no_mangle]
pub unsafe extern "C" fn devref_dev_create(
    c: *mut devref_client,
    name: *const c_char,
    mode: c_int,
    uid: c_uint,
    gid: c_uint,
    perms: c_int,
    softc: *mut c_void,
    devp: *mut *mut devref_dev,
) -> c_int {
    if let Err(e) = may_sleep("devref_dev_create") {
        return e;
    }
    let Some(d) = state::get() else { return ENXIO };
    let Some(rec) = client(&d, c) else {
        return EINVAL;
    };
    if name.is_null() || devp.is_null() {
        return EINVAL;
    }
    // SAFETY: a C string from the client.
    let name = unsafe { CStr::from_ptr(name) }.to_bytes();
    let mode = match mode as u32 {
        devref_sys::kpi::DEVREF_MODE_PCPU => Mode::Pcpu,
        devref_sys::kpi::DEVREF_MODE_COUNTED => Mode::Counted,
        _ => return EINVAL,
    };
    let Ok(perms) = u32::try_from(perms) else {
        return EINVAL;
    };
    let perms = Perms {
        uid,
        gid,
        mode: perms,
    };
    match d.create(&rec, name, mode, perms, softc as usize) {
        Ok(n) => {
            // The registry keeps the node; the client borrows it.
            // SAFETY: valid out pointer (checked non-null).
            unsafe { *devp = Arc::as_ptr(&n).cast_mut().cast() };
            0
        }
        Err(e) => e,
    }
}

/// # Safety
/// `dev` came from devref_dev_create and was not freed.
#[no_mangle]
pub unsafe extern "C" fn devref_dev_destroy(dev: *mut devref_dev, timeout_ms: c_int) -> c_int {
    if let Err(e) = may_sleep("devref_dev_destroy") {
        return e;
    }
    let Some(d) = state::get() else { return ENXIO };
    let Some(n) = d.node_arc(dev as usize) else {
        return EINVAL;
    };
    let r = d.destroy(&n, timeout_ns(timeout_ms));
    crate::vm::arm_graveyard_if_needed();
    match r {
        Ok(()) => 0,
        Err(e) => e,
    }
}

/// # Safety
/// `dev` is a live device of the calling client.
#[no_mangle]
pub unsafe extern "C" fn devref_sleep_prepare(dev: *mut devref_dev) -> c_ulong {
    if may_lock("devref_sleep_prepare").is_err() {
        // devref_sleep will refuse too: the ticket does not matter.
        return 0;
    }
    // SAFETY: per the contract.
    unsafe { node(dev) }.map_or(0, |n| n.sleep_ticket())
}

/// # Safety
/// `dev` is a live device of the calling client.
#[no_mangle]
pub unsafe extern "C" fn devref_sleep(
    dev: *mut devref_dev,
    ticket: c_ulong,
    timeout_ms: c_int,
) -> c_int {
    if let Err(e) = may_sleep("devref_sleep") {
        return e;
    }
    // SAFETY: per the contract.
    let Some(n) = (unsafe { node(dev) }) else {
        return EINVAL;
    };
    n.sleep(ticket, timeout_ns(timeout_ms))
}

/// # Safety
/// `dev` is a live device of the calling client.
#[no_mangle]
pub unsafe extern "C" fn devref_wakeup(dev: *mut devref_dev) {
    if may_lock("devref_wakeup").is_err() {
        return;
    }
    // SAFETY: per the contract.
    if let Some(n) = unsafe { node(dev) } {
        n.wakeup();
    }
}

/// # Safety
/// `dev` is a live device of the calling client; `kvap` and `cookiep` are
/// valid out pointers.
#[no_mangle]
pub unsafe extern "C" fn devref_region_alloc(
    dev: *mut devref_dev,
    priv_: *mut c_void,
    len: c_ulong,
    flags: c_int,
    kvap: *mut *mut c_void,
    cookiep: *mut c_ulong,
) -> c_int {
    if let Err(e) = may_sleep("devref_region_alloc") {
        return e;
    }
    let writable = devref_sys::kpi::DEVREF_REGION_WRITABLE as c_int;
    if kvap.is_null() || cookiep.is_null() || flags & !writable != 0 {
        return EINVAL;
    }
    // SAFETY: per the contract.
    let Some(n) = (unsafe { node(dev) }) else {
        return EINVAL;
    };
    let owner = (!priv_.is_null()).then_some(priv_ as usize);
    match n.region_alloc(owner, len, flags & writable != 0) {
        Ok(r) => {
            // SAFETY: valid out pointers (checked non-null).
            unsafe {
                *kvap = r.kva as *mut c_void;
                *cookiep = r.cookie;
            }
            0
        }
        Err(e) => e,
    }
}

/// # Safety
/// `dev` is a live device of the calling client.
#[no_mangle]
pub unsafe extern "C" fn devref_region_free(
    dev: *mut devref_dev,
    priv_: *mut c_void,
    cookie: c_ulong,
) -> c_int {
    if let Err(e) = may_sleep("devref_region_free") {
        return e;
    }
    // SAFETY: per the contract.
    let Some(n) = (unsafe { node(dev) }) else {
        return EINVAL;
    };
    let Ok(cookie) = i64::try_from(cookie) else {
        return EINVAL;
    };
    let page = 4096;
    let Ok(req) = devref_core::pager::cookie::decode(cookie, page, page) else {
        return EINVAL;
    };
    if req.offset != 0 {
        return EINVAL;
    }
    let owner = (!priv_.is_null()).then_some(priv_ as usize);
    let r = n.region_free(req.id, owner);
    crate::vm::arm_graveyard_if_needed();
    match r {
        Ok(()) => 0,
        Err(e) => e,
    }
}

/// # Safety
/// `dev` is a live device of the calling client.
#[no_mangle]
pub unsafe extern "C" fn devref_notify(dev: *mut devref_dev) {
    if may_lock("devref_notify").is_err() {
        return;
    }
    // SAFETY: per the contract.
    if let Some(n) = unsafe { node(dev) } {
        n.notify();
    }
}
