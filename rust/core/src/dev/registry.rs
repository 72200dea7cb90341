//! devref's registry: clients, their devices, and the tombstones of eternal
//! nodes.  Fixed-size tables: the registry lock is a mutex that must not be
//! held across an allocation that may sleep, so nothing is allocated under
//! it (node and client records are allocated before the lock is taken).

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::errno::*;
use super::kernel::{ClientOps, Kernel};
use super::name::DevName;
use super::node::{Mode, Node, NodeStats, Perms, Purge};
use crate::pager::PagerShared;
use crate::platform::{Platform, WaitOutcome};
use core::sync::atomic::Ordering::Relaxed;

/// How long devref's deferred destroy waits before it re-queues itself
/// (destroy_devl polls every hz/10 too): a call that never leaves must not
/// hold the taskqueue's only thread, and the jobs queued behind it, for ever.
pub const DEFERRED_SLICE_NS: u64 = 100_000_000;

/// Who asked for a destroy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum By {
    /// The client (devref_dev_destroy, its unregister): purges every time,
    /// reports a give-up.
    Client,
    /// devref's deferred job: purges only if it is the one that closes the
    /// life (it may run after the client's unregister returned), waits in
    /// slices and re-queues itself quietly.
    Deferred,
}

/// Most clients registered at once.
pub const MAX_CLIENTS: usize = 64;
/// Most nodes (live devices and tombstones) at once.
pub const MAX_NODES: usize = 1024;

/// A registered client's identity (for messages and sysctls).
pub type ClientId = u64;

/// A registered client.
pub struct ClientRec<C> {
    pub id: ClientId,
    pub ops: C,
    /// When it registered (monotonic ns).
    pub since_ns: u64,
    /// Unregisters running: creates are refused meanwhile, so that no
    /// device can outlive its client.  A count, not a flag, so that one
    /// failing unregister does not reopen creates under another one still
    /// scanning.  Written under the registry lock.
    unregistering: core::sync::atomic::AtomicUsize,
    /// Creates past their registration check and not finished yet; an
    /// unregister waits for them (under the registry lock).
    creating: core::sync::atomic::AtomicUsize,
}

/// A snapshot of a client for sysctl.
#[derive(Clone, Debug)]
pub struct ClientStats {
    pub id: ClientId,
    pub devices: usize,
    pub since_ns: u64,
}

/// A snapshot of a node for sysctl.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub name: DevName,
    pub mode: Mode,
    pub client: Option<ClientId>,
    pub stats: NodeStats,
    /// Its regions (and the pager's shared counters).
    pub regions: crate::pager::RegionStats,
}

type Table<T> = Box<[Option<Arc<T>>]>;

struct Registry<K: Kernel, C: ClientOps> {
    clients: Table<ClientRec<C>>,
    nodes: Table<Node<K, C>>,
    next_id: ClientId,
    /// An eternal node was published: devref's cdevsw backs it forever.
    eternal_published: bool,
    unloading: bool,
}

/// devref: all of its state.
pub struct Devref<K: Kernel, C: ClientOps> {
    k: K,
    reg: K::Lock<Registry<K, C>>,
    /// The managed pager's shared state: objects alive, the graveyard.
    pager: Arc<PagerShared<K, K::Vm>>,
}

fn deadline(k: &impl Platform, timeout_ns: Option<u64>) -> Option<u64> {
    timeout_ns.map(|t| k.now_ns().saturating_add(t))
}

impl<K: Kernel, C: ClientOps> Devref<K, C> {
    /// `None` when memory is short.
    pub fn new(k: K) -> Option<Arc<Self>> {
        let mut clients = Vec::new();
        clients.try_reserve_exact(MAX_CLIENTS).ok()?;
        clients.resize_with(MAX_CLIENTS, || None);
        let mut nodes = Vec::new();
        nodes.try_reserve_exact(MAX_NODES).ok()?;
        nodes.resize_with(MAX_NODES, || None);
        let reg = k.lock_new(
            "devref registry",
            Registry {
                clients: clients.into_boxed_slice(),
                nodes: nodes.into_boxed_slice(),
                next_id: 1,
                eternal_published: false,
                unloading: false,
            },
        )?;
        let pager = PagerShared::new(k.clone(), k.vm())?;
        Some(Arc::new(Devref { k, reg, pager }))
    }

    /// The managed pager's shared state.
    pub fn pager(&self) -> &Arc<PagerShared<K, K::Vm>> {
        &self.pager
    }

    /// Register a client.
    pub fn register(&self, ops: C) -> Result<Arc<ClientRec<C>>, Errno> {
        let k = &self.k;
        let rec = Arc::new(ClientRec {
            id: 0,
            ops,
            since_ns: k.now_ns(),
            unregistering: core::sync::atomic::AtomicUsize::new(0),
            creating: core::sync::atomic::AtomicUsize::new(0),
        });
        let mut rec = Some(rec);
        let r = k.with_lock(&self.reg, |r| {
            if r.unloading {
                return Err(ENXIO);
            }
            let slot = r.clients.iter_mut().find(|c| c.is_none()).ok_or(ENOSPC)?;
            let mut new = rec.take().ok_or(EINVAL)?;
            if let Some(m) = Arc::get_mut(&mut new) {
                m.id = r.next_id;
            }
            r.next_id = r.next_id.wrapping_add(1);
            *slot = Some(new.clone());
            Ok(new)
        });
        match &r {
            Ok(c) => k.log(format_args!(
                "client {} ({}) registered",
                c.id,
                c.ops.name()
            )),
            Err(e) => k.log(format_args!("client registration refused: error {}", e)),
        }
        r
    }

    fn is_registered(&self, client: &Arc<ClientRec<C>>) -> bool {
        self.k.with_lock(&self.reg, |r| {
            r.clients.iter().flatten().any(|c| Arc::ptr_eq(c, client))
        })
    }

    /// Create /dev/`name` for `client`, or bring back a tombstone of the
    /// same name (same mode and permissions, else EEXIST).
    pub fn create(
        &self,
        client: &Arc<ClientRec<C>>,
        name: &[u8],
        mode: Mode,
        perms: Perms,
        softc: usize,
    ) -> Result<Arc<Node<K, C>>, Errno> {
        let k = &self.k;
        let name = DevName::new(name)?;
        if perms.mode & !0o7777 != 0 {
            return Err(EINVAL);
        }
        let events = k.events_new().ok_or(ENOMEM)?;
        // Allocate a node speculatively: the registry lock cannot be held
        // across an allocation.
        let Some(fresh) = Node::new(k.clone(), name, mode, perms, self.pager.clone()) else {
            k.events_drain(events);
            return Err(ENOMEM);
        };
        let fresh = Arc::new(fresh);

        enum Found<N> {
            Tombstone(N),
            Reserved,
        }
        let found = k.with_lock(&self.reg, |r| {
            // Look the client up by address before touching it: a caller
            // racing the client's own successful unregister may hold a
            // record that is about to go.
            if !r.clients.iter().flatten().any(|c| Arc::ptr_eq(c, client)) {
                return Err(EINVAL);
            }
            if r.unloading || client.unregistering.load(Relaxed) > 0 {
                return Err(ENXIO);
            }
            if let Some(n) = r.nodes.iter().flatten().find(|n| *n.name() == name) {
                // Only a published eternal node is a tombstone: a Dead
                // counted node is on its way to destroy_dev and out of the
                // table, and a node still being created is nobody's.
                let tomb = n.mode() == Mode::Pcpu && n.is_published() && n.is_dead();
                if !tomb || n.mode() != mode || n.perms() != perms {
                    return Err(EEXIST);
                }
                client.creating.fetch_add(1, Relaxed);
                return Ok(Found::Tombstone(n.clone()));
            }
            let slot = r.nodes.iter_mut().find(|n| n.is_none()).ok_or(ENOSPC)?;
            *slot = Some(fresh.clone());
            client.creating.fetch_add(1, Relaxed);
            Ok(Found::Reserved)
        });
        let found = match found {
            Err(e) => {
                k.events_drain(events);
                k.log(format_args!("{}: create refused: error {}", name, e));
                return Err(e);
            }
            Ok(f) => f,
        };
        // From here on an unregister of this client waits for us.
        let r = match found {
            Found::Tombstone(n) => {
                drop(fresh);
                n.attach(client, softc, events).map(|inc| {
                    k.log(format_args!(
                        "{}: reused ({}, incarnation {}) for client {}",
                        name,
                        mode.as_str(),
                        inc,
                        client.id
                    ));
                    n
                })
            }
            Found::Reserved => self.publish_fresh(client, fresh, name, mode, perms, softc, events),
        };
        k.with_lock(&self.reg, |_| {
            client.creating.fetch_sub(1, Relaxed);
            k.notify_all(&self.reg);
        });
        r
    }

    /// The second half of a create of a new name: attach the client and
    /// make the cdev; on failure nothing of it stays.
    #[allow(clippy::too_many_arguments)]
    fn publish_fresh(
        &self,
        client: &Arc<ClientRec<C>>,
        node: Arc<Node<K, C>>,
        name: DevName,
        mode: Mode,
        perms: Perms,
        softc: usize,
        events: K::Events,
    ) -> Result<Arc<Node<K, C>>, Errno> {
        let k = &self.k;
        if let Err(e) = node.attach(client, softc, events) {
            self.forget(&node);
            return Err(e);
        }
        match k.make_node(&name, mode, perms, node.cookie()) {
            Ok(cdev) => node.set_cdev(cdev),
            Err(e) => {
                // Nothing was published: undo quietly (no client code ran:
                // nobody could open it, and no purge for a never-live node).
                let generation = node.generation();
                node.begin_close(generation, Purge::Never);
                let _ = node.drain_and_teardown(generation, None, true);
                self.forget(&node);
                k.log(format_args!("{}: make_dev failed: error {}", name, e));
                return Err(e);
            }
        }
        if mode == Mode::Pcpu {
            k.with_lock(&self.reg, |r| r.eternal_published = true);
        }
        k.log(format_args!(
            "{}: created ({}) for client {}",
            name,
            mode.as_str(),
            client.id
        ));
        Ok(node)
    }

    fn forget(&self, node: &Arc<Node<K, C>>) {
        self.k.with_lock(&self.reg, |r| {
            for slot in r.nodes.iter_mut() {
                if slot.as_ref().is_some_and(|n| Arc::ptr_eq(n, node)) {
                    *slot = None;
                }
            }
        });
    }

    /// Destroy a device: close it, wake its sleepers, wait for the calls
    /// inside (never for open files), release every open file's client
    /// state.  ETIMEDOUT/EINTR: nothing was torn down; the device stays
    /// closed and a later destroy goes on.  EINPROGRESS: called from inside
    /// a call of this very device; closed now, finished on a taskqueue.
    pub fn destroy(
        self: &Arc<Self>,
        node: &Arc<Node<K, C>>,
        timeout_ns: Option<u64>,
    ) -> Result<(), Errno> {
        self.destroy_gen(node, node.generation(), timeout_ns, By::Client)
    }

    fn defer_destroy(self: &Arc<Self>, node: &Arc<Node<K, C>>, generation: u64) {
        let me = self.clone();
        let n = node.clone();
        self.k.defer(Box::new(move || {
            match me.destroy_gen(&n, generation, Some(DEFERRED_SLICE_NS), By::Deferred) {
                // Calls still inside: give the queue's other jobs a turn.
                Err(ETIMEDOUT) | Err(EINTR) => me.defer_destroy(&n, generation),
                _ => {}
            }
        }));
    }

    /// [`Devref::destroy`] of the life `generation` of `node` only: a slow
    /// or deferred destroy never touches a later incarnation.
    fn destroy_gen(
        self: &Arc<Self>,
        node: &Arc<Node<K, C>>,
        generation: u64,
        timeout_ns: Option<u64>,
        by: By,
    ) -> Result<(), Errno> {
        let k = &self.k;
        if by == By::Client && k.in_call(node.filter_cookie()) {
            k.log(format_args!(
                "{}: destroy from the client's poll op run as a kqueue filter refused (EDEADLK)",
                node.name()
            ));
            return Err(EDEADLK);
        }
        // From inside the client's purge hook: the hook is waking the
        // sleepers already, and running it again would recurse without end.
        let in_purge = by == By::Client && k.in_call(node.purge_cookie());
        let purge = match by {
            _ if in_purge => Purge::Never,
            By::Client => Purge::Always,
            By::Deferred => Purge::IfClosedNow,
        };
        node.begin_close(generation, purge);
        if by == By::Client && (in_purge || k.in_call(node.cookie())) {
            self.defer_destroy(node, generation);
            k.log(format_args!(
                "{}: destroy from inside its own {}: deferred",
                node.name(),
                if in_purge { "purge hook" } else { "call" }
            ));
            return Err(EINPROGRESS);
        }
        let tore_down =
            node.drain_and_teardown(generation, deadline(k, timeout_ns), by == By::Client)?;
        if node.mode() == Mode::Counted {
            if let Some(cdev) = node.take_cdev() {
                // Our gate is drained: devfs's own count can only hold
                // threads that are about to find the gate closed.
                k.destroy_node(cdev);
            }
            self.forget(node);
        }
        if tore_down {
            let s = node.stats();
            k.log(format_args!(
                "{}: destroyed (drain took {} us)",
                node.name(),
                s.last_drain_ns / 1000
            ));
        }
        Ok(())
    }

    /// Destroy every device of `client` and unregister it.  Only on `Ok`
    /// may the client's code go away; otherwise it stays registered.
    pub fn unregister(
        self: &Arc<Self>,
        client: &Arc<ClientRec<C>>,
        timeout_ns: Option<u64>,
    ) -> Result<(), Errno> {
        let k = &self.k;
        if !self.is_registered(client) {
            return Err(EINVAL);
        }
        let dl = deadline(k, timeout_ns);
        // Under the registry lock, as create checks it; then wait for the
        // creates already past their check: their nodes must be attached
        // (and so found below) before we scan.
        k.with_lock(&self.reg, |_| client.unregistering.fetch_add(1, Relaxed));
        let w = k.wait_until(&self.reg, dl, &mut |_| client.creating.load(Relaxed) == 0);
        let r = match w {
            WaitOutcome::Done => self.destroy_all_of(client, dl),
            WaitOutcome::TimedOut => Err(ETIMEDOUT),
            WaitOutcome::Interrupted | WaitOutcome::Restart => Err(EINTR),
        };
        if let Err(e) = r {
            k.with_lock(&self.reg, |_| client.unregistering.fetch_sub(1, Relaxed));
            return Err(e);
        }
        // Only the unregister that takes the client out of the table
        // succeeds: a concurrent second one answers EINVAL.
        let removed = k.with_lock(&self.reg, |r| {
            let mut removed = false;
            for slot in r.clients.iter_mut() {
                if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, client)) {
                    *slot = None;
                    removed = true;
                }
            }
            removed
        });
        if !removed {
            return Err(EINVAL);
        }
        k.log(format_args!(
            "client {} ({}) unregistered",
            client.id,
            client.ops.name()
        ));
        Ok(())
    }

    fn destroy_all_of(
        self: &Arc<Self>,
        client: &Arc<ClientRec<C>>,
        dl: Option<u64>,
    ) -> Result<(), Errno> {
        let k = &self.k;
        let mut i = 0;
        while i < MAX_NODES {
            let n = k.with_lock(&self.reg, |r| r.nodes.get(i).cloned().flatten());
            i += 1;
            let Some(n) = n else { continue };
            // The life first, then whose it is: a life of this client read
            // here cannot be followed by one of another client that we
            // would then destroy (destroy_gen acts on this life only).
            let generation = n.generation();
            match n.client() {
                Some(c) if Arc::ptr_eq(&c, client) => {}
                _ => continue,
            }
            if k.in_call(n.cookie()) || k.in_call(n.purge_cookie()) || k.in_call(n.filter_cookie())
            {
                k.log(format_args!(
                    "client {}: unregister from inside a call of {} refused",
                    client.id,
                    n.name()
                ));
                return Err(EDEADLK);
            }
            let left = dl.map(|d| d.saturating_sub(k.now_ns()));
            if let Err(e) = self.destroy_gen(&n, generation, left, By::Client) {
                k.log(format_args!(
                    "client {} ({}): unregister failed on {}: error {}; client stays registered",
                    client.id,
                    client.ops.name(),
                    n.name(),
                    e
                ));
                return Err(e);
            }
        }
        Ok(())
    }

    /// MOD_UNLOAD of devref itself: EBUSY, with a console line saying why,
    /// while a client is registered or once an eternal node was published.
    pub fn prepare_unload(&self) -> Result<(), Errno> {
        let k = &self.k;
        // A pager object's destructor is devref's code: no unload while
        // any process still maps revoked memory.  Checked first: it does
        // not latch `unloading`.
        let objects = self.pager.objects_alive();
        if objects > 0 {
            k.log(format_args!(
                "unload refused: {} mapping(s) of revoked device memory still exist (munmap them or exit)",
                objects
            ));
            return Err(EBUSY);
        }
        let (clients, eternal) = k.with_lock(&self.reg, |r| {
            let n = r.clients.iter().flatten().count();
            if n == 0 && !r.eternal_published {
                r.unloading = true;
            }
            (n, r.eternal_published)
        });
        if clients > 0 {
            k.log(format_args!(
                "unload refused: {} client(s) registered (kldunload them first)",
                clients
            ));
            return Err(EBUSY);
        }
        if eternal {
            k.log(format_args!(
                "unload refused: pcpu (eternal) nodes were published this boot; devref stays resident"
            ));
            return Err(EBUSY);
        }
        Ok(())
    }

    /// A MOD_UNLOAD that passed [`Devref::prepare_unload`] failed at a later
    /// step: take registrations again.
    pub fn abort_unload(&self) {
        self.k.with_lock(&self.reg, |r| r.unloading = false);
    }

    /// Visit every node (live and tombstones).
    pub fn for_each_node(&self, mut f: impl FnMut(NodeInfo)) {
        for i in 0..MAX_NODES {
            let Some(n) = self
                .k
                .with_lock(&self.reg, |r| r.nodes.get(i).cloned().flatten())
            else {
                continue;
            };
            f(NodeInfo {
                name: *n.name(),
                mode: n.mode(),
                client: n.client().map(|c| c.id),
                stats: n.stats(),
                regions: n.region_stats(),
            });
        }
    }

    /// Visit every registered client.
    pub fn for_each_client(&self, mut f: impl FnMut(&ClientRec<C>, ClientStats)) {
        for i in 0..MAX_CLIENTS {
            let Some(c) = self
                .k
                .with_lock(&self.reg, |r| r.clients.get(i).cloned().flatten())
            else {
                continue;
            };
            let mut devices = 0;
            self.for_each_node(|n| {
                if n.client == Some(c.id) {
                    devices += 1;
                }
            });
            f(
                &c,
                ClientStats {
                    id: c.id,
                    devices,
                    since_ns: c.since_ns,
                },
            );
        }
    }

    /// The registered client at `addr` (the address its registration
    /// handed out), with a reference of the caller's own: KPI entries use
    /// it so that a client record is never touched after it left the table.
    pub fn client_arc(&self, addr: usize) -> Option<Arc<ClientRec<C>>> {
        self.k.with_lock(&self.reg, |r| {
            r.clients
                .iter()
                .flatten()
                .find(|c| Arc::as_ptr(c) as usize == addr)
                .cloned()
        })
    }

    /// The node at `cookie` (its address), if devref still has it.
    pub fn node_arc(&self, cookie: usize) -> Option<Arc<Node<K, C>>> {
        self.k.with_lock(&self.reg, |r| {
            r.nodes
                .iter()
                .flatten()
                .find(|n| n.cookie() == cookie)
                .cloned()
        })
    }

    /// The kernel's monotonic clock.
    pub fn kernel_now_ns(&self) -> u64 {
        self.k.now_ns()
    }

    /// Number of registered clients.
    pub fn clients(&self) -> usize {
        self.k
            .with_lock(&self.reg, |r| r.clients.iter().flatten().count())
    }
}
