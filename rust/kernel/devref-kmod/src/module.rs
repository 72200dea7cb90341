//! Module events (the shim's devref_modevent calls these with Giant held).

use core::sync::atomic::{AtomicUsize, Ordering};

use devref_core::dev::{Devref, EBUSY, ENOMEM};
use devref_sys::shim;

use crate::dispatch::KQUEUE_USED;
use crate::log::console;
use crate::platform::FreeBsd;
use crate::state;

/// Deferred destroys queued or running on devref's taskqueue.
pub static DEFERRED: AtomicUsize = AtomicUsize::new(0);

#[no_mangle]
pub extern "C" fn devref_rs_load() -> i32 {
    // SAFETY: plain call, once per load.
    let e = unsafe { shim::devref_shim_taskq_init() };
    if e != 0 {
        console!("load failed: cannot start the taskqueue (error {})", e);
        return e;
    }
    let Some(d) = Devref::new(FreeBsd) else {
        console!("load failed: out of memory for the registry");
        return ENOMEM;
    };
    state::install(d);
    // SAFETY: plain call, once per load, after the registry exists.
    unsafe { shim::devref_shim_sysctl_init() };
    console!(
        "loaded, client KPI version {}",
        devref_sys::kpi::DEVREF_KPI_VERSION
    );
    0
}

/// Also runs after a failed MOD_LOAD, with nothing installed.
#[no_mangle]
pub extern "C" fn devref_rs_unload() -> i32 {
    let Some(d) = state::get() else {
        // SAFETY: frees what a failed load made (each copes with nothing).
        unsafe {
            shim::devref_shim_sysctl_fini();
            shim::devref_shim_taskq_fini();
        }
        return 0;
    };
    if KQUEUE_USED.load(Ordering::Relaxed) {
        console!("unload refused: kqueue filters were attached to devref devices; their knotes keep devref's filterops");
        return EBUSY;
    }
    let pending = DEFERRED.load(Ordering::Acquire);
    if pending > 0 {
        console!(
            "unload refused: {} deferred destroy(s) still running",
            pending
        );
        return EBUSY;
    }
    if d.prepare_unload().is_err() {
        // prepare_unload said why on the console.
        return EBUSY;
    }
    // From here on registrations are refused: every refusal below must
    // reopen them, or devref would stay loaded and useless.
    let handles = crate::dispatch::LIVE_HANDLES.load(Ordering::Acquire);
    if handles > 0 {
        // A close(2) of a destroyed counted device can still be in (or on
        // its way to) its cdevpriv destructor: retry shortly.
        d.abort_unload();
        console!(
            "unload refused: {} open file(s) not yet released by devfs",
            handles
        );
        return EBUSY;
    }
    // Only counted nodes were ever made, and all are destroyed: wait until
    // devfs is done with our cdevsw before the text goes.
    // SAFETY: plain call.
    unsafe { shim::devref_shim_cdevsw_drain() };
    // The reports read the registry: remove them, waiting for readers.
    // SAFETY: plain call; Giant is all we hold.
    if unsafe { shim::devref_shim_sysctl_fini() } != 0 {
        d.abort_unload();
        console!("unload refused: cannot remove kern.devref sysctls");
        return EBUSY;
    }
    // No pager object is left (prepare_unload): stop the graveyard's
    // retry, try once more, and abandon what someone else still holds
    // (mlock never lets go): it keeps devref's wiring, and no object, page
    // table or kernel mapping of devref's points at it.
    // SAFETY: plain call; the taskqueue is still there.
    unsafe { shim::devref_shim_graveyard_stop() };
    d.pager().retry_graveyard();
    let abandoned = d.pager().abandon_graveyard();
    if abandoned > 0 {
        console!(
            "unload: {} page(s) of revoked device memory still held by others (mlock?) abandoned",
            abandoned
        );
    }
    // SAFETY: no job is pending (checked above): this only waits for the
    // tail of the last one and frees the queue.
    unsafe { shim::devref_shim_taskq_fini() };
    drop(state::uninstall());
    console!("unloaded");
    0
}
