//! Independent tasks run on every core, their results taken in task order: the output is the same bytes
//! whatever the thread count or timing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// Run `task(0..n)` on up to one thread per core and hand each result to `take(i, result)` in order of `i`.
/// Few results wait at once: one in the channel, one per worker blocked on it, and those finished out of
/// order (results can be large: a Parquet part's decoded columns). The first error (of a task or of `take`,
/// in task order) stops the work and is returned; workers take no new task after it.
pub fn ordered<T: Send>(
    n: usize,
    task: impl Fn(usize) -> anyhow::Result<T> + Sync,
    mut take: impl FnMut(usize, T) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |c| c.get())
        .min(n);
    if workers <= 1 {
        return (0..n).try_for_each(|i| take(i, task(i)?));
    }
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<(usize, anyhow::Result<T>)>(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (tx, next, task) = (tx.clone(), &next, &task);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    // A send fails only when the taker stopped (an error): then stop too.
                    if i >= n || tx.send((i, task(i))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // The receiver moves into the closure, so it is dropped when taking stops and blocked workers return.
        let result = (move || {
            let mut pending = BTreeMap::new();
            let mut want = 0usize;
            for (i, r) in rx {
                pending.insert(i, r);
                while let Some(r) = pending.remove(&want) {
                    take(want, r?)?;
                    want += 1;
                }
            }
            Ok(())
        })();
        if result.is_err() {
            // No new tasks; the running ones finish and their sends fail.
            next.store(usize::MAX / 2, Ordering::Relaxed);
        }
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_arrive_in_task_order() {
        let mut seen = Vec::new();
        ordered(
            200,
            |i| {
                // Later tasks finish first.
                std::thread::sleep(std::time::Duration::from_micros(
                    ((200 - i) % 7) as u64 * 50,
                ));
                Ok(i * 2)
            },
            |i, v| {
                assert_eq!(v, i * 2);
                seen.push(v);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (0..200).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn the_first_error_in_order_stops_the_work() {
        let mut seen = Vec::new();
        let err = ordered(
            100,
            |i| {
                if i == 30 || i == 60 {
                    anyhow::bail!("task {i} failed")
                }
                Ok(i)
            },
            |_, v| {
                seen.push(v);
                Ok(())
            },
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "task 30 failed");
        assert_eq!(seen, (0..30).collect::<Vec<_>>());
        let err = ordered(10, Ok, |_, v| {
            if v == 4 {
                anyhow::bail!("take {v}")
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "take 4");
    }

    #[test]
    fn no_tasks_is_fine() {
        ordered(0, |_| Ok(()), |_, _| panic!("nothing to take")).unwrap();
    }
}
