//! What devref needs from a kernel's virtual memory system to hand out
//! memory that it can take back.
//!
//! FreeBSD (shim/devref_pager.c, to come): pages from
//! `vm_page_alloc_noobj(VM_ALLOC_WIRED | VM_ALLOC_ZERO)` made managed and
//! fictitious as their sole owner, one OBJT_MGTDEVICE object per region
//! with every page inserted up front, `cdev_pager_free_page` to revoke,
//! `vm_page_free` only when devref is the page's last owner.  The Linux
//! host: a model of pages, objects and page tables that checks the rules
//! after every step (rust/core/tests/pager_host.rs).

/// A kernel VM, as the region bookkeeping uses it.  Every method may sleep
/// (the bookkeeping calls none with its lock held, except `object_ref`).
pub trait Vm: Send + Sync + 'static {
    /// One page devref allocated (a `vm_page_t`).
    type Page: Send;
    /// A pager object (a `vm_object_t`) with devref's reference.
    type Object: Send;
    /// A region's kernel mapping, for the client.
    type Kva: Send;

    fn page_size(&self) -> u64;
    /// A wired, zeroed page that devref owns alone.  `None` when memory is
    /// short.
    fn page_alloc(&self) -> Option<Self::Page>;
    /// A pager object covering `pages`, each inserted at its index.  When
    /// its last reference goes (its destructor, in whatever thread), the
    /// kernel glue hands `handle` to [`super::Regions::object_gone`] of the
    /// table `owner` names (opaque here: the device node, which the glue
    /// keeps alive until then).
    fn object_new(
        &self,
        owner: usize,
        handle: u64,
        pages: &[Self::Page],
        writable: bool,
    ) -> Option<Self::Object>;
    /// Another reference on `obj` for a new mapping (`d_mmap_single`
    /// returns it); the raw pointer the kernel takes.  Must not sleep: it
    /// is taken under the lock that guards the region's Live → Revoking
    /// step, so no mapping starts on a region being revoked.
    fn object_ref(&self, obj: &Self::Object) -> usize;
    /// Take `page` out of `obj` and out of every page table that maps it;
    /// a later touch faults and finds nothing (SIGBUS).
    fn revoke_page(&self, obj: &Self::Object, page: &Self::Page);
    /// Drop devref's reference on `obj`.
    fn object_release(&self, obj: Self::Object);
    /// Map `pages` contiguously in kernel memory for the client.
    fn kva_map(&self, pages: &[Self::Page]) -> Option<Self::Kva>;
    fn kva_addr(&self, kva: &Self::Kva) -> usize;
    fn kva_unmap(&self, kva: Self::Kva, pages: &[Self::Page]);
    /// Free `page` if devref is its only owner (in no object, no other
    /// wiring); otherwise hand it back untouched.
    fn page_free(&self, page: Self::Page) -> Result<(), Self::Page>;
    /// Keep `page`'s wiring and forget it (devref unloads while someone
    /// else still holds the page).
    fn page_abandon(&self, page: Self::Page);
}
