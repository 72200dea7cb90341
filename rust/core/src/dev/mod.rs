//! Devices, clients and dispatch: what devref.ko does with its gates.
//!
//! devref owns every device node it creates for a client.  A node is
//! served by devref's resident entry points; each call enters the node's
//! gate, checks that the file was opened on the node's current
//! *incarnation*, and only then calls the client.  Destroying a device
//! closes the gate, wakes the client's sleepers, waits for the calls inside
//! (never for idle open files), and then releases every open file's client
//! state, so that a client can be unloaded at call granularity.
//!
//! ```text
//!   create ──▶ Alive ──destroy──▶ Closing ──drained──▶ Dead
//!                ▲                  │  ▲                 │
//!                │                  └──┘ timeout/signal: │
//!                │                  nothing torn down;   │
//!                │                  destroy again        │
//!                └──── create, same name and perms ──────┘  (pcpu only:
//!                      (new incarnation, same node)          the node is
//!                                                            a tombstone)
//! ```
//!
//! `pcpu` nodes are eternal cdevs: the node (and this crate's `Node`) lives
//! until reboot, answering as devfs answers for a destroyed device.
//! `counted` nodes are ordinary cdevs, destroyed with destroy_dev once the
//! gate has drained.
//!
//! Invariant that makes the fast path lock-free: a node's incarnation data
//! (number, client, softc) is written only while its gate is drained (closed
//! and nobody inside), and read only by calls inside the gate.  The gate's
//! reopen is a release store and entry an acquire load, so every call sees
//! the data of the incarnation it entered.

mod errno;
mod handle;
mod kernel;
mod name;
mod node;
mod registry;

pub use errno::*;
pub use handle::Handle;
pub use kernel::{ClientOps, Kernel};
pub use name::DevName;
pub use node::{Call, Mode, Node, NodeStats, Perms, MARK_FILTER, MARK_PURGE};
pub use registry::{
    ClientId, ClientRec, ClientStats, Devref, NodeInfo, DEFERRED_SLICE_NS, MAX_CLIENTS, MAX_NODES,
};
