//! Module events (the shim's devref_modevent calls these with Giant held).

use devref_core::dev::{Devref, EBUSY, ENOMEM};
use devref_sys::shim;

use crate::log::console;
use crate::platform::FreeBsd;
use crate::state;

#[no_mangle]
pub extern "C" fn devref_rs_load() -> i32 {
    let Some(d) = Devref::new(FreeBsd) else {
        console!("load failed: out of memory for the registry");
        return ENOMEM;
    };
    state::install(d);
    console!("loaded, client KPI version {}", devref_sys::kpi::DEVREF_KPI_VERSION);
    0
}

/// Also runs after a failed MOD_LOAD, with nothing installed.
#[no_mangle]
pub extern "C" fn devref_rs_unload() -> i32 {
    let Some(d) = state::get() else { return 0 };
    if d.prepare_unload().is_err() {
        // prepare_unload said why on the console.
        return EBUSY;
    }
    // Only counted nodes were ever made, and all are destroyed: wait until
    // devfs is done with our cdevsw before the text goes.
    // SAFETY: plain call.
    unsafe { shim::devref_shim_cdevsw_drain() };
    drop(state::uninstall());
    console!("unloaded");
    0
}
