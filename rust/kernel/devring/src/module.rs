//! Module events: register with devref, create the nodes, and on unload
//! give devref a bounded time to drain them.
//!
//! The client is published (CLIENT) before the control node exists and
//! taken back only after the control node is destroyed, so a control op,
//! the only op that reaches the client, always finds it alive.

#![allow(unsafe_code)] // the one place devring touches raw module state

use alloc::boxed::Box;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicPtr, Ordering};

use devref::{Client, Created, Mode, Perms};

use crate::node::Node;
use crate::ring::Ring;

/// How long MOD_UNLOAD waits for calls running in devring's code.
const UNLOAD_TIMEOUT_MS: i32 = 5000;

/// The registered client, for control ops (see the module doc).
static CLIENT: AtomicPtr<Client<Node>> = AtomicPtr::new(core::ptr::null_mut());

/// The control node.  Touched only from module events, which the kernel
/// serialises (Giant is held across them).
struct CtlState(UnsafeCell<Option<Created<Node>>>);

// SAFETY: module events are serialised by the kernel (see above).
unsafe impl Sync for CtlState {}

static CTL: CtlState = CtlState(UnsafeCell::new(None));

fn ctl() -> &'static mut Option<Created<Node>> {
    // SAFETY: only module events call this, one at a time (Giant).
    unsafe { &mut *CTL.0.get() }
}

/// The client, for an op of the control node.
pub fn client() -> Option<&'static Client<Node>> {
    // SAFETY: non-null only between MOD_LOAD's publication and MOD_UNLOAD
    // taking it back, which happens after the control node's destroy
    // returned 0: no control op runs then (see the module doc).
    unsafe { CLIENT.load(Ordering::Acquire).as_ref() }
}

/// The benchmark nodes and the control node.
fn create_nodes(client: &Client<Node>) -> devref::Result<Created<Node>> {
    // Root only, as every node devring makes: a node that allocates
    // kernel memory on request is not for every local user.
    let perms = Perms::ROOT_ONLY;
    client.create(c"devring", Mode::Pcpu, perms, Node::Bench(Ring::new(0)))?;
    client.create(
        c"devring_counted",
        Mode::Counted,
        perms,
        Node::Bench(Ring::new(1)),
    )?;
    client.create(c"devringctl", Mode::Pcpu, perms, Node::Ctl(Box::default()))
}

#[no_mangle]
pub extern "C" fn devring_rs_load() -> i32 {
    let client = match Client::<Node>::register() {
        Ok(c) => Box::into_raw(Box::new(c)),
        Err(e) => return e.to_errno(),
    };
    CLIENT.store(client, Ordering::Release);
    // SAFETY: just made, published, and freed only by MOD_UNLOAD.
    match create_nodes(unsafe { &*client }) {
        Ok(c) => {
            *ctl() = Some(c);
            devref::console!(
                "devring: loaded: /dev/devring (pcpu), /dev/devring_counted (counted), /dev/devringctl"
            );
            0
        }
        Err(e) => {
            // A failed MOD_LOAD is followed by MOD_UNLOAD whose answer the
            // kernel ignores, and the file is freed: nothing of ours may
            // stay registered.  The devices are brand new, so waiting
            // (without a timeout, still interruptible) only waits for
            // calls already in.
            CLIENT.store(core::ptr::null_mut(), Ordering::Release);
            // SAFETY: taken back from CLIENT; no control node exists.
            let c = unsafe { Box::from_raw(client) };
            match c.unregister(-1) {
                Ok(()) => e.to_errno(),
                Err((c, _)) => {
                    // Cannot get out cleanly: stay loaded, without
                    // devices serving, rather than leave devref pointing
                    // at freed text.
                    CLIENT.store(Box::into_raw(Box::new(c)), Ordering::Release);
                    0
                }
            }
        }
    }
}

#[no_mangle]
pub extern "C" fn devring_rs_unload() -> i32 {
    let p = CLIENT.load(Ordering::Acquire);
    if p.is_null() {
        return 0;
    }
    // The control node first: once its destroy returned, no control op
    // runs and nothing else reaches the client.
    if let Some(c) = ctl().take() {
        // SAFETY: published and alive (only this function frees it).
        if let Err((c, e)) = unsafe { &*p }.destroy(c, UNLOAD_TIMEOUT_MS) {
            devref::console!(
                "devring: unload refused (error {}): a /dev/devringctl call is still inside",
                e.to_errno()
            );
            *ctl() = Some(c);
            return 16; // EBUSY
        }
    }
    CLIENT.store(core::ptr::null_mut(), Ordering::Release);
    // SAFETY: taken back from CLIENT; no control op runs (above).
    let client = unsafe { Box::from_raw(p) };
    match client.unregister(UNLOAD_TIMEOUT_MS) {
        Ok(()) => {
            devref::console!("devring: unloaded");
            0
        }
        Err((c, e)) => {
            // devref said why on the console; our text must stay.  The
            // control node is gone: pipes are made again after a reload.
            devref::console!(
                "devring: unload refused (error {}): calls still inside; /dev/devringctl is closed",
                e.to_errno()
            );
            CLIENT.store(Box::into_raw(Box::new(c)), Ordering::Release);
            16 // EBUSY
        }
    }
}
