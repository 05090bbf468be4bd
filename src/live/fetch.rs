//! `fwlog fetch`: raw firewall rows from Log Analytics (or a cluster) into one canonical Parquet file that every
//! offline command reads (`--input logs.parquet`).
//!
//! 1. `hourly-count` gives rows per hour; [`plan_windows`] tiles the half-open window `[from, to)` into windows
//!    of at most `target` expected rows (default 100,000 — well under the API's 500,000 rows / 64 MB), splitting
//!    busy hours evenly and letting quiet hours share a window.
//! 2. Each window's `raw-window` query runs (at most 4 in flight, retries in the client); a `PartialError`
//!    halves it until complete. The rows become canonical events and are written as one part file per planned
//!    window in a parts folder beside the output (`.<name>.fwlog-parts/`), named by workspace (or database) and
//!    window.
//! 3. When every part exists, they are combined in order into a temporary file in the output's folder, which is
//!    renamed into place; then the parts folder is removed. An interrupted fetch therefore never leaves a
//!    complete-looking output, and running the same command again resumes: the folder's `manifest.json` keeps
//!    the planned windows, and windows whose part exists are not fetched again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::client::{Missing, Outcome, QueryClient};
use super::config::LiveConfig;
use super::kql::{self, FirewallId, Window};
use super::tables::Tables;
use super::target::Target;

const HOUR_US: i64 = 3_600_000_000;
/// Default rows per window.
pub const TARGET_ROWS: u64 = 100_000;
/// A window is not halved below this on `PartialError`.
const MIN_SPLIT_US: i64 = 1_000_000;

/// Split `[from, to)` into windows of at most `target` expected rows from per-hour counts
/// (`(hour start, rows)`, any order). Windows tile the whole range without gaps or overlaps.
pub fn plan_windows(window: Window, hours: &[(i64, u64)], target: u64) -> Vec<(Window, u64)> {
    let target = target.max(1);
    let mut hours: Vec<(i64, u64)> = hours.to_vec();
    hours.sort();
    let mut out = Vec::new();
    let (mut cursor, mut acc) = (window.from_us, 0u64);
    for (h, rows) in hours {
        let hs = h.max(window.from_us);
        let he = (h + HOUR_US).min(window.to_us);
        if rows == 0 || he <= hs || he <= cursor {
            continue;
        }
        if rows > target {
            if acc > 0 && hs > cursor {
                out.push((
                    Window {
                        from_us: cursor,
                        to_us: hs,
                    },
                    acc,
                ));
                cursor = hs;
            }
            let k = rows.div_ceil(target);
            let (base, extra) = (rows / k, rows % k);
            let span = (he - cursor) as i128;
            let mut start = cursor;
            for i in 1..=k {
                let end = if i == k {
                    he
                } else {
                    cursor + (span * i as i128 / k as i128) as i64
                };
                // Expected rows per part: an even share (the count is only for planning and progress).
                out.push((
                    Window {
                        from_us: start,
                        to_us: end,
                    },
                    base + u64::from(i <= extra),
                ));
                start = end;
            }
            cursor = he;
            acc = 0;
        } else if acc + rows > target {
            out.push((
                Window {
                    from_us: cursor,
                    to_us: hs.max(cursor),
                },
                acc,
            ));
            cursor = hs.max(cursor);
            acc = rows;
        } else {
            acc += rows;
        }
    }
    if cursor < window.to_us {
        out.push((
            Window {
                from_us: cursor,
                to_us: window.to_us,
            },
            acc,
        ));
    }
    out.retain(|(w, _)| w.to_us > w.from_us);
    out
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Manifest {
    /// The targets' keys: workspace GUIDs, or database names (then `cluster` is set).
    workspaces: Vec<String>,
    /// The cluster of the databases; absent for Log Analytics (and in manifests written before clusters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cluster: Option<String>,
    firewall: Option<String>,
    from_us: i64,
    to_us: i64,
    /// (target key, from, to, expected rows)
    windows: Vec<(String, i64, i64, u64)>,
}

fn parts_dir(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    out.with_file_name(format!(".{name}.fwlog-parts"))
}

fn part_path(dir: &Path, target: &Target, from: i64, to: i64) -> PathBuf {
    dir.join(format!("{}-{from:020}-{to:020}.parquet", target.file_key()))
}

async fn hourly(
    client: &QueryClient,
    target: &Target,
    window: Window,
    fw: Option<&FirewallId>,
    tables: &Tables,
) -> anyhow::Result<Vec<(i64, u64)>> {
    let q = kql::hourly_count(window, fw, tables)?;
    let body = match client.query(target, "hourly count", &q, window).await {
        Ok(Outcome::Complete(b)) => b,
        Ok(Outcome::NoContent) => return Ok(Vec::new()),
        Ok(Outcome::Partial { message, .. }) => {
            anyhow::bail!(
                "{} returned an incomplete hourly count for {target}: {message}",
                client.names().name
            )
        }
        Err(e) if e.downcast_ref::<Missing>().is_some() => {
            crate::note!("{e}");
            return Ok(Vec::new());
        }
        Err(e) => return Err(e),
    };
    super::summary::parse_hourly(&body)
}

/// The name rows fetched from a target carry as their origin (`origin_file`).
fn origin_of(target: &Target, cluster: &str) -> String {
    match target {
        Target::Workspace(ws) => format!("log analytics {ws}"),
        Target::Database(db) => format!("{cluster} database {db}"),
    }
}

/// Raw rows of one window as canonical frames, halving on partial results.
async fn fetch_window(
    client: Arc<QueryClient>,
    target: Target,
    window: Window,
    fw: Option<FirewallId>,
    tables: Arc<Tables>,
    cluster: Arc<str>,
) -> anyhow::Result<(Vec<DataFrame>, u64)> {
    let q = kql::raw_window(window, fw.as_ref(), &tables)?;
    match client.query(&target, "raw rows", &q, window).await? {
        Outcome::Complete(body) => {
            let (frame, stats) = crate::input::tables::canonical_from_query_response(
                &body,
                &origin_of(&target, &cluster),
            )?;
            Ok((vec![frame], stats.skipped))
        }
        Outcome::NoContent => Ok((Vec::new(), 0)),
        Outcome::Partial { message, .. } => {
            let len = window.to_us - window.from_us;
            if len < 2 * MIN_SPLIT_US {
                anyhow::bail!(
                    "{} returned incomplete rows for {} even for one second ({message})",
                    client.names().name,
                    window.timespan()
                );
            }
            crate::info!(
                "{target}: partial result for {} ({message}); halving",
                window.timespan()
            );
            let mid = window.from_us + len / 2;
            let a = Box::pin(fetch_window(
                client.clone(),
                target.clone(),
                Window {
                    from_us: window.from_us,
                    to_us: mid,
                },
                fw.clone(),
                tables.clone(),
                cluster.clone(),
            ));
            let b = Box::pin(fetch_window(
                client,
                target,
                Window {
                    from_us: mid,
                    to_us: window.to_us,
                },
                fw,
                tables,
                cluster,
            ));
            let (ra, rb) = tokio::join!(a, b);
            let (mut fa, sa) = ra?;
            let (fb, sb) = rb?;
            fa.extend(fb);
            Ok((fa, sa + sb))
        }
    }
}

fn write_parquet(path: &Path, frames: Vec<DataFrame>) -> anyhow::Result<u64> {
    let schema = crate::event::schema();
    let tmp = path.with_extension("parquet.tmp");
    let file =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut w = ParquetWriter::new(file).batched(&schema)?;
    let mut rows = 0u64;
    for df in frames.iter().filter(|d| d.height() > 0) {
        rows += df.height() as u64;
        w.write_batch(df)?;
    }
    w.finish()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(rows)
}

fn read_parquet(path: &Path) -> anyhow::Result<DataFrame> {
    let f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(ParquetReader::new(f).finish()?)
}

/// What a finished fetch wrote.
pub struct FetchSummary {
    pub rows: u64,
    pub expected: u64,
    pub windows: usize,
}

/// Fetch the raw rows of every workspace (or database) over `window` into `out` (see the module docs), at most
/// `target` expected rows per request.
pub async fn fetch(
    client: Arc<QueryClient>,
    cfg: &LiveConfig,
    window: Window,
    out: &Path,
    target: u64,
) -> anyhow::Result<FetchSummary> {
    let parts = parts_dir(out);
    let cluster = (cfg.service == super::client::Service::Kusto).then(|| cfg.endpoint.clone());
    let by_key: std::collections::HashMap<String, Target> = cfg
        .targets
        .iter()
        .map(|t| (t.key().to_string(), t.clone()))
        .collect();
    let wanted = Manifest {
        workspaces: cfg.targets.iter().map(|t| t.key().to_string()).collect(),
        cluster: cluster.clone(),
        firewall: cfg.firewall.as_ref().map(|f| f.to_string()),
        from_us: window.from_us,
        to_us: window.to_us,
        windows: Vec::new(),
    };
    let manifest_path = parts.join("manifest.json");
    let existing: Option<Manifest> = std::fs::read(&manifest_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let manifest = match existing {
        Some(m)
            if m.workspaces == wanted.workspaces
                && m.cluster == wanted.cluster
                && m.firewall == wanted.firewall =>
        {
            crate::note!(
                "resuming the interrupted fetch of {} into {} (delete {} to start over)",
                Window {
                    from_us: m.from_us,
                    to_us: m.to_us
                }
                .timespan(),
                out.display(),
                parts.display()
            );
            m
        }
        _ => {
            if parts.exists() {
                std::fs::remove_dir_all(&parts)
                    .with_context(|| format!("removing {}", parts.display()))?;
            }
            std::fs::create_dir_all(&parts)
                .with_context(|| format!("creating {}", parts.display()))?;
            let mut m = wanted;
            for t in &cfg.targets {
                let hours = hourly(&client, t, window, cfg.firewall.as_ref(), &cfg.tables).await?;
                for (w, n) in plan_windows(window, &hours, target) {
                    m.windows.push((t.key().to_string(), w.from_us, w.to_us, n));
                }
            }
            let tmp = parts.join("manifest.json.tmp");
            std::fs::write(&tmp, serde_json::to_vec_pretty(&m)?)?;
            std::fs::rename(&tmp, &manifest_path)?;
            m
        }
    };
    let expected: u64 = manifest.windows.iter().map(|w| w.3).sum();
    let target_of = |key: &str| {
        by_key.get(key).cloned().ok_or_else(|| {
            anyhow::anyhow!(
                "{}: names {key:?}, not a target of this run",
                parts.display()
            )
        })
    };
    let mut todo = Vec::new();
    for (key, f, t, n) in &manifest.windows {
        let tg = target_of(key)?;
        if !part_path(&parts, &tg, *f, *t).exists() {
            todo.push((tg, *f, *t, *n));
        }
    }
    crate::info!(
        "{} window(s) planned, {} to fetch, {} rows expected",
        manifest.windows.len(),
        todo.len(),
        expected
    );
    let bar = progress(expected, manifest.windows.len() - todo.len(), &manifest);
    // After a failure, windows already being fetched finish and keep their parts (for a resume); windows not
    // started yet are not started.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tables = Arc::new(cfg.tables.clone());
    let cluster_name: Arc<str> = Arc::from(cluster.unwrap_or_default());
    let mut set = tokio::task::JoinSet::new();
    for (tg, f, t, n) in todo {
        let (client, parts, fw, stop, tables, cluster_name) = (
            client.clone(),
            parts.clone(),
            cfg.firewall.clone(),
            stop.clone(),
            tables.clone(),
            cluster_name.clone(),
        );
        set.spawn(async move {
            if stop.load(std::sync::atomic::Ordering::SeqCst) {
                return anyhow::Ok(None);
            }
            let got = fetch_window(
                client,
                tg.clone(),
                Window {
                    from_us: f,
                    to_us: t,
                },
                fw,
                tables,
                cluster_name,
            )
            .await;
            let (frames, skipped) =
                got.inspect_err(|_| stop.store(true, std::sync::atomic::Ordering::SeqCst))?;
            let path = part_path(&parts, &tg, f, t);
            let rows = tokio::task::spawn_blocking(move || write_parquet(&path, frames)).await??;
            anyhow::Ok(Some((rows, n, skipped)))
        });
    }
    let mut skipped = 0;
    let mut first_err: Option<anyhow::Error> = None;
    while let Some(r) = set.join_next().await {
        match r.map_err(anyhow::Error::from).and_then(|x| x) {
            Ok(Some((_, n, s))) => {
                skipped += s;
                if let Some(b) = &bar {
                    b.inc(n);
                }
            }
            Ok(None) => {}
            Err(e) => {
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
                first_err.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_err {
        if let Some(b) = &bar {
            b.abandon();
        }
        return Err(e.context(format!(
            "fetch interrupted; finished windows are kept in {} — run the same command again to resume",
            parts.display()
        )));
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if skipped > 0 {
        crate::note!("{skipped} row(s) could not be read and were skipped");
    }
    // Combine in window order into a temporary file beside the output, then rename into place.
    let mut ordered = manifest.windows.clone();
    ordered.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    let mut file = crate::output::AtomicFile::create(out)?;
    let schema = crate::event::schema();
    let mut w = ParquetWriter::new(&mut file).batched(&schema)?;
    let mut rows = 0u64;
    for (key, f, t, _) in &ordered {
        let df = read_parquet(&part_path(&parts, &target_of(key)?, *f, *t))?;
        if df.height() > 0 {
            rows += df.height() as u64;
            w.write_batch(&df)?;
        }
    }
    w.finish()?;
    drop(w);
    file.commit()?;
    std::fs::remove_dir_all(&parts).ok();
    Ok(FetchSummary {
        rows,
        expected,
        windows: manifest.windows.len(),
    })
}

fn progress(total: u64, done_windows: usize, m: &Manifest) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} fetching [{bar:30}] {pos}/{len} rows ({eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let done: u64 = m.windows.iter().take(done_windows).map(|w| w.3).sum();
    bar.set_position(done.min(total));
    Some(bar)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiles(w: Window, plan: &[(Window, u64)]) {
        assert_eq!(plan.first().unwrap().0.from_us, w.from_us);
        assert_eq!(plan.last().unwrap().0.to_us, w.to_us);
        for p in plan.windows(2) {
            assert_eq!(p[0].0.to_us, p[1].0.from_us, "{plan:?}");
        }
    }

    #[test]
    fn windows_tile_the_range_and_respect_the_target() {
        let w = Window {
            from_us: 0,
            to_us: 6 * HOUR_US,
        };
        let hours = vec![
            (0, 10),
            (HOUR_US, 10),
            (2 * HOUR_US, 95),
            (3 * HOUR_US, 0),
            (4 * HOUR_US, 5),
            (5 * HOUR_US, 3),
        ];
        let plan = plan_windows(w, &hours, 30);
        tiles(w, &plan);
        assert_eq!(
            plan.iter().map(|p| p.1).sum::<u64>(),
            123,
            "counts add up exactly: {plan:?}"
        );
        assert!(plan.iter().all(|p| p.1 <= 30), "{plan:?}");
        // 95 rows in one hour → 4 windows of ~24.
        assert_eq!(
            plan.iter()
                .filter(|p| p.0.from_us >= 2 * HOUR_US && p.0.to_us <= 3 * HOUR_US)
                .count(),
            4
        );
        // Empty range → one window.
        assert_eq!(plan_windows(w, &[], 30).len(), 1);
        // A window starting mid-hour clamps the first hour.
        let w2 = Window {
            from_us: HOUR_US / 2,
            to_us: 2 * HOUR_US,
        };
        let p2 = plan_windows(w2, &[(0, 50), (HOUR_US, 5)], 20);
        tiles(w2, &p2);
        assert_eq!(p2.iter().map(|p| p.1).sum::<u64>(), 55);
    }

    #[test]
    fn parts_live_beside_the_output() {
        assert_eq!(
            parts_dir(Path::new("/x/logs.parquet")),
            PathBuf::from("/x/.logs.parquet.fwlog-parts")
        );
    }
}
