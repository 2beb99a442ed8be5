//! Whole-recording sample buffers on transparent huge pages. A 60 s file at 44.1 kHz decodes to
//! 10 MB of f32 and its 22.05 kHz resampling to 5 MB more: in 4 KiB pages that is thousands of
//! page faults, which cost a short command more than decoding and resampling do. On Linux,
//! [`vec_with_capacity`] asks the kernel (`madvise(MADV_HUGEPAGE)`) to back the 2 MiB-aligned
//! interior of large buffers with 2 MiB pages; elsewhere, or where the kernel says no, it is
//! `Vec::with_capacity`.

/// Buffers smaller than this are left alone.
const MIN_BYTES: usize = 4 << 20;
const HUGE_PAGE: usize = 2 << 20;

/// `Vec::with_capacity(capacity)`, with huge pages asked for where the buffer is large.
pub fn vec_with_capacity<T>(capacity: usize) -> Vec<T> {
    let v = Vec::with_capacity(capacity);
    let bytes = capacity.saturating_mul(std::mem::size_of::<T>());
    if bytes >= MIN_BYTES {
        advise(v.as_ptr() as usize, bytes);
    }
    v
}

#[cfg(target_os = "linux")]
fn advise(start: usize, len: usize) {
    let first = start.div_ceil(HUGE_PAGE) * HUGE_PAGE;
    let end = (start + len) / HUGE_PAGE * HUGE_PAGE;
    if end > first {
        // SAFETY: the range lies inside an allocation this process owns; MADV_HUGEPAGE is
        // advice about its backing and changes no byte of it. A refusal (no THP) is ignored.
        unsafe {
            libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(_start: usize, _len: usize) {}

#[cfg(test)]
mod tests {
    #[test]
    fn large_and_small_buffers_behave_as_vecs() {
        for cap in [0usize, 10, 3 << 20] {
            let mut v: Vec<f32> = super::vec_with_capacity(cap);
            assert!(v.capacity() >= cap);
            v.extend((0..cap).map(|i| i as f32));
            assert_eq!(v.len(), cap);
            assert!(v.iter().enumerate().all(|(i, &x)| x == i as f32));
        }
    }
}
