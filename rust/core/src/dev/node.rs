//! A device node: its gate, its current incarnation, its open files, its
//! sleepers.  See the module doc of `dev` for the life cycle.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};

use super::errno::*;
use super::handle::{Handle, HandleList};
use super::kernel::{ClientOps, Kernel};
use super::name::DevName;
use super::registry::ClientRec;
use crate::gate::{DrainError, GateGuard};
use crate::lifecycle::{Closing, DevState, Lifecycle, LifecycleError};
use crate::pager::{cookie, NewRegion, PagerShared, RegionStats, Regions, Vm};
use crate::platform::WaitOutcome;

/// How a node is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Eternal cdev, every entry through the per-CPU gate.
    Pcpu,
    /// Ordinary cdev (devfs's si_threadcount), plus the gate so that
    /// destroy is bounded.
    Counted,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Pcpu => "pcpu",
            Mode::Counted => "counted",
        }
    }
}

/// Owner and permission bits of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perms {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

pub(crate) struct NodeState<K: Kernel, C: ClientOps> {
    /// The client of the current incarnation (None once Dead).
    pub client: Option<Arc<ClientRec<C>>>,
    pub handles: HandleList<Handle<Node<K, C>>>,
    pub cdev: Option<K::Cdev>,
    /// Purge hooks running now: the teardown waits for them, so that no
    /// teardown (and no unregister that finds the node gone) overlaps
    /// client code still running in a purge.
    pub purging: u32,
}

// SAFETY: the raw handle pointers are only followed under the node's lock.
unsafe impl<K: Kernel, C: ClientOps> Send for NodeState<K, C> {}

pub(crate) struct SleepState {
    pub closing: bool,
    pub ticket: u64,
}

/// A device node.
pub struct Node<K: Kernel, C: ClientOps> {
    pub(crate) k: K,
    name: DevName,
    mode: Mode,
    perms: Perms,
    /// The gate and Alive → Closing → Drained → Dead (→ Alive again for a
    /// reused eternal node).
    pub(crate) life: Lifecycle<K>,
    // The incarnation data: written only while the gate is drained, read
    // only inside the gate (module doc of `dev`).
    incarnation: AtomicU64,
    client_rec: AtomicPtr<ClientRec<C>>,
    softc: AtomicUsize,
    /// The incarnation's poll/kqueue lists.  Written only while the gate is
    /// drained (attach, and the teardown, under `st`); read by calls inside
    /// the gate, and by a closer under `st` (which excludes the teardown).
    events: UnsafeCell<Option<K::Events>>,
    /// Its cdev was made: only a published eternal node can be a
    /// tombstone (a node still being created is not one).
    published: core::sync::atomic::AtomicBool,
    pub(crate) st: K::Lock<NodeState<K, C>>,
    sleep: K::Lock<SleepState>,
    /// Revocable memory of this device's incarnations (managed pager).
    regions: Regions<K, K::Vm>,
}

/// Regions one device may have at once.
pub const MAX_REGIONS: usize = 256;

/// `PROT_WRITE` (sys/mman.h), in d_mmap_single's nprot.
pub const PROT_WRITE: i32 = 0x02;

// SAFETY: `events` is accessed only under the rules on its field (the gate
// or `st` excludes every writer); everything else is atomics and locks.
unsafe impl<K: Kernel, C: ClientOps> Sync for Node<K, C> {}
// SAFETY: as above; the node owns nothing tied to a thread.
unsafe impl<K: Kernel, C: ClientOps> Send for Node<K, C> {}

/// Low bits of a call mark that is not an ordinary entry (a node is at
/// least word-aligned).  shim/devref_shim.h has the same values.
pub const MARK_PURGE: usize = 1;
pub const MARK_FILTER: usize = 2;

/// Whether a destroy runs the client's purge hook (see `begin_close`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purge {
    /// Never (a node that was never published: nobody can be inside).
    Never,
    /// Only the destroy that closes the life (devref's deferred job).
    IfClosedNow,
    /// Every destroy by the client (its destroy calls, its unregister).
    Always,
}

/// A snapshot of a node's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    pub calls: u64,
    pub inside: usize,
    pub drains: u64,
    pub failed_drains: u64,
    pub last_drain_ns: u64,
    pub incarnation: u64,
    pub open_files: usize,
    pub alive: bool,
}

/// A call inside a node: the gate is held until it is dropped, so the
/// client (its text and its softc) stays valid for its whole life.
pub struct Call<'a, K: Kernel, C: ClientOps> {
    _guard: GateGuard<'a, K>,
    mark: K::EntryMark,
    node: *const (),
    k: &'a K,
    pub ops: &'a C,
    pub softc: usize,
    pub priv_: usize,
}

impl<K: Kernel, C: ClientOps> Drop for Call<'_, K, C> {
    fn drop(&mut self) {
        self.k.unmark_entry(&mut self.mark);
    }
}

impl<K: Kernel, C: ClientOps> Node<K, C> {
    pub(crate) fn new(
        k: K,
        name: DevName,
        mode: Mode,
        perms: Perms,
        pager: Arc<PagerShared<K, K::Vm>>,
    ) -> Option<Self> {
        let regions = Regions::new(k.clone(), pager, MAX_REGIONS)?;
        // A new node starts Dead with its gate drained: attach() brings it
        // to life exactly as it revives a tombstone.
        let life = Lifecycle::new_dead(k.clone())?;
        let st = k.lock_new(
            "devref node",
            NodeState {
                client: None,
                handles: HandleList::new(),
                cdev: None,
                purging: 0,
            },
        )?;
        let sleep = k.lock_new(
            "devref sleep",
            SleepState {
                closing: true,
                ticket: 0,
            },
        )?;
        Some(Node {
            k,
            name,
            mode,
            perms,
            life,
            incarnation: AtomicU64::new(0),
            client_rec: AtomicPtr::new(ptr::null_mut()),
            softc: AtomicUsize::new(0),
            events: UnsafeCell::new(None),
            published: core::sync::atomic::AtomicBool::new(false),
            st,
            sleep,
            regions,
        })
    }

    pub fn name(&self) -> &DevName {
        &self.name
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn perms(&self) -> Perms {
        self.perms
    }

    /// The cookie devfs hands back to the entry points (si_drv1).
    pub fn cookie(&self) -> usize {
        self as *const Self as usize
    }

    /// The call mark the client's purge hook runs under: the cookie with its
    /// low bit set (a node is word-aligned), so that a destroy issued from
    /// inside the purge can tell it from an ordinary call of the device.
    pub fn purge_cookie(&self) -> usize {
        self.cookie() | MARK_PURGE
    }

    /// The call mark of the client's poll op run as kqueue's filter, with
    /// the knlist mutex held (the kernel glue sets it): a destroy from there
    /// must neither wait nor take the node's locks (it would order them
    /// after the knlist mutex, the reverse of a destroy's wakeup).
    pub fn filter_cookie(&self) -> usize {
        self.cookie() | MARK_FILTER
    }

    /// Start a new incarnation served by `client`.  The node must be Dead
    /// (a fresh node or a tombstone) and its gate drained.
    pub(crate) fn attach(
        &self,
        client: &Arc<ClientRec<C>>,
        softc: usize,
        events: K::Events,
    ) -> Result<u64, Errno> {
        let k = &self.k;
        let mut events = Some(events);
        let mut inc = 0;
        self.life
            .revive(|| {
                // The gate is drained: nobody is inside and nobody can
                // enter until the reopen that follows, so the incarnation
                // data may change.
                inc = self.incarnation.load(Ordering::Relaxed).wrapping_add(1);
                self.incarnation.store(inc, Ordering::Relaxed);
                self.client_rec
                    .store(Arc::as_ptr(client).cast_mut(), Ordering::Relaxed);
                self.softc.store(softc, Ordering::Relaxed);
                k.with_lock(&self.st, |st| {
                    st.client = Some(client.clone());
                    // SAFETY: drained, under `st` (the field's rules).
                    unsafe { *self.events.get() = events.take() };
                });
                k.with_lock(&self.sleep, |s| s.closing = false);
            })
            .map_err(|_| EEXIST)?;
        Ok(inc)
    }

    pub(crate) fn set_cdev(&self, cdev: K::Cdev) {
        self.k.with_lock(&self.st, |st| st.cdev = Some(cdev));
        self.published.store(true, Ordering::Release);
    }

    pub(crate) fn is_published(&self) -> bool {
        self.published.load(Ordering::Acquire)
    }

    /// The current life (see [`Lifecycle::generation`]): a destroy acts on
    /// the life it was asked for, never on a later one.
    pub(crate) fn generation(&self) -> u64 {
        self.life.generation()
    }

    pub(crate) fn take_cdev(&self) -> Option<K::Cdev> {
        self.k.with_lock(&self.st, |st| st.cdev.take())
    }

    /// The client of the current incarnation, if alive or closing.
    pub(crate) fn client(&self) -> Option<Arc<ClientRec<C>>> {
        self.k.with_lock(&self.st, |st| st.client.clone())
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.life.state() == DevState::Dead
    }

    /// Enter for a call on an open file.  `None`: answer as a dead device
    /// (the gate is closed, or the file belongs to an earlier incarnation,
    /// or it has no devref handle).
    ///
    /// # Safety
    /// `h` is null or a handle from [`Node::open`] (of any node) that has not
    /// been released: the file it belongs to is the one being called.
    pub unsafe fn call(&self, h: *const Handle<Self>) -> Option<Call<'_, K, C>> {
        if h.is_null() {
            return None;
        }
        let guard = self.life.enter().ok()?;
        // SAFETY: per the contract, the file holds the handle until its
        // cdevpriv destructor, which cannot run during a call on that file.
        let h = unsafe { &*h };
        if !core::ptr::eq(h.node, self) || h.incarnation != self.incarnation.load(Ordering::Relaxed)
        {
            return None;
        }
        Some(self.enter_call(guard, h.priv_))
    }

    fn enter_call<'a>(&'a self, guard: GateGuard<'a, K>, priv_: usize) -> Call<'a, K, C> {
        let rec = self.client_rec.load(Ordering::Relaxed);
        // SAFETY: inside the gate the incarnation's client is registered:
        // its ClientRec (owned by the registry and by st.client) lives at
        // least until this node drains.
        let ops = unsafe { &(*rec).ops };
        let mark = self.k.mark_entry(self.cookie());
        Call {
            _guard: guard,
            mark,
            node: self as *const Self as *const (),
            k: &self.k,
            ops,
            softc: self.softc.load(Ordering::Relaxed),
            priv_,
        }
    }

    /// open(2).  On success the new handle has been given to `publish`
    /// (which records it as the file's cdevpriv) while the call was still
    /// inside the gate; if `publish` fails the open is undone.
    ///
    /// The handle holds a reference on the node, dropped when the handle is
    /// freed: a file's cdevpriv destructor may still be running when
    /// destroy_dev returns (devfs takes the record off its list before
    /// calling the destructor, and destroy_dev does not wait for that), so
    /// a counted node must outlive its last handle, not its cdev.
    pub fn open(
        &self,
        oflags: i32,
        td: usize,
        publish: impl FnOnce(*mut Handle<Self>) -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        let guard = self.life.enter().map_err(|_| dead::OPEN)?;
        let call = self.enter_call(guard, 0);
        let priv_ = call.ops.open(call.softc, oflags, td)?;
        // SAFETY: every Node lives in an Arc (only Devref::create makes
        // them, with Arc::new), and this one is alive (we are inside it).
        unsafe { Arc::increment_strong_count(self as *const Self) };
        let h = Box::into_raw(Box::new(Handle {
            node: self as *const Self,
            incarnation: self.incarnation.load(Ordering::Relaxed),
            priv_,
            link: core::cell::UnsafeCell::new(super::handle::Link::new()),
        }));
        // SAFETY: h is live and in no list; the lock is held.
        self.k
            .with_lock(&self.st, |st| unsafe { st.handles.push(h) });
        if let Err(e) = publish(h) {
            // SAFETY: h is in the list (destroy cannot have taken it: we
            // are inside the gate, so no drain completed).
            self.k
                .with_lock(&self.st, |st| unsafe { st.handles.remove(h) });
            call.ops.close(call.softc, priv_);
            // SAFETY: nobody else knows h; whoever made this call holds
            // the node (devfs or the registry), so ours is not the last
            // reference.
            unsafe { Self::free_handle(h) };
            return Err(e);
        }
        Ok(())
    }

    /// Free a detached handle and drop its reference on the node.
    ///
    /// # Safety
    /// `h` is detached, unused by anyone else, and someone else holds a
    /// reference on the node (this one is not the last).
    unsafe fn free_handle(h: *mut Handle<Self>) {
        // SAFETY: per the contract.
        let node = unsafe { (*h).node };
        // SAFETY: per the contract.
        drop(unsafe { Box::from_raw(h) });
        // SAFETY: the reference open took; not the last (contract).
        unsafe { Arc::decrement_strong_count(node) };
    }

    /// The file's cdevpriv destructor: release the client's per-open state
    /// unless destroy did or will, and free the handle when last.  Works on
    /// raw pointers: the handle's reference may be the node's last one.
    ///
    /// # Safety
    /// `h` came from [`Node::open`] and is released once.
    pub unsafe fn release_handle(h: *mut Handle<Self>) {
        // SAFETY: the handle holds a reference on its node.
        let node_ptr = unsafe { (*h).node };
        let free = {
            // SAFETY: as above; `node` is not used after this block.
            let node = unsafe { &*node_ptr };
            // SAFETY: per the contract.
            unsafe { node.release_state(h) }
        };
        if free {
            // SAFETY: release_state left h to us; the node's memory is not
            // referenced any more in this frame.
            drop(unsafe { Box::from_raw(h) });
            // SAFETY: the reference open took (maybe the last: the node
            // goes with it).
            unsafe { Arc::decrement_strong_count(node_ptr) };
        }
    }

    /// Release `h`'s client state unless destroy did or will.  True when
    /// the caller must now free the handle.
    ///
    /// # Safety
    /// As for [`Node::release_handle`]; `h` belongs to this node.
    unsafe fn release_state(&self, h: *mut Handle<Self>) -> bool {
        enum Then {
            Close,
            Free,
            Nothing,
        }
        let then = self.k.with_lock(&self.st, |st| {
            // SAFETY: link fields are ours under the lock.
            let l = unsafe { &mut *(*h).link.get() };
            if l.attached {
                // Enter without blocking: if the gate is open the client is
                // alive and we release its state ourselves.
                if self.life.gate().enter_raw().is_ok() {
                    // SAFETY: h is in this list.
                    unsafe { st.handles.remove(h) };
                    Then::Close
                } else {
                    // Closing: destroy will release it, then free it.
                    l.file_open = false;
                    Then::Nothing
                }
            } else if l.releasing {
                l.file_open = false;
                Then::Nothing
            } else {
                Then::Free
            }
        });
        match then {
            Then::Close => {
                // SAFETY: we entered the gate above; h is ours alone now.
                let priv_ = unsafe { (*h).priv_ };
                let rec = self.client_rec.load(Ordering::Relaxed);
                let mut mark = K::CallMark::default();
                self.k.mark_call(&mut mark, self.cookie());
                // SAFETY: inside the gate (see enter_call).
                unsafe { (*rec).ops.close(self.softc.load(Ordering::Relaxed), priv_) };
                self.k.unmark_call(&mut mark);
                // The file's own regions go with its state, mappings and
                // all (the client cannot use them any more either).
                // SAFETY: h is live until the caller frees it.
                let inc = unsafe { (*h).incarnation };
                self.regions.revoke_where(inc, Some(h as usize));
                // SAFETY: pairs with the enter_raw above.
                unsafe { self.life.gate().leave_raw() };
                true
            }
            Then::Free => true,
            Then::Nothing => false,
        }
    }

    /// Close the life `generation` and wake everything that waits inside
    /// it: the client's own sleepers (purge), devref's sleepers, pollers and
    /// kqueue.  The destroy that closes it wakes everything; a destroy that
    /// finds it already closing purges again only if asked (`Purge::Always`:
    /// the client's own retries, as destroy_devl calls d_purge every round;
    /// never devref's deferred job, which may run after the client's
    /// unregister returned).  A destroy of an earlier life does nothing.
    pub(crate) fn begin_close(&self, generation: u64, purge: Purge) {
        let k = &self.k;
        let mut purge_with = None;
        // Read the client under the lifecycle lock: exactly the life closed.
        let closed = self.life.close_gen_with(generation, |c| {
            let want = match purge {
                Purge::Never => false,
                Purge::IfClosedNow => c == Closing::Now,
                Purge::Always => c != Closing::Drained,
            };
            if want {
                purge_with = k
                    .with_lock(&self.st, |st| {
                        let c = st.client.clone();
                        if c.is_some() {
                            st.purging += 1;
                        }
                        c
                    })
                    .map(|cl| (cl, self.softc.load(Ordering::Relaxed)));
            }
        });
        if let Some((client, softc)) = purge_with {
            // Purges are the client's own doing (its thread, or its
            // unregister): its text is there while we call it.  The mark
            // lets a destroy the hook issues see that it runs inside it.
            let mut mark = K::CallMark::default();
            k.mark_call(&mut mark, self.purge_cookie());
            client.ops.purge(softc);
            k.unmark_call(&mut mark);
            k.with_lock(&self.st, |st| {
                st.purging -= 1;
                k.notify_all(&self.st);
            });
        }
        if closed != Ok(Closing::Now) {
            return;
        }
        k.with_lock(&self.sleep, |s| {
            s.closing = true;
            // The mutant (kernsim's self-no-sleeper-wakeup) forgets this.
            #[cfg(not(feature = "mutant-no-sleeper-wakeup"))]
            k.notify_all(&self.sleep);
        });
        k.with_lock(&self.st, |_| {
            // SAFETY: under `st`, which the only writer after the drain
            // (the teardown) also holds.  The filters this wakes find the
            // gate closed and report EV_EOF without calling the client.
            if let Some(ev) = unsafe { (*self.events.get()).as_ref() } {
                k.events_wake(ev);
            }
        });
    }

    /// Wait for the calls inside; on success tear the incarnation down.
    /// `Ok(true)`: this call tore the life down; `Ok(false)`: someone else
    /// did (or it was over already).
    /// `report` says a give-up on the console (devref's deferred job, which
    /// waits in slices, does not).
    pub(crate) fn drain_and_teardown(
        &self,
        generation: u64,
        deadline_ns: Option<u64>,
        report: bool,
    ) -> Result<bool, Errno> {
        let k = &self.k;
        let timeout = deadline_ns.map(|d| d.saturating_sub(k.now_ns()));
        // begin_close ran the purge hook; a repeated destroy must not.
        match self.life.destroy_gen(generation, timeout, &mut || {}) {
            Ok(()) => {}
            // That life is over already (torn down, maybe revived since).
            Err(LifecycleError::Stale) | Err(LifecycleError::BadState(DevState::Dead)) => {
                return Ok(false)
            }
            Err(LifecycleError::Drain(e)) => {
                if report {
                    k.log(format_args!(
                        "{}: destroy gave up with {} call(s) still inside; the device stays closed",
                        self.name,
                        e.inside()
                    ));
                }
                return Err(match e {
                    DrainError::TimedOut { .. } => ETIMEDOUT,
                    DrainError::Interrupted { .. } => EINTR,
                    DrainError::Reopened => EBUSY,
                });
            }
            Err(_) => return Err(EBUSY),
        }
        // Drained: no purge starts any more (begin_close purges only a
        // life not drained yet), but one may still run, e.g. the hook that
        // queued this very destroy (devref's deferred job): wait for it.
        // Found by a host test that failed once under load: the deferred
        // teardown ran while the purge hook was still inside, and the
        // hook's unregister, finding the node gone, answered 0.
        // A purge hook is client code running in the device, waited for
        // as a call is (a destroy or unregister from another thread that
        // such a hook waits for would wait for it in turn, as with ops).
        let mut running = 0;
        let w = k.wait_until(&self.st, deadline_ns, &mut |st| {
            running = st.purging;
            st.purging == 0
        });
        if w != WaitOutcome::Done {
            if report {
                k.log(format_args!(
                    "{}: destroy gave up with {} purge hook(s) still running; the device stays closed",
                    self.name, running
                ));
            }
            return Err(if w == WaitOutcome::TimedOut {
                ETIMEDOUT
            } else {
                EINTR
            });
        }
        let teardown = || {
            let (events, chain, client) = k.with_lock(&self.st, |st| {
                // SAFETY: under the lock.
                let chain = unsafe { st.handles.take_for_release() };
                // SAFETY: drained, under `st` (the field's rules).
                let events = unsafe { (*self.events.get()).take() };
                // The client stays in `st` until the end: an unregister
                // that looks at this node meanwhile must wait for us.
                (events, chain, st.client.clone())
            });
            // Clearing earlier would let a call still inside re-register.
            if let Some(ev) = events {
                k.events_drain(ev);
            }
            let softc = self.softc.load(Ordering::Relaxed);
            let mut h = chain;
            while !h.is_null() {
                // SAFETY: `releasing` keeps h alive for us.
                let priv_ = unsafe { (*h).priv_ };
                if let Some(c) = client.as_ref() {
                    // A destroy the client issues from here must defer, not
                    // wait for this teardown.
                    let mut mark = K::CallMark::default();
                    k.mark_call(&mut mark, self.cookie());
                    c.ops.close(softc, priv_);
                    k.unmark_call(&mut mark);
                }
                let (next, free) = k.with_lock(&self.st, |_| {
                    // SAFETY: link fields under the lock.
                    let l = unsafe { &mut *(*h).link.get() };
                    let next = l.next;
                    l.releasing = false;
                    l.next = ptr::null_mut();
                    (next, !l.file_open)
                });
                if free {
                    // SAFETY: the file's destructor already ran and left it
                    // to us; the destroyer's reference keeps the node.
                    unsafe { Self::free_handle(h) };
                }
                h = next;
            }
            // Every region of the life, the ones the client forgot too: no
            // process reaches its pages any more (a touch is SIGBUS), and
            // devref frees each page once nobody else holds it.
            self.regions
                .revoke_where(self.incarnation.load(Ordering::Relaxed), None);
            k.with_lock(&self.st, |st| st.client = None);
        };
        match self.life.finish_gen(generation, teardown) {
            Ok(()) => Ok(true),
            // Another destroy is tearing down: wait for it.
            Err(LifecycleError::Busy) => match self.life.wait_finished(deadline_ns) {
                Ok(_) => Ok(false),
                Err(LifecycleError::Drain(DrainError::Interrupted { .. })) => Err(EINTR),
                Err(_) => Err(ETIMEDOUT),
            },
            Err(LifecycleError::Stale) | Err(LifecycleError::BadState(DevState::Dead)) => Ok(false),
            Err(_) => Err(EBUSY),
        }
    }

    /// devref_sleep_prepare: the ticket to sleep on.
    pub fn sleep_ticket(&self) -> u64 {
        self.k.with_lock(&self.sleep, |s| s.ticket)
    }

    /// devref_sleep: sleep until a wakeup after `ticket`, the timeout, a
    /// signal, or the device closing (ENXIO, at once if already closing).
    pub fn sleep(&self, ticket: u64, timeout_ns: Option<u64>) -> Errno {
        let k = &self.k;
        let deadline = timeout_ns.map(|t| k.now_ns().saturating_add(t));
        let mut closing = false;
        let w = k.wait_until(&self.sleep, deadline, &mut |s| {
            closing = s.closing;
            s.closing || s.ticket != ticket
        });
        match w {
            WaitOutcome::Done if closing => ENXIO,
            WaitOutcome::Done => 0,
            WaitOutcome::TimedOut => EWOULDBLOCK,
            WaitOutcome::Interrupted => EINTR,
            // The client's op returns it, and the system call restarts.
            WaitOutcome::Restart => ERESTART,
        }
    }

    /// devref_wakeup: wake every sleeper of the device.
    pub fn wakeup(&self) {
        let k = &self.k;
        k.with_lock(&self.sleep, |s| {
            s.ticket = s.ticket.wrapping_add(1);
            k.notify_all(&self.sleep);
        });
    }

    /// devref_notify: readiness changed.  Wakes pollers and runs kqueue
    /// filters (which call the client's poll op) if the device is alive;
    /// once it is closing, the close already woke everyone.
    pub fn notify(&self) {
        if let Ok(_g) = self.life.enter() {
            // SAFETY: inside the gate (the field's rules).
            if let Some(ev) = unsafe { (*self.events.get()).as_ref() } {
                self.k.events_wake(ev);
            }
        }
    }

    /// The current incarnation's poll/kqueue lists, for a call inside it
    /// (`None` for a call of another node).
    pub fn events<'a>(&'a self, call: &Call<'a, K, C>) -> Option<&'a K::Events> {
        if !ptr::eq(call.node, self as *const Self as *const ()) {
            return None;
        }
        // SAFETY: the Call proves we are inside this node's gate.
        unsafe { (*self.events.get()).as_ref() }
    }

    /// A region of at least `len` bytes for the current incarnation:
    /// device-wide, or owned by the open file whose per-open state is
    /// `owner_priv` (which must name exactly one open file).  Called by the
    /// client, from inside one of its ops.
    pub fn region_alloc(
        &self,
        owner_priv: Option<usize>,
        len: u64,
        writable: bool,
    ) -> Result<NewRegion, Errno> {
        let _g = self.life.enter().map_err(|_| ENXIO)?;
        let inc = self.incarnation.load(Ordering::Relaxed);
        let owner = self.owner_of(owner_priv, inc)?;
        let r = self
            .regions
            .alloc_for(self.cookie(), owner, inc, len, writable)?;
        // The allocation may sleep: the owner's file may have been released
        // meanwhile, and its revocation may have scanned before this region
        // was placed.  Still there now: any later release revokes it.
        if owner.is_some() && self.owner_of(owner_priv, inc).ok() != Some(owner) {
            let _ = self.regions.free(r.id, owner);
            return Err(EINVAL);
        }
        Ok(r)
    }

    /// Take back a region the client allocated (same owner).
    pub fn region_free(
        &self,
        id: cookie::CookieId,
        owner_priv: Option<usize>,
    ) -> Result<(), Errno> {
        let _g = self.life.enter().map_err(|_| ENXIO)?;
        let inc = self.incarnation.load(Ordering::Relaxed);
        let owner = self.owner_of(owner_priv, inc)?;
        self.regions.free(id, owner)
    }

    fn owner_of(&self, owner_priv: Option<usize>, inc: u64) -> Result<Option<usize>, Errno> {
        let Some(p) = owner_priv else { return Ok(None) };
        // SAFETY: under the list's lock.
        let h = self
            .k
            .with_lock(&self.st, |st| unsafe { st.handles.find_priv(p, inc) });
        h.map(|h| Some(h as usize)).ok_or(EINVAL)
    }

    /// d_mmap_single for the open file `h`: a referenced pager object and
    /// the offset inside it, for `size` bytes at the mmap offset `offset`.
    /// ENXIO for a dead device or an earlier incarnation's file; EINVAL
    /// for a bad offset or size; EACCES for another file's region, or
    /// writing to a read-only one (or from a file opened for writing).
    ///
    /// # Safety
    /// As for [`Node::call`].
    pub unsafe fn mmap(
        &self,
        h: *const Handle<Self>,
        offset: i64,
        size: u64,
        nprot: i32,
        file_writable: bool,
    ) -> Result<(usize, u64), Errno> {
        // SAFETY: per the contract.
        let _call = unsafe { self.call(h) }.ok_or(dead::MMAP)?;
        let page = self.regions.shared().vm().page_size();
        let req = cookie::decode(offset, size, page)?;
        self.regions
            .mmap(&req, h as usize, file_writable, nprot & PROT_WRITE != 0)
    }

    /// The pager object `handle` of one of this device's regions lost its
    /// last reference (the kernel glue's destructor callback).
    pub fn object_gone(&self, handle: u64) {
        self.regions.object_gone(handle);
    }

    /// The pager state every device shares (it outlives the node).
    pub fn pager_shared(&self) -> Arc<PagerShared<K, K::Vm>> {
        self.regions.shared().clone()
    }

    /// This device's regions; the pager's shared counters.
    pub fn region_stats(&self) -> RegionStats {
        self.regions.stats()
    }

    pub fn stats(&self) -> NodeStats {
        let files = self.k.with_lock(&self.st, |st| st.handles.len);
        let l = self.life.stats();
        NodeStats {
            calls: l.calls,
            inside: l.inside,
            drains: l.drains,
            failed_drains: l.failed_drains,
            last_drain_ns: l.last_drain_ns,
            incarnation: self.incarnation.load(Ordering::Relaxed),
            open_files: files,
            alive: self.life.state() == DevState::Alive,
        }
    }
}
