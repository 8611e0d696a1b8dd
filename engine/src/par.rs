//! Work over many files spread across the machine's cores, with results and errors in
//! the order a single thread would give: the first error in item order wins.
//!
//! Reading, checksumming and parsing are independent per file, and `verify` or the
//! trigger on a few hundred migrations is mostly that work; scoped threads split the
//! slice into one contiguous chunk per core. Small sets stay on the calling thread.

use std::thread;

/// Fewer items than this per thread stay on the calling thread: a spawn costs about as
/// much as reading a few small files.
const MIN_PER_THREAD: usize = 32;
/// More threads than this stop paying off on memory bandwidth.
const MAX_THREADS: usize = 8;

/// How many threads `n` items are worth.
fn threads(n: usize) -> usize {
    let cores = thread::available_parallelism().map_or(1, |c| c.get());
    cores.min(MAX_THREADS).min(n / MIN_PER_THREAD).max(1)
}

/// A worker's result; a panic in a worker is raised again here, as a single thread's
/// would have been.
fn joined<T>(h: thread::ScopedJoinHandle<'_, T>) -> T {
    h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// `f` over `items`, results in item order; the first error in item order.
pub(crate) fn map<T, R, E>(items: &[T], f: impl Fn(&T) -> Result<R, E> + Sync) -> Result<Vec<R>, E>
where
    T: Sync,
    R: Send,
    E: Send,
{
    let n = threads(items.len());
    if n == 1 {
        return items.iter().map(f).collect();
    }
    let size = items.len().div_ceil(n);
    let f = &f;
    thread::scope(|s| {
        let mut chunks = items.chunks(size);
        let first = chunks.next().unwrap_or_default();
        let rest: Vec<_> = chunks
            .map(|c| s.spawn(move || c.iter().map(f).collect::<Result<Vec<R>, E>>()))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        // An early error still joins the others: the scope waits for them.
        for r in first.iter().map(f) {
            out.push(r?);
        }
        for h in rest {
            out.extend(joined(h)?);
        }
        Ok(out)
    })
}

/// `f` on every item in place; the first error in item order.
pub(crate) fn for_each_mut<T, E>(
    items: &mut [T],
    f: impl Fn(&mut T) -> Result<(), E> + Sync,
) -> Result<(), E>
where
    T: Send,
    E: Send,
{
    let n = threads(items.len());
    if n == 1 {
        return items.iter_mut().try_for_each(f);
    }
    let size = items.len().div_ceil(n);
    let f = &f;
    thread::scope(|s| {
        let mut chunks = items.chunks_mut(size);
        let first = chunks.next().unwrap_or_default();
        let rest: Vec<_> = chunks
            .map(|c| s.spawn(move || c.iter_mut().try_for_each(f)))
            .collect();
        first.iter_mut().try_for_each(f)?;
        rest.into_iter().try_for_each(joined)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_and_the_first_error_come_in_item_order() {
        let items: Vec<u32> = (0..1000).collect();
        let doubled = map(&items, |&i| Ok::<_, u32>(i * 2)).unwrap();
        assert_eq!(doubled, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
        // Errors in several chunks: the earliest item's wins.
        let fail = |&i: &u32| if i % 300 == 299 { Err(i) } else { Ok(i) };
        assert_eq!(map(&items, fail), Err(299));
        let mut items = items;
        let r = for_each_mut(&mut items, |i| {
            *i += 1;
            if *i % 400 == 0 { Err(*i) } else { Ok(()) }
        });
        assert_eq!(r, Err(400));
        assert_eq!(items[..399], (1..400).collect::<Vec<_>>()[..]);
        assert_eq!(
            for_each_mut(&mut [1u8; 3], |_| Err::<(), _>("small")),
            Err("small")
        );
    }
}
