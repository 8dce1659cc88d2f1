//! Host memory behind a program's pages on Unicorn.
//!
//! The engine maps a program's code and helper pages with `mem_map_ptr`, read-execute, over
//! buffers of its own, and writes code and helpers into those buffers directly. So the guest
//! cannot write them (a store is Unicorn's write-protection fault, at its exact address, and
//! nothing is written), and no guest-write hook is needed: any `MEM_WRITE` hook sends every
//! load and store of every page down Unicorn's slow path.
//!
//! Invariants (every method keeps them):
//! * every page in `pages` is mapped in Unicorn, read-execute, backed by `offset..offset + PAGE`
//!   of buffer `id`, and no other program page is mapped;
//! * a buffer's count is the number of pages in `pages` it backs, and a buffer is dropped only
//!   when that count reaches zero (after Unicorn unmapped its last page). Unicorn may split a
//!   mapping when part of it is unmapped; the pieces keep pointing into the same buffer.
//!
//! The engine that owns a `HostPages` must drop its Unicorn first (declare the `Unicorn`
//! field before this one), so no mapping outlives its buffer.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::collections::{BTreeMap, HashMap};
use std::ptr::NonNull;
use unicorn_engine::{uc_error, Prot, Unicorn};

/// Page size of the mappings.
pub(super) const PAGE: u64 = 0x1000;

/// A zeroed, page-aligned allocation Unicorn reads through a raw pointer.
struct Buffer {
    ptr: NonNull<u8>,
    layout: Layout,
}

impl Buffer {
    fn zeroed(len: usize) -> Buffer {
        assert!(
            len > 0 && len.is_multiple_of(PAGE as usize),
            "a buffer is whole pages"
        );
        let layout = Layout::from_size_align(len, PAGE as usize).expect("page-aligned layout");
        // SAFETY: `len` is a non-zero multiple of the page size (asserted above).
        let ptr = NonNull::new(unsafe { alloc_zeroed(layout) })
            .unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        Buffer { ptr, layout }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: allocated in `zeroed` with this layout; no mapping points into it any more
        // (module invariants).
        unsafe { dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

/// The mapped program pages and the buffers behind them.
#[derive(Default)]
pub(super) struct HostPages {
    /// Page address → (buffer id, offset of the page in the buffer).
    pages: BTreeMap<u64, (u64, usize)>,
    /// Buffer id → (buffer, pages it backs).
    buffers: HashMap<u64, (Buffer, usize)>,
    next_id: u64,
}

impl HostPages {
    /// Whether page `page` is mapped.
    pub(super) fn is_mapped(&self, page: u64) -> bool {
        self.pages.contains_key(&page)
    }

    /// The mapped pages, in address order.
    pub(super) fn mapped(&self) -> impl Iterator<Item = u64> + '_ {
        self.pages.keys().copied()
    }

    /// Map `len` bytes (whole pages, none mapped yet) from `start`, read-execute, over a new
    /// zeroed buffer. Post: those pages are in `pages`, backed by it.
    pub(super) fn map<D>(
        &mut self,
        uc: &mut Unicorn<'_, D>,
        start: u64,
        len: u64,
    ) -> Result<(), uc_error> {
        debug_assert!(
            (0..len / PAGE).all(|k| !self.is_mapped(start + k * PAGE)),
            "mapping a page twice"
        );
        let buffer = Buffer::zeroed(len as usize);
        // SAFETY: the buffer holds `len` bytes and lives until no page maps into it (module
        // invariants); Unicorn is dropped before this struct.
        unsafe {
            uc.mem_map_ptr(
                start,
                len,
                Prot::READ | Prot::EXEC,
                buffer.ptr.as_ptr().cast(),
            )?
        };
        let id = self.next_id;
        self.next_id += 1;
        let count = (len / PAGE) as usize;
        for k in 0..count {
            self.pages
                .insert(start + k as u64 * PAGE, (id, k * PAGE as usize));
        }
        self.buffers.insert(id, (buffer, count));
        Ok(())
    }

    /// Unmap `len` bytes (whole mapped pages) from `start`. Post: they are gone from `pages`,
    /// and buffers that back no page any more are freed.
    pub(super) fn unmap<D>(
        &mut self,
        uc: &mut Unicorn<'_, D>,
        start: u64,
        len: u64,
    ) -> Result<(), uc_error> {
        uc.mem_unmap(start, len)?;
        for k in 0..len / PAGE {
            let (id, _) = self
                .pages
                .remove(&(start + k * PAGE))
                .expect("unmapping a mapped page");
            let left = &mut self.buffers.get_mut(&id).expect("its buffer").1;
            *left -= 1;
            if *left == 0 {
                self.buffers.remove(&id);
            }
        }
        Ok(())
    }

    /// Copy `bytes` to guest address `addr`; every page they touch must be mapped.
    pub(super) fn write(&mut self, addr: u64, bytes: &[u8]) {
        self.each_page(addr, bytes.len() as u64, |dst, from, n| {
            // SAFETY: `dst` points at `n` bytes inside a live buffer (`each_page`). Unicorn
            // touches the buffer only while it runs (reads; and the writes of a store-exclusive
            // or `dc zva`, which its permissions do not stop), never during this call.
            unsafe { std::ptr::copy_nonoverlapping(bytes[from..].as_ptr(), dst, n) }
        });
    }

    /// Zero `len` bytes from guest address `addr`; every page they touch must be mapped.
    pub(super) fn zero(&mut self, addr: u64, len: u64) {
        self.each_page(addr, len, |dst, _, n| {
            // SAFETY: as in `write`.
            unsafe { std::ptr::write_bytes(dst, 0, n) }
        });
    }

    /// Call `f(host pointer, offset into the range, bytes)` for the part of `[addr, addr +
    /// len)` on each page.
    fn each_page(&mut self, addr: u64, len: u64, mut f: impl FnMut(*mut u8, usize, usize)) {
        let end = addr + len;
        let mut a = addr;
        while a < end {
            let page = a & !(PAGE - 1);
            let n = ((page + PAGE).min(end) - a) as usize;
            let (id, offset) = self.pages[&page];
            let base = self.buffers[&id].0.ptr.as_ptr();
            // SAFETY: the page is `offset..offset + PAGE` of this buffer, and `a - page + n`
            // does not pass the page's end.
            let dst = unsafe { base.add(offset + (a - page) as usize) };
            f(dst, (a - addr) as usize, n);
            a += n as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicorn_engine::{Arch, Mode};

    /// Bytes written into the buffers are what the guest sees, also after Unicorn split a
    /// mapping by unmapping its middle page; a buffer is freed with its last page.
    #[test]
    fn writes_show_through_splits_and_buffers_go_with_their_last_page() {
        // Declared in this order, dropped in the other: Unicorn before the buffers.
        let mut pages = HostPages::default();
        let mut uc = Unicorn::new(Arch::ARM64, Mode::LITTLE_ENDIAN).unwrap();
        let base = 0x4000_0000;
        pages.map(&mut uc, base, 3 * PAGE).unwrap();
        pages.write(base + PAGE - 2, &[1, 2, 3, 4]);
        pages.unmap(&mut uc, base + PAGE, PAGE).unwrap();
        assert!(
            uc.mem_read_as_vec(base + PAGE, 1).is_err(),
            "middle page unmapped"
        );
        pages.write(base + 2 * PAGE, &[9]);
        assert_eq!(uc.mem_read_as_vec(base + PAGE - 2, 2).unwrap(), [1, 2]);
        assert_eq!(uc.mem_read_as_vec(base + 2 * PAGE, 1).unwrap(), [9]);
        pages.zero(base + PAGE - 1, 1);
        assert_eq!(uc.mem_read_as_vec(base + PAGE - 2, 2).unwrap(), [1, 0]);
        assert_eq!(pages.buffers.len(), 1);
        pages.unmap(&mut uc, base, PAGE).unwrap();
        assert_eq!(pages.buffers.len(), 1, "the last page still uses it");
        pages.unmap(&mut uc, base + 2 * PAGE, PAGE).unwrap();
        assert!(pages.buffers.is_empty() && pages.pages.is_empty());
        assert!(uc.mem_read_as_vec(base + 2 * PAGE, 1).is_err());
    }
}
