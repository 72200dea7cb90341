//! Open files: one [`Handle`] per successful open, recorded in the file's
//! cdevpriv and linked into its node's list so that destroy can release
//! the client's per-open state of files that stay open.
//!
//! A handle's link fields are protected by its node's state lock.  The
//! handle is freed by whichever of two parties comes last:
//! - the file's cdevpriv destructor (close(2) of the last reference, or
//!   destroy_dev for counted nodes), which sets `file_open = false`;
//! - destroy, which detaches it (`attached = false`) and calls the client's
//!   close while `releasing` is set.
//!
//! ```text
//!   open ──▶ attached ──dtor, gate open──────────────▶ client close, free
//!               │
//!               ├─dtor, gate closed──▶ attached, !file_open ──destroy──▶ client close, free
//!               │
//!               └─destroy──▶ releasing ──client close──▶ detached ──dtor──▶ free
//!                              (dtor meanwhile: !file_open → destroy frees)
//! ```

use core::ptr;

/// Links and flags of a handle, under its node's state lock.
pub(crate) struct Link<H> {
    pub prev: *mut H,
    pub next: *mut H,
    /// In the node's list: its client state is not released yet.
    pub attached: bool,
    /// Destroy took it off the list and is calling the client's close.
    pub releasing: bool,
    /// The file still references it (its cdevpriv destructor has not run).
    pub file_open: bool,
}

impl<H> Link<H> {
    pub(crate) fn new() -> Self {
        Link {
            prev: ptr::null_mut(),
            next: ptr::null_mut(),
            attached: false,
            releasing: false,
            file_open: true,
        }
    }
}

/// One open file of a device.
pub struct Handle<N> {
    /// The node it was opened on; the handle holds a strong reference on
    /// it (Node::open), dropped when the handle is freed.
    pub(crate) node: *const N,
    /// The incarnation it was opened on.
    pub(crate) incarnation: u64,
    /// The client's per-open state.
    pub(crate) priv_: usize,
    pub(crate) link: core::cell::UnsafeCell<Link<Handle<N>>>,
}

impl<N> Handle<N> {
    /// The incarnation this file was opened on.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// The node it was opened on.
    pub fn node_ptr(&self) -> *const N {
        self.node
    }
}

/// An intrusive list of handles, under the node's state lock.
pub(crate) struct HandleList<H> {
    pub head: *mut H,
    pub len: usize,
}

impl<N> HandleList<Handle<N>> {
    pub(crate) fn new() -> Self {
        HandleList {
            head: ptr::null_mut(),
            len: 0,
        }
    }

    /// # Safety
    /// With the node's state lock held; `h` is live and not in a list.
    pub(crate) unsafe fn push(&mut self, h: *mut Handle<N>) {
        // SAFETY: per the contract, we own the link fields.
        let l = unsafe { &mut *(*h).link.get() };
        l.prev = ptr::null_mut();
        l.next = self.head;
        l.attached = true;
        if !self.head.is_null() {
            // SAFETY: list members are live handles (same lock).
            unsafe { (*(*self.head).link.get()).prev = h };
        }
        self.head = h;
        self.len += 1;
    }

    /// # Safety
    /// With the node's state lock held; `h` is in this list.
    pub(crate) unsafe fn remove(&mut self, h: *mut Handle<N>) {
        // SAFETY: per the contract.
        let l = unsafe { &mut *(*h).link.get() };
        if l.prev.is_null() {
            self.head = l.next;
        } else {
            // SAFETY: a live member.
            unsafe { (*(*l.prev).link.get()).next = l.next };
        }
        if !l.next.is_null() {
            // SAFETY: a live member.
            unsafe { (*(*l.next).link.get()).prev = l.prev };
        }
        l.prev = ptr::null_mut();
        l.next = ptr::null_mut();
        l.attached = false;
        self.len = self.len.saturating_sub(1);
    }

    /// Take the whole list (for destroy): every member is marked
    /// `releasing` and detached; the returned chain is linked by `next`.
    ///
    /// # Safety
    /// With the node's state lock held.
    /// The handle of `incarnation` whose per-open state is `priv_`, if
    /// exactly one is in the list.
    ///
    /// # Safety
    /// Called with the list's lock held.
    pub(crate) unsafe fn find_priv(
        &self,
        priv_: usize,
        incarnation: u64,
    ) -> Option<*mut Handle<N>> {
        let mut found = None;
        let mut h = self.head;
        while !h.is_null() {
            // SAFETY: every handle in the list is live (the lock is held).
            let (p, inc, next) = unsafe { ((*h).priv_, (*h).incarnation, (*(*h).link.get()).next) };
            if p == priv_ && inc == incarnation {
                if found.is_some() {
                    return None;
                }
                found = Some(h);
            }
            h = next;
        }
        found
    }

    pub(crate) unsafe fn take_for_release(&mut self) -> *mut Handle<N> {
        let head = self.head;
        let mut h = head;
        while !h.is_null() {
            // SAFETY: a live member, under the lock.
            let l = unsafe { &mut *(*h).link.get() };
            l.attached = false;
            l.releasing = true;
            h = l.next;
        }
        self.head = ptr::null_mut();
        self.len = 0;
        head
    }
}
