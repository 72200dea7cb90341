//! What the device layer needs beyond the gate's [`Platform`]: device
//! nodes, poll/kqueue notification, deferred work, and the client's ops.

use alloc::boxed::Box;
use core::fmt;

use super::errno::Errno;
use super::name::DevName;
use super::node::{Mode, Perms};
use crate::pager::Vm;
use crate::platform::Platform;

/// Kernel services of the device layer.
///
/// `Platform` is the gate's half; this is the devfs half: on FreeBSD it is
/// make_dev_s/destroy_dev, selinfo + knlist, a taskqueue and the console.
pub trait Kernel: Platform + Clone {
    /// The kernel's node (a `struct cdev *`).
    type Cdev: Send + Sync;
    /// A device's poll/kqueue waiters (selinfo + knlist).
    type Events: Send + Sync;
    /// Proof that a call into the client is inside a node, kept in the
    /// caller's frame while the client runs (see [`Kernel::in_call`]).
    /// Made empty (`Default`), then set where it lies by
    /// [`Kernel::mark_call`]: a kernel may key it by its address.
    type CallMark: Default;

    /// Create the node `/dev/<name>`; `cookie` is handed back to every entry
    /// point (si_drv1, set before the node is published).  `Mode::Pcpu`
    /// makes it eternal.
    fn make_node(
        &self,
        name: &DevName,
        mode: Mode,
        perms: Perms,
        cookie: usize,
    ) -> Result<Self::Cdev, Errno>;

    /// Destroy a `Mode::Counted` node (destroy_dev: it waits for devfs's own
    /// thread count and runs the remaining cdevpriv destructors).  Never
    /// called for an eternal node.
    fn destroy_node(&self, cdev: Self::Cdev);

    /// Fresh waiter lists for an incarnation.  `None` when memory is short.
    fn events_new(&self) -> Option<Self::Events>;
    /// Wake pollers and kqueue filters (selwakeup + KNOTE).
    fn events_wake(&self, ev: &Self::Events);
    /// The incarnation is over: wake and detach every waiter for good
    /// (seldrain + knlist_clear).  The lists are not used again.
    fn events_drain(&self, ev: Self::Events);

    /// Run `job` later on a kernel thread (taskqueue), for work that must
    /// not wait in the current context.
    fn defer(&self, job: Box<dyn FnOnce() + Send>);

    /// Held by a [`Call`] for the life of an entry point.  A kernel whose
    /// entry glue already marks the call's frame (FreeBSD: each cdevsw
    /// entry of the C shim) makes it `()`, keeping the hot path free of a
    /// second mark; a kernel without such glue (the host mock) returns a
    /// real mark.
    ///
    /// [`Call`]: super::node::Call
    type EntryMark;
    fn mark_entry(&self, node: usize) -> Self::EntryMark;
    fn unmark_entry(&self, m: &mut Self::EntryMark);

    /// Mark the current thread as inside a call of node `node`, for a call
    /// into the client that no entry point surrounds (the teardown's
    /// `dro_close`).  The caller keeps it in its own frame.
    fn mark_call(&self, m: &mut Self::CallMark, node: usize);
    /// The call marked by `m` is over: clear the mark where it lies.
    fn unmark_call(&self, m: &mut Self::CallMark);
    /// Is the current thread inside a call of `node` (a call of its own
    /// device: waiting for the drain would wait for itself)?  May answer
    /// true wrongly, never false wrongly; a wrong true is not harmless (a
    /// destroy defers and skips the purge hook, a filter mark refuses with
    /// EDEADLK, an unregister fails), so a kernel's marks must not be easy
    /// to forge (FreeBSD: keyed by address and a per-boot secret).
    fn in_call(&self, node: usize) -> bool;

    /// A console line.
    fn log(&self, args: fmt::Arguments<'_>);

    /// The VM devices' regions of revocable memory live in (FreeBSD: the
    /// managed device pager, shim/devref_pager.c).
    type Vm: Vm;
    /// A handle on it (made once, at load).
    fn vm(&self) -> Self::Vm;
}

/// A client's operations, as the device layer calls them.  `softc` and
/// `priv_` are opaque to devref.  read/write/ioctl/poll are not here: the
/// kernel glue calls them with their kernel arguments through [`Call`].
///
/// [`Call`]: super::node::Call
pub trait ClientOps: Send + Sync + 'static {
    /// The client's name, for messages.
    fn name(&self) -> &str;
    /// open(2): per-open state, or an errno.
    fn open(&self, softc: usize, oflags: i32, td: usize) -> Result<usize, Errno>;
    /// Release what `open` returned; exactly once per successful open.
    fn close(&self, softc: usize, priv_: usize);
    /// Wake the client's own sleepers: the device is being destroyed.
    fn purge(&self, softc: usize);
}
