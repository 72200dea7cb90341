//! Module events (the shim's devref_modevent calls these with Giant held).

use crate::log::console;

#[no_mangle]
pub extern "C" fn devref_rs_load() -> i32 {
    console!("loaded, KPI version {}", devref_sys::kpi::DEVREF_KPI_VERSION);
    0
}

#[no_mangle]
pub extern "C" fn devref_rs_unload() -> i32 {
    console!("unloaded");
    0
}
